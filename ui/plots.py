"""Plotly figures for the app: schedule curves tied to t, and histograms against N(0, 1).

Figures are built as plain plotly.js JSON (dicts) rather than `plotly.graph_objects`: the objects
validate every property and cost 40–120 ms a figure, too slow for a slider. `as_plot` hands a dict to
`gr.Plot`. The schedule curves, which change only with the schedule, are built once (`schedule_curves`)
and each t adds only its markers (`schedule_figure`).

Every word in a figure goes through `_()`: the builders run inside a callback, which sets the request's
language. Nothing here is cached; a caller that caches a figure must key it by `i18n.current()` too.
"""

from __future__ import annotations

import json
import math

import numpy as np
from gradio.components.plot import PlotData

from ddpm_core.diffusion import GaussianDiffusion, index_of
from ui.i18n import _

# Okabe–Ito: distinguishable with every common colour-vision deficiency.
BLUE, ORANGE, GREEN, VERMILLION, SKY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9"
SCHEDULE_STYLES = ((BLUE, "solid"), (ORANGE, "dash"))
MAX_CURVE_POINTS = 400
HIST_RANGE = 4.0
HIST_BINS = 80
FONT = {"family": "Source Sans Pro, Arial, sans-serif", "size": 14, "color": "#111"}
AXIS = {"gridcolor": "#e5e5e5", "zerolinecolor": "#999", "linecolor": "#444", "showline": True, "ticks": "outside"}

# The four panels: (key, x axis, y axis, x domain, y domain, title); titles with words go through `_()` when drawn.
PANELS = [
    # Rows far enough apart that the upper row's axis titles clear the lower row's titles at projector size.
    ("beta", "x", "y", [0.0, 0.44], [0.70, 1.0], "β<sub>t</sub> (log scale)"),
    ("abar", "x2", "y2", [0.56, 1.0], [0.70, 1.0], "ᾱ<sub>t</sub> = ∏ (1 − β<sub>s</sub>)"),
    ("circle", "x3", "y3", [0.0, 0.44], [0.0, 0.31], "signal √ᾱ<sub>t</sub> against noise √(1−ᾱ<sub>t</sub>)"),
    ("logsnr", "x4", "y4", [0.56, 1.0], [0.0, 0.31], "log SNR(t) = log ᾱ<sub>t</sub>/(1−ᾱ<sub>t</sub>)"),
]


def as_plot(figure: dict) -> PlotData:
    """A plotly.js figure dict as the value `gr.Plot` sends to the page."""
    return PlotData(type="plotly", plot=json.dumps(figure))


def _axis_name(axis: str) -> str:
    """Trace axis reference 'x2' ↔ layout key 'xaxis2'."""
    return axis[0] + "axis" + axis[1:]


def _curve_index(T: int) -> np.ndarray:
    """Paper steps 1..T to draw, thinned to at most MAX_CURVE_POINTS (the ends are always kept)."""
    return np.unique(np.linspace(1, T, min(T, MAX_CURVE_POINTS)).round().astype(int))


def _panel_values(diffusion: GaussianDiffusion) -> dict[str, tuple[list, list]]:
    """(x, y) per panel for one schedule over paper steps t (index t−1 holds step t)."""
    steps = _curve_index(diffusion.num_timesteps)
    pick = lambda a: a.cpu().numpy()[index_of(steps)]  # noqa: E731
    values = {
        "beta": (steps, pick(diffusion.betas)),
        "abar": (steps, pick(diffusion.alphas_cumprod)),
        "circle": (pick(diffusion.sqrt_one_minus_alphas_cumprod), pick(diffusion.sqrt_alphas_cumprod)),
        "logsnr": (steps, np.log(pick(diffusion.snr))),
    }
    return {key: (np.round(x, 6).tolist(), np.round(y, 8).tolist()) for key, (x, y) in values.items()}


