"""Plotly figures of the 2-D lab: an animated point cloud with marginals, N(0, I) contours, paths.

Gradio's plot component passes plotly.js only `data` and `layout`, so an animation carries its
frames in `layout.meta.frames`; `REGISTER_FRAMES_JS`, run once on page load, adds them to each plot
with `Plotly.addFrames`. The slider steps and the Play button then refer to frames by name, so the
slider follows playback and every frame crosses the network once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ui.i18n import _
from ui.plots import AXIS, BLUE, FONT, GREEN, ORANGE, VERMILLION, standard_normal_pdf

LIMIT = 4.0          # the view is [−4, 4]²: unit-scale data and N(0, I) fit inside
MARGINAL_BINS = 48
CONTOUR_RADII = (1.0, 2.0, 3.0)


@dataclass
class Frame:
    """One animation frame: the cloud at paper step t, and the paths drawn up to it."""

    t: int
    points: np.ndarray               # (n, 2)
    paths: list[np.ndarray]          # each (k, 2), the particle's positions so far
    field: np.ndarray | None = None  # (m, 4): grid points x, y and the score there, s_x, s_y; or None


def _round(a: np.ndarray, places: int = 2) -> list:
    """Coordinates to 2 decimals: 0.01 is under a pixel on the ±4 view, and halves the page's JSON."""
    return np.round(np.asarray(a, dtype=np.float64), places).tolist()


def _marginal(values: np.ndarray) -> tuple[list, list]:
    edges = np.linspace(-LIMIT, LIMIT, MARGINAL_BINS + 1)
    counts, _ = np.histogram(np.clip(values, -LIMIT, LIMIT), bins=edges)
    density = counts / max(values.size, 1) / (edges[1] - edges[0])
    return _round((edges[:-1] + edges[1:]) / 2), _round(density, 4)


def _joined(segments: list[np.ndarray]) -> tuple[list, list]:
    """Several polylines as one trace: coordinates separated by None."""
    xs, ys = [], []
    for segment in segments:
        xs += _round(segment[:, 0]) + [None]
        ys += _round(segment[:, 1]) + [None]
    return xs, ys


SCORE_RANGE = (-1.0, 3.0)  # log10 |s| on the arrows' fixed colour scale: 0.1 (far from data, late t) to 1,000


def _score_arrows(field: np.ndarray | None) -> dict:
    """The score field as arrow markers: every arrow one length, pointing along s, coloured by log10 |s| on one
    scale for every frame, so its direction and how strong it is (weak at t = T, steep near the data at small
    t) both show as t moves."""
    if field is None or len(field) == 0:
        return {"x": [], "y": [], "marker": {}}
    vectors = field[:, 2:]
    magnitude = np.linalg.norm(vectors, axis=1)
    angle = np.degrees(np.arctan2(vectors[:, 0], vectors[:, 1]))  # clockwise from "up", Plotly's convention
    low, high = SCORE_RANGE
    return {"x": _round(field[:, 0]), "y": _round(field[:, 1]),
            "marker": {"symbol": "arrow-wide", "size": 14, "angle": _round(angle, 0),
                       "color": _round(np.log10(np.maximum(magnitude, 1e-9)), 2), "colorscale": "Viridis",
                       "cmin": low, "cmax": high, "line": {"width": 0},
                       "colorbar": {"title": {"text": "log₁₀ |s|"}, "x": 1.0, "len": 0.45, "y": 0.35,
                                    "thickness": 12}}}


def _frame_traces(frame: Frame, colour: str) -> list[dict]:
    """The traces that move: cloud, top and right marginals, paths, score arrows (indices 0–4)."""
    top_x, top_y = _marginal(frame.points[:, 0])
    right_y, right_x = _marginal(frame.points[:, 1])
    path_x, path_y = _joined(frame.paths)
    arrows = _score_arrows(frame.field)
    return [
        {"type": "scatter", "mode": "markers", "x": _round(frame.points[:, 0]), "y": _round(frame.points[:, 1]),
         "marker": {"size": 3.5, "color": colour, "opacity": 0.55}, "name": _("points"), "hoverinfo": "skip"},
        {"type": "bar", "x": top_x, "y": top_y, "xaxis": "x", "yaxis": "y2", "marker": {"color": colour},
         "name": _("marginal of x₁"), "showlegend": False, "hoverinfo": "skip"},
        {"type": "bar", "x": right_x, "y": right_y, "xaxis": "x2", "yaxis": "y", "orientation": "h",
         "marker": {"color": colour}, "name": _("marginal of x₂"), "showlegend": False, "hoverinfo": "skip"},
        {"type": "scatter", "mode": "lines", "x": path_x, "y": path_y, "name": _("a few particles' paths"),
         "line": {"color": "#222", "width": 1}, "opacity": 0.75, "hoverinfo": "skip"},
        {"type": "scatter", "mode": "markers", **arrows, "name": _("score −ε̂/√(1−ᾱ_t)"), "hoverinfo": "skip",
         "visible": bool(arrows["x"])},
    ]


