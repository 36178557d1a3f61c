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
from ui.plots import AXIS, BLUE, FONT, GREEN, ORANGE, SKY, VERMILLION, standard_normal_pdf

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
    """A log axis with one label per decade when the values span a decade or more, else labels at 1, 2 and 5 times
    a power of ten (more, 1–9, if fewer than two of those fall in the span), each written in full: Plotly's own
    labels of a short span are bare digits ("5", "2" for 0.5 and 0.2) that read as nonsense."""
    positive = [v for v in values if v > 0 and np.isfinite(v)]
    if not positive:
        return {"type": "log"}
    low, high = min(positive), max(positive)
    if np.log10(high / low) >= 1:
        return {"type": "log", "dtick": 1, "exponentformat": "power"}
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9), tuple(np.arange(10, 100) / 10)):
        ticks = [float(f"{m * 10.0 ** k:.3g}") for k in decades for m in mantissas if low <= m * 10.0 ** k <= high]
        if len(ticks) >= 2:
            break
    return {"type": "log", "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]}


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



# ---- the continuous view: panels of the plane side by side, loss curves, fit against evaluations ----------

PANEL_GAP = 0.07  # between side-by-side panels, as a fraction of the figure's width: one "4" clear of the next "−4"


def _columns(count: int, left: float = 0.0, right: float = 1.0) -> list[list[float]]:
    """`count` equal x domains side by side in [left, right], PANEL_GAP apart."""
    width = (right - left - PANEL_GAP * (count - 1)) / count
    return [[round(left + i * (width + PANEL_GAP), 4), round(left + i * (width + PANEL_GAP) + width, 4)]
            for i in range(count)]


def _refs(index: int) -> tuple[str, str]:
    """A panel's trace axes, 'x'/'y' for the first, 'x2'/'y2' … after."""
    return ("x", "y") if index == 1 else (f"x{index}", f"y{index}")


def _panel_title(index: int, text: str) -> dict:
    """A title just above panel `index`, wherever its equal-scale axes put it."""
    x, y = _refs(index)
    return {"text": text, "showarrow": False, "xref": f"{x} domain", "yref": f"{y} domain", "x": 0.5, "y": 1.01,
            "xanchor": "center", "yanchor": "bottom", "font": {"size": 14}}


def _plane_axes(index: int, x_domain: list[float], y_domain: list[float]) -> dict:
    """Layout of panel `index` as a piece of the plane: [−LIMIT, LIMIT] on both axes at equal scales."""
    x, y = _refs(index)
    axis = {**AXIS, "range": [-LIMIT, LIMIT], "zeroline": False, "constrain": "domain", "dtick": 2}
    return {_axis_key(x): {**axis, "domain": x_domain, "anchor": y},
            _axis_key(y): {**axis, "domain": y_domain, "anchor": x, "scaleanchor": x, "constraintoward": "top"}}


def _axis_key(ref: str) -> str:
    return ref[0] + "axis" + ref[1:]


def _on(index: int, trace: dict) -> dict:
    x, y = _refs(index)
    return {**trace, "xaxis": x, "yaxis": y}


def _circles(index: int, legend: bool) -> dict:
    angle = np.linspace(0, 2 * np.pi, 91)
    cx, cy = _joined([np.stack([r * np.cos(angle), r * np.sin(angle)], 1) for r in CONTOUR_RADII])
    return _on(index, {"type": "scatter", "mode": "lines", "x": cx, "y": cy, "name": _("N(0, I) at 1, 2, 3 σ"),
                       "legendgroup": "normal", "showlegend": legend, "hoverinfo": "skip",
                       "line": {"color": VERMILLION, "width": 1.5, "dash": "dash"}})


def _cloud(index: int, points: np.ndarray, name: str, colour: str, legend: bool, size: float = 3.0,
           opacity: float = 0.5) -> dict:
    return _on(index, {"type": "scatter", "mode": "markers", "x": _round(points[:, 0]), "y": _round(points[:, 1]),
                       "name": name, "legendgroup": name, "showlegend": legend, "hoverinfo": "skip",
                       "marker": {"size": size, "color": colour, "opacity": opacity}})


def _figure_layout(title: str, height: int, bottom: int = 70) -> dict:
    """A figure of the continuous view, with a legend below the plot. A title of two lines (split at "<br>") shows
    its second as Plotly's subtitle, which Plotly places below the first (a "<br>" in a title overflows the top)."""
    heading, _br, subtitle = title.partition("<br>")
    # Plotly sizes a subtitle at 0.7 of its title (which projector mode scales): 18 makes it 13 here, 18 there
    heading_font = {"size": 18 if subtitle else 16}
    # The title starts below the row of Plotly's buttons (shown on hover), whatever the top margin in either mode.
    return {"title": {"text": heading, "x": 0.01, "font": heading_font, "subtitle": {"text": subtitle},
                      "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 30}},
            "height": height, "font": FONT, "margin": {"l": 40, "r": 10, "t": 116 if subtitle else 80, "b": bottom},
            "plot_bgcolor": "white", "paper_bgcolor": "white", "showlegend": True, "annotations": [],
            # constant: the legend's markers readable beside clouds of 3-pixel points
            "legend": {"orientation": "h", "x": 0.0, "y": -0.08, "yanchor": "top", "itemsizing": "constant"}}


def sde_forward_figure(panels: list[tuple[int, np.ndarray, np.ndarray]], title: str) -> dict:
    """The chain q(x_t | x_{t−1}) against Euler–Maruyama of the forward SDE, from the same x_0: one panel per
    step t, (t, chain points (n, 2), SDE points (n, 2)), both clouds over N(0, I)'s circles."""
    layout = _figure_layout(title, 430)
    data = []
    for index, ((t, chain, sde), x_domain) in enumerate(zip(panels, _columns(len(panels))), start=1):
        first = index == 1
        layout.update(_plane_axes(index, x_domain, [0.0, 1.0]))
        layout["annotations"].append(_panel_title(index, f"t = {t:,}"))
        data += [_cloud(index, chain, _("chain q(x<sub>t</sub> | x<sub>t−1</sub>)"), BLUE, first),
                 _cloud(index, sde, _("Euler–Maruyama of the SDE"), ORANGE, first),
                 _circles(index, first)]
    return {"data": data, "layout": layout}


@dataclass
class PathsPanel:
    """One sampler in a paths figure: its title, where its points landed (n, 2), a few of their paths (each
    (k, 2), from x_T to x_0)."""

    title: str
    points: np.ndarray
    paths: list[np.ndarray]


def _paths_traces(index: int, panel: PathsPanel, data: np.ndarray, legend: bool) -> list[dict]:
    """Data (grey), where the sampler's points landed (orange), a few paths from their x_T (black dots)."""
    path_x, path_y = _joined(panel.paths)
    starts = np.array([path[0] for path in panel.paths]) if panel.paths else np.zeros((0, 2))
    return [_cloud(index, data, _("data"), "#bbbbbb", legend, 3.0, 0.6),
            _cloud(index, panel.points, _("generated points"), ORANGE, legend, 3.0, 0.55),
            _on(index, {"type": "scatter", "mode": "lines", "x": path_x, "y": path_y, "legendgroup": "paths",
                        "name": _("paths from the same x<sub>T</sub>"), "showlegend": legend, "hoverinfo": "skip",
                        "line": {"color": "#222", "width": 1}, "opacity": 0.75}),
            _on(index, {"type": "scatter", "mode": "markers", "x": _round(starts[:, 0]), "y": _round(starts[:, 1]),
                        "name": "x<sub>T</sub>", "legendgroup": "starts", "showlegend": legend, "hoverinfo": "skip",
                        "marker": {"size": 7, "color": "#222", "symbol": "circle-open", "line": {"width": 2}}})]


def paths_figure(panels: list[PathsPanel], data: np.ndarray, title: str) -> dict:
    """Samplers side by side from the same x_T, over the data: where their points land and a few paths."""
    layout = _figure_layout(title, 430)
    traces = []
    for index, (panel, x_domain) in enumerate(zip(panels, _columns(len(panels))), start=1):
        layout.update(_plane_axes(index, x_domain, [0.0, 1.0]))
        layout["annotations"].append(_panel_title(index, panel.title))
        traces += _paths_traces(index, panel, data, index == 1)
    return {"data": traces, "layout": layout}


@dataclass
class LossPanel:
    """One network's training loss per step, titled with its objective."""

    title: str
    steps: list[int]
    losses: list[float]
    colour: str


def _loss_traces(index: int, panel: LossPanel) -> list[dict]:
    smooth = smoothed(panel.losses, min(200.0, max(5.0, len(panel.losses) / 50)))
    every = max(1, len(panel.steps) // 800)
    return [_on(index, {"type": "scatter", "mode": "lines", "x": panel.steps[::every],
                        "y": _round(panel.losses[::every], 5), "showlegend": False, "hoverinfo": "skip",
                        "line": {"color": "#c6dbef", "width": 1}}),
            _on(index, {"type": "scatter", "mode": "lines", "x": panel.steps[::every],
                        "y": _round(smooth[::every], 5), "name": panel.title, "showlegend": False,
                        "line": {"color": panel.colour, "width": 3}})]


def comparison_figure(losses: list[LossPanel], paths: list[PathsPanel], data: np.ndarray, title: str,
                      empty: str) -> dict:
    """Two networks side by side: their loss curves above (each on its own log axis, since the objectives'
    scales differ) and their paths from the same x_T below. A panel with no steps or no points says `empty`."""
    layout = _figure_layout(title, 660)
    traces = []
    for column, (loss, x_domain) in enumerate(zip(losses, _columns(2)), start=1):
        x, y = _refs(column)
        # the training steps need no title: their room goes to the paths' panels below
        layout[_axis_key(x)] = {**AXIS, "domain": x_domain, "anchor": y}
        layout[_axis_key(y)] = {**AXIS, "domain": [0.74, 1.0], "anchor": x, **_log_axis(loss.losses or [1.0])}
        layout["annotations"].append(_panel_title(column, loss.title))
        traces += _loss_traces(column, loss)
        if not loss.steps:
            layout["annotations"].append(_empty_note(column, empty))
    for column, (panel, x_domain) in enumerate(zip(paths, _columns(2)), start=3):
        layout.update(_plane_axes(column, x_domain, [0.0, 0.48]))
        layout["annotations"].append(_panel_title(column, panel.title))
        traces += _paths_traces(column, panel, data, column == 3)
        if not len(panel.points):
            layout["annotations"].append(_empty_note(column, empty))
    return {"data": traces, "layout": layout}


def _empty_note(index: int, text: str) -> dict:
    x, y = _refs(index)
    return {"text": text, "showarrow": False, "xref": f"{x} domain", "yref": f"{y} domain", "x": 0.5, "y": 0.5,
            "font": {"size": 13, "color": "#555"}}


# The fit-against-evaluations lines: colour by network and sampler family, dash by solver.
FIT_STYLES = {"ddpm": (BLUE, "solid", "circle"), "ddim": (SKY, "solid", "square"),
              "euler": (VERMILLION, "solid", "diamond"), "heun": (VERMILLION, "dash", "diamond-open"),
              "flow_euler": (GREEN, "solid", "triangle-up"), "flow_heun": (GREEN, "dash", "triangle-up-open")}


def sampler_names() -> dict[str, str]:
    """What the lab calls each sampler of ddpm_core.lab2d.LAB_SAMPLERS, in the current language."""
    return {"ddpm": _("DDPM (Algorithm 2)"), "ddim": "DDIM η = 0", "sde": _("reverse SDE"),
            "euler": _("ε-network: ODE, Euler"), "heun": _("ε-network: ODE, Heun"),
            "flow_euler": _("flow matching: ODE, Euler"), "flow_heun": _("flow matching: ODE, Heun")}


def fit_figure(lines: dict[str, list[tuple[int, float, int]]], ticks: list[int], title: str) -> dict:
    """Fit against network evaluations, log–log: per sampler, (NFE, sliced Wasserstein / noise floor, steps)
    points joined by a line; the noise floor (1) and twice it marked. `ticks`: the NFE budgets."""
    names = sampler_names()
    data = []
    for sampler, points in lines.items():
        colour, dash, symbol = FIT_STYLES[sampler]
        data.append({"type": "scatter", "mode": "lines+markers", "name": names[sampler],
                     "x": [nfe for nfe, _ratio, _steps in points], "y": [round(r, 4) for _n, r, _s in points],
                     "customdata": [steps for _n, _r, steps in points],
                     "hovertemplate": names[sampler] + "<br>NFE %{x} · " + _("steps") + " %{customdata}<br>"
                     + "%{y:.2f}×<extra></extra>",
                     "line": {"color": colour, "dash": dash, "width": 2.5},
                     "marker": {"symbol": symbol, "size": 9, "color": colour, "line": {"width": 2}}})
    ratios = [r for points in lines.values() for _n, r, _s in points] or [1.0, 2.0]
    top, bottom = max(max(ratios), 2.5), min(min(ratios) / 1.15, 0.8)  # a lucky sample can land below the floor
    layout = _figure_layout(title, 560, 70)  # tall enough that the floor's and 2×'s labels clear each other
    layout["margin"].update(l=64, r=10)
    layout["xaxis"] = {**AXIS, "type": "log", "tickvals": ticks, "ticktext": [f"{t:,}" for t in ticks],
                       "title": {"text": _("network evaluations (NFE)")}, "automargin": True,
                       "range": [np.log10(min(ticks) / 1.5), np.log10(max(ticks) * 1.5)]}
    layout["yaxis"] = {**AXIS, "type": "log", "title": {"text": _("distance ÷ noise floor")}, "automargin": True,
                       "range": [np.log10(bottom), np.log10(top * 1.2)], "tickvals": _ratio_ticks(bottom, top),
                       "ticktext": [f"{t:g}×" for t in _ratio_ticks(bottom, top)]}
    # Six samplers' names beside the plot, not below it: a projector's larger type needs no more height for them.
    layout["legend"] = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"}
    layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": level, "y1": level,
                         "line": {"color": colour, "width": 1.5, "dash": "dot"}}
                        for level, colour in ((1, "#222"), (2, "#888"))]
    levels = ((1, _("noise floor: data against fresh data")), (2, _("2× the floor")))
    layout["annotations"] = [{"text": text, "xref": "paper", "x": 1, "xanchor": "right", "yref": "y",
                              "y": np.log10(level), "yanchor": "bottom", "showarrow": False,
                              "font": {"size": 12, "color": "#333"}} for level, text in levels]
    return {"data": data, "layout": layout}


def _ratio_ticks(bottom: float, top: float) -> list[float]:
    return [t for t in (0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if bottom <= t <= top * 1.2]