def _marker_values(diffusion: GaussianDiffusion, t: int) -> dict[str, tuple[float, float]]:
    """Where step t sits on each panel; t = 0 (x_0: ᾱ = 1, no β, infinite SNR) only on two."""
    if t == 0:
        return {"abar": (0, 1.0), "circle": (0.0, 1.0)}
    i = index_of(t)
    return {
        "beta": (t, float(diffusion.betas[i])),
        "abar": (t, float(diffusion.alphas_cumprod[i])),
        "circle": (float(diffusion.sqrt_one_minus_alphas_cumprod[i]), float(diffusion.sqrt_alphas_cumprod[i])),
        "logsnr": (t, math.log(float(diffusion.snr[i]))),
    }


def schedule_curves(curves: list[tuple[str, GaussianDiffusion]]) -> dict:
    """The static part of the schedule figure: every panel's curves for up to two schedules."""
    data, layout = [], {
        "height": 660, "margin": {"l": 64, "r": 20, "t": 96, "b": 50}, "font": FONT,
        "plot_bgcolor": "white", "paper_bgcolor": "white", "hovermode": "closest",
        "legend": {"orientation": "h", "x": 0, "y": 1.2, "yanchor": "bottom"}, "annotations": [],
    }
    for (label, diffusion), (colour, dash) in zip(curves, SCHEDULE_STYLES):
        for key, (x, y) in _panel_values(diffusion).items():
            _key, xaxis, yaxis, *_rest = next(p for p in PANELS if p[0] == key)
            data.append({"type": "scatter", "mode": "lines", "x": x, "y": y, "xaxis": xaxis, "yaxis": yaxis,
                         "name": label, "legendgroup": label, "showlegend": key == "beta",
                         "line": {"color": colour, "dash": dash, "width": 2.5},
                         "hovertemplate": f"{label}<br>%{{x:.4g}}, %{{y:.4g}}<extra></extra>"})
    for key, xaxis, yaxis, xdomain, ydomain, title in PANELS:
        x_anchor, y_anchor = yaxis, xaxis
        layout[_axis_name(xaxis)] = {**AXIS, "domain": xdomain, "anchor": x_anchor, "title": {"text": "t"}}
        layout[_axis_name(yaxis)] = {**AXIS, "domain": ydomain, "anchor": y_anchor}
        layout["annotations"].append({"text": _(title), "showarrow": False, "xref": "paper", "yref": "paper",
                                      "x": sum(xdomain) / 2, "y": ydomain[1] + 0.02, "xanchor": "center",
                                      "yanchor": "bottom", "font": {"size": 15}})
    # β spans 1e-4 … 0.999 (cosine's clip): only a log axis shows every schedule's shape.
    layout["yaxis"].update(type="log", exponentformat="power")
    layout["xaxis3"].update(title={"text": _("√(1−ᾱ<sub>t</sub>)  (noise)")}, range=[-0.03, 1.03], constrain="domain")
    layout["yaxis3"].update(title={"text": _("√ᾱ<sub>t</sub>  (signal)")}, range=[-0.03, 1.03],
                            scaleanchor="x3", constrain="domain")
    return {"data": data, "layout": layout}


def schedule_figure(base: dict, curves: list[tuple[str, GaussianDiffusion]], t: int) -> dict:
    """`base` (from schedule_curves) with a marker at step t on every curve and a line at t."""
    markers = []
    for (label, diffusion), (colour, _dash) in zip(curves, SCHEDULE_STYLES):
        for key, (x, y) in _marker_values(diffusion, t).items():
            _key, xaxis, yaxis, *_rest = next(p for p in PANELS if p[0] == key)
            markers.append({"type": "scatter", "mode": "markers", "x": [x], "y": [y], "xaxis": xaxis,
                            "yaxis": yaxis, "showlegend": False, "legendgroup": label,
                            "marker": {"color": colour, "size": 12, "line": {"color": "black", "width": 1.5}},
                            "hovertemplate": _("{label} at t={t}").format(label=label, t=t)
                            + "<br>%{y:.4g}<extra></extra>"})
    lines = [{"type": "line", "x0": t, "x1": t, "y0": 0, "y1": 1, "xref": xaxis, "yref": f"{yaxis} domain",
              "line": {"color": VERMILLION, "width": 1.5, "dash": "dot"}}
             for key, xaxis, yaxis, *_rest in PANELS if key != "circle"]
    return {"data": base["data"] + markers, "layout": {**base["layout"], "shapes": lines}}