def _static_traces() -> list[dict]:
    """N(0, I): contour circles at radius 1, 2, 3 and the N(0, 1) density on both marginals."""
    angle = np.linspace(0, 2 * np.pi, 121)
    circles = [np.stack([r * np.cos(angle), r * np.sin(angle)], 1) for r in CONTOUR_RADII]
    cx, cy = _joined(circles)
    grid = np.linspace(-LIMIT, LIMIT, 121)
    pdf = _round(standard_normal_pdf(grid), 4)
    style = {"color": VERMILLION, "width": 2, "dash": "dash"}
    return [
        {"type": "scatter", "mode": "lines", "x": cx, "y": cy, "name": _("N(0, I) at 1, 2, 3 σ"), "line": style,
         "hoverinfo": "skip"},
        {"type": "scatter", "mode": "lines", "x": _round(grid), "y": pdf, "xaxis": "x", "yaxis": "y2",
         "line": style, "showlegend": False, "hoverinfo": "skip"},
        {"type": "scatter", "mode": "lines", "x": pdf, "y": _round(grid), "xaxis": "x2", "yaxis": "y",
         "line": style, "showlegend": False, "hoverinfo": "skip"},
    ]


REGISTER_FRAMES_JS = """
() => {
  const register = (gd) => {
    const frames = gd.layout && gd.layout.meta && gd.layout.meta.frames;
    if (!frames || gd._registeredFrames === frames || !window.Plotly) return;
    gd._registeredFrames = frames;
    // A redrawn plot (another shape) may have no frames yet, or be in the middle of replacing its figure:
    // deleteFrames on nothing throws inside Plotly, so only delete what is there, and never leave a promise
    // rejection unhandled (the page would log an error).
    const old = (gd._transitionData && gd._transitionData._frames) || [];
    let cleared = null;
    try { cleared = old.length ? window.Plotly.deleteFrames(gd, old.map((_, i) => i)) : null; } catch (e) { cleared = null; }
    Promise.resolve(cleared).then(() => window.Plotly.addFrames(gd, frames)).catch(() => { gd._registeredFrames = null; });
  };
  const scan = () => document.querySelectorAll('.js-plotly-plot').forEach((gd) => {
    register(gd);
    if (!gd._framesHooked && gd.on) { gd._framesHooked = true; gd.on('plotly_afterplot', () => register(gd)); }
  });
  new MutationObserver(scan).observe(document.body, {childList: true, subtree: true});
  scan();
}
"""


PLAY_S = 12.0  # one playback of the whole animation at normal speed: slow enough to follow in class
FAST = 4  # the fast button's speed-up


def _animate_args(names: list[str] | None, duration: int) -> list:
    return [names, {"mode": "immediate", "fromcurrent": names is None, "transition": {"duration": 0},
                    "frame": {"duration": duration, "redraw": True}}]