def standard_normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def density_bars(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Histogram of `values` as a density on [−4, 4] (outliers in the end bins): centres, heights, width."""
    edges = np.linspace(-HIST_RANGE, HIST_RANGE, HIST_BINS + 1)
    counts, _edges = np.histogram(np.clip(values, -HIST_RANGE, HIST_RANGE), bins=edges)
    width = edges[1] - edges[0]
    return (edges[:-1] + edges[1:]) / 2, counts / max(values.size, 1) / width, width


def _normal_curve(name: str = "N(0, 1)") -> dict:
    grid = np.linspace(-HIST_RANGE, HIST_RANGE, 161)
    return {"type": "scatter", "mode": "lines", "x": grid.round(4).tolist(),
            "y": standard_normal_pdf(grid).round(6).tolist(), "name": name, "line": {"color": VERMILLION, "width": 3}}


def _density_layout(title: str, xtitle: str) -> dict:
    return {"height": 300, "margin": {"l": 54, "r": 10, "t": 40, "b": 44}, "font": FONT, "bargap": 0,
            "plot_bgcolor": "white", "paper_bgcolor": "white",
            "legend": {"x": 0.99, "xanchor": "right", "y": 0.98, "bgcolor": "rgba(255,255,255,0.7)"},
            "title": {"text": title, "x": 0.02, "font": {"size": 15}},
            "xaxis": {**AXIS, "title": {"text": xtitle}, "range": [-HIST_RANGE, HIST_RANGE]},
            "yaxis": {**AXIS, "title": {"text": _("density")}, "rangemode": "tozero"}}


def histogram_figure(x_t: np.ndarray, t: int) -> dict:
    """Pixel histogram of x_t in the model's space against the N(0, 1) density."""
    centres, density, width = density_bars(x_t.ravel())
    bars = {"type": "bar", "x": centres.round(4).tolist(), "y": density.round(5).tolist(), "width": width,
            "name": _("pixels of x<sub>{t}</sub>").format(t=t), "marker": {"color": SKY, "line": {"width": 0}}}
    return {"data": [bars, _normal_curve()],
            "layout": _density_layout(_("Pixels of x<sub>{t}</sub> vs N(0, 1)").format(t=t),
                                      _("value"))}


def residual_figure(z_chain: np.ndarray, z_closed: np.ndarray, t: int) -> dict:
    """Standardised residuals (x_t − √ᾱ_t x_0)/√(1−ᾱ_t) of both routes against N(0, 1)."""
    data = []
    routes = ((z_chain, _("{t} Markov steps").format(t=t), ORANGE), (z_closed, _("closed form"), BLUE))
    for values, name, colour in routes:
        centres, density, _width = density_bars(values.ravel())
        data.append({"type": "scatter", "mode": "lines", "x": centres.round(4).tolist(),
                     "y": density.round(5).tolist(), "name": name,
                     "line": {"shape": "hvh", "color": colour, "width": 2.5}})
    data.append(_normal_curve(_("N(0, 1), what both must follow")))
    title = "(x<sub>t</sub> − √ᾱ<sub>t</sub> x<sub>0</sub>) / √(1−ᾱ<sub>t</sub>)"
    return {"data": data, "layout": _density_layout(title, _("standardised residual"))}


def wrapped(title: str, width: int = 38) -> tuple[str, int]:
    """A plot title broken into lines of about `width` characters at ", " (Plotly does not wrap titles), and its
    number of lines."""
    lines: list[str] = []
    for part in title.split(", "):
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += ", " + part
        else:
            lines.append(part)
    if len(lines) > 1:  # keep the commas at the line ends
        lines = [line + "," for line in lines[:-1]] + lines[-1:]
    return "<br>".join(lines), len(lines)


def sampling_figure(t: np.ndarray, std: np.ndarray, x0_change: np.ndarray, title: str = "") -> dict:
    """Per reverse step, over t from T down to 0: std(x_t) and the RMS change of x̂_0 since the last step."""
    title, lines = wrapped(title or _("Per reverse step"))
    x = [int(v) for v in t]
    change = [None if i == 0 else round(float(v), 6) for i, v in enumerate(x0_change)]  # no change at the first
    return {
        "data": [{"type": "scatter", "mode": "lines+markers" if len(x) <= 60 else "lines", "x": x,
                  "y": [round(float(v), 5) for v in std], "name": _("std of x<sub>t</sub>"),
                  "line": {"color": BLUE, "width": 3}},
                 {"type": "scatter", "mode": "lines+markers" if len(x) <= 60 else "lines", "x": x, "y": change,
                  "name": _("RMS change of x̂<sub>0</sub>"), "yaxis": "y2",
                  "line": {"color": VERMILLION, "width": 2, "dash": "dash"}}],
        "layout": {"height": 300 + 22 * (lines - 1), "font": FONT,
                   "margin": {"l": 54, "r": 60, "t": 40 + 22 * (lines - 1), "b": 44},
                   "plot_bgcolor": "white", "paper_bgcolor": "white",
                   "legend": {"x": 0.02, "y": 0.02, "bgcolor": "rgba(255,255,255,0.8)"},
                   "title": {"text": title, "x": 0.02},
                   "xaxis": {**AXIS, "title": {"text": _("t (the chain runs from T down to 0)")},
                             "autorange": "reversed"},
                   "yaxis": {**AXIS, "title": {"text": _("std of x<sub>t</sub>")}, "rangemode": "tozero",
                             "color": BLUE},
                   "yaxis2": {**AXIS, "title": {"text": _("RMS Δx̂<sub>0</sub> (log)")}, "overlaying": "y",
                              "side": "right", "type": "log", "showgrid": False, "color": VERMILLION,
                              "dtick": 1, "exponentformat": "power"}},
    }


# ---- the variational bound ---------------------------------------------------------------------------------

def _bound_columns(bound, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per evaluated column: the mean paper step t, the mean term (bits/dim) and the mean RMSE of x̂_0."""
    t = bound.timesteps if bound.timesteps.ndim == 2 else bound.timesteps.expand(len(bound.terms), -1)
    return ((t.double() + 1).mean(0).numpy(), bound.terms.double().mean(0).numpy(),
            bound.distortion.double().mean(0).numpy())


def _bound_layout(title: str, xtitle: str, ytitle: str, height: int = 320) -> dict:
    return {"height": height, "font": FONT, "margin": {"l": 64, "r": 20, "t": 44, "b": 48},
            "plot_bgcolor": "white", "paper_bgcolor": "white", "title": {"text": title, "x": 0.02},
            "legend": {"x": 0.98, "xanchor": "right", "y": 0.98, "bgcolor": "rgba(255,255,255,0.8)"},
            "xaxis": {**AXIS, "title": {"text": xtitle}}, "yaxis": {**AXIS, "title": {"text": ytitle}}}


def fitting_axis(values, floor: float = 0.0) -> dict:
    """A log axis when the positive values above `floor` span more than two decades (one tick per decade), else
    a linear axis from zero: either way the curve fills the plot instead of hugging one edge."""
    positive = np.asarray([v for v in values if v > floor], dtype=float)
    if positive.size >= 2 and positive.max() / positive.min() > 100:
        return {"type": "log", "dtick": 1, "exponentformat": "power"}
    return {"type": "linear", "rangemode": "tozero"}


def bound_terms_figure(bound, T: int, title: str = "") -> dict:
    """Each term of the bound over t (log scale): L_0 at t = 1, the KL terms L_{t−1}, and L_T beside T."""
    t, bits, _rmse = _bound_columns(bound, T)
    first = t <= 1.0
    keep = lambda a: [round(float(v), 7) for v in a]  # noqa: E731
    prior = float(bound.prior.double().mean())
    data = [{"type": "scatter", "mode": "lines+markers" if len(t) <= 120 else "lines", "x": keep(t[~first]),
             "y": keep(np.maximum(bits[~first], 1e-9)), "name": "L<sub>t−1</sub> (KL)",
             "line": {"color": BLUE, "width": 2}, "marker": {"size": 5}},
            {"type": "scatter", "mode": "markers", "x": keep(t[first]), "y": keep(np.maximum(bits[first], 1e-9)),
             "name": _("L<sub>0</sub> (decoder)"), "marker": {"color": VERMILLION, "size": 12, "symbol": "diamond"}},
            {"type": "scatter", "mode": "markers", "x": [T], "y": [max(prior, 1e-9)],
             "name": f"L<sub>T</sub> = {prior:.1e}", "marker": {"color": GREEN, "size": 12, "symbol": "square"}}]
    if not bound.exact:
        data[0]["name"] = _("L<sub>t−1</sub> (mean of the sampled t, per stratum)")
    layout = _bound_layout(title or _("Bits per dimension of each term"), "t", _("bits/dim (log scale)"))
    layout["xaxis"]["type"] = "log"
    layout["yaxis"].update({"type": "log", "exponentformat": "power"})
    return {"data": data, "layout": layout}


def cumulative_bits_figure(bound, T: int) -> dict:
    """Bits received so far as the chain is decoded from t = T down to 1 (L_T first), against t."""
    t, _bits, _rmse = _bound_columns(bound, T)
    rate = bound.rate().double().mean(0).numpy()
    prior = float(bound.prior.double().mean())
    x = [T, *[round(float(v), 2) for v in t]]
    y = [round(prior, 7), *[round(float(v), 7) for v in rate]]
    layout = _bound_layout(_("Cumulative bits, decoding from T down"), _("t (from T down to 1)"), _("bits/dim so far"),
                           300)
    # t on a log axis: most bits arrive in the last few steps, which a linear axis squeezes into its edge
    layout["xaxis"].update({**fitting_axis(x), "autorange": "reversed"})
    layout["yaxis"].update(fitting_axis(y, floor=1e-6 * max(y)))
    return {"data": [{"type": "scatter", "mode": "lines", "x": x, "y": y, "name": "L<sub>T</sub> + Σ<sub>s≥t</sub>",
                      "line": {"color": BLUE, "width": 3, "shape": "hv"}, "showlegend": False}], "layout": layout}


def rate_distortion_figure(bound) -> dict:
    """Distortion (RMSE of x̂_0 on 0–255) against the rate (bits/dim received), as in Ho et al. Fig. 5."""
    t, _bits, rmse = _bound_columns(bound, 0)
    rate = bound.rate().double().mean(0).numpy()
    layout = _bound_layout(_("Rate–distortion"), _("rate: bits/dim received"),
                           _("distortion: RMSE of x̂<sub>0</sub> (0–255)"), 300)
    layout["xaxis"].update(fitting_axis(rate, floor=1e-6 * float(rate.max())))
    layout["yaxis"].update(fitting_axis(rmse))
    return {"data": [{"type": "scatter", "mode": "lines", "x": [round(float(v), 7) for v in rate],
                      "y": [round(float(v), 4) for v in rmse], "text": [f"t = {v:.0f}" for v in t],
                      "hovertemplate": "%{text}<br>%{x:.3f} " + _("bits/dim") + "<br>RMSE %{y:.2f}<extra></extra>",
                      "line": {"color": VERMILLION, "width": 3}, "showlegend": False}], "layout": layout}