def cloud_animation(frames: list[Frame], title: str, colour: str = BLUE, height: int = 700, opens_on: int = -1,
                    paths_shown: bool = True) -> dict:
    """An animated figure of `frames` with a t slider, Play (about PLAY_S s), a FAST× button and Pause.

    It opens on frame `opens_on` (the forward process on t = 0, the reverse on its result). The paths are a
    legend entry a click shows or hides; `paths_shown` is how they start."""
    moving = [{"name": str(f.t), "data": _frame_traces(f, colour), "traces": [0, 1, 2, 3, 4]} for f in frames]
    shown = frames[opens_on]
    per_frame = int(1000 * PLAY_S / max(len(frames), 1))
    steps = [{"method": "animate", "label": str(f.t), "args": _animate_args([str(f.t)], 0)} for f in frames]
    axis = {**AXIS, "range": [-LIMIT, LIMIT], "zeroline": False}
    layout = {
        "title": {"text": title, "x": 0.01, "font": {"size": 16}}, "height": height, "font": FONT,
        "margin": {"l": 40, "r": 10, "t": 60, "b": 140}, "plot_bgcolor": "white", "paper_bgcolor": "white",
        "showlegend": True, "legend": {"x": 0.0, "y": -0.34, "yanchor": "top", "orientation": "h"}, "bargap": 0,
        # The plane's coordinates need no axis titles: their room goes to the cloud and the controls below it.
        "xaxis": {**axis, "domain": [0, 0.8], "anchor": "y"},
        # Equal scales keep N(0, I)'s circles round; plotly widens the x range to fit the panel.
        "yaxis": {**axis, "domain": [0, 0.8], "anchor": "x", "scaleanchor": "x"},
        "xaxis2": {**AXIS, "domain": [0.83, 1], "anchor": "y", "showticklabels": False, "rangemode": "tozero"},
        "yaxis2": {**AXIS, "domain": [0.83, 1], "anchor": "x", "showticklabels": False, "rangemode": "tozero"},
        "meta": {"frames": moving},
        "sliders": [{"active": frames.index(shown), "steps": steps, "x": 0.08, "len": 0.92, "y": -0.06,
                     "currentvalue": {"prefix": "t = ", "font": {"size": 16}, "xanchor": "right"}, "pad": {"t": 40}}],
        "updatemenus": [{"type": "buttons", "direction": "left", "x": 0.0, "y": -0.06, "xanchor": "left",
                         "yanchor": "top", "pad": {"t": 40, "r": 10}, "showactive": False, "buttons": [
                             {"label": _("▶ Play"), "method": "animate", "args": _animate_args(None, per_frame)},
                             {"label": f"▶▶ ×{FAST}", "method": "animate",
                              "args": _animate_args(None, per_frame // FAST)},
                             {"label": _("❚❚ Pause"), "method": "animate", "args": [[None], {
                                 "mode": "immediate", "frame": {"duration": 0, "redraw": False},
                                 "transition": {"duration": 0}}]}]}],
    }
    data = [dict(trace) for trace in moving[frames.index(shown)]["data"]]
    data[3]["visible"] = True if paths_shown else "legendonly"  # frames leave it as the legend sets it
    return {"data": data + _static_traces(), "layout": layout}


def smoothed(values: list[float], window: float) -> list[float]:
    """The exponential moving average of `values` over about `window` points, debiased as TensorBoard's: dividing
    by 1 − w^(i+1) removes the pull towards the zero it starts from."""
    weight = 1 - 1 / max(window, 1.0)
    out, average = [], 0.0
    for i, value in enumerate(values):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight ** (i + 1)) if weight > 0 else value)
    return out


def _log_axis(values: list[float]) -> dict:
    """A log axis with one label per decade when the values span a decade or more, else 2–5 labels per decade
    (never the crowded minor labels of a short span)."""
    positive = [v for v in values if v > 0]
    span = np.log10(max(positive) / min(positive)) if positive else 0.0
    return {"type": "log", "dtick": 1 if span >= 1 else "D2", "exponentformat": "power"}


def loss_figure(steps: list[int], losses: list[float]) -> dict:
    """Training loss per step, raw and smoothed over about 2 % of the run (at least 5 steps, at most 200): a
    short run's smoothed curve follows its falling loss instead of lagging far above it."""
    smooth = smoothed(losses, min(200.0, max(5.0, len(losses) / 50)))
    every = max(1, len(steps) // 1500)  # keep the page light on long runs
    return {
        "data": [{"type": "scatter", "mode": "lines", "x": steps[::every], "y": _round(losses[::every], 5),
                  "name": _("loss"), "line": {"color": "#9ecae1", "width": 1}},
                 {"type": "scatter", "mode": "lines", "x": steps[::every], "y": _round(smooth[::every], 5),
                  "name": _("smoothed"), "line": {"color": ORANGE, "width": 3}}],
        "layout": {"height": 300, "font": FONT, "margin": {"l": 54, "r": 10, "t": 40, "b": 44},
                   "plot_bgcolor": "white", "paper_bgcolor": "white", "legend": {"x": 0.7, "y": 0.98},
                   "title": {"text": "L<sub>simple</sub> = ‖ε − ε<sub>θ</sub>(x<sub>t</sub>, t)‖²", "x": 0.02},
                   "xaxis": {**AXIS, "title": {"text": _("step")}},
                   "yaxis": {**AXIS, "title": {"text": _("loss")}, **_log_axis(losses)}},
    }


def noise_fraction_steps(sqrt_one_minus_abar: np.ndarray, count: int) -> list[int]:
    """Paper steps 0..T whose noise fraction √(1−ᾱ_t) is evenly spaced: the animation looks even."""
    T = len(sqrt_one_minus_abar)
    levels = np.linspace(0, float(sqrt_one_minus_abar[-1]), count)
    steps = np.searchsorted(sqrt_one_minus_abar, levels) + 1  # index i ↔ step i + 1
    steps[0] = 0
    return sorted(set(int(min(s, T)) for s in steps) | {T})

