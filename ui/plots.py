"""Plotly figures for the app: schedule curves tied to t, and histograms against N(0, 1)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ddpm_core.diffusion import GaussianDiffusion

# Okabe–Ito: distinguishable with every common colour-vision deficiency.
BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"
MAX_CURVE_POINTS = 400
HIST_RANGE = 4.0
HIST_BINS = 80


def _curve_index(T: int) -> np.ndarray:
    """Paper steps 1..T to draw, thinned to at most MAX_CURVE_POINTS (the ends are always kept)."""
    return np.unique(np.linspace(1, T, min(T, MAX_CURVE_POINTS)).round().astype(int))


def _schedule_traces(diffusion: GaussianDiffusion) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(x, y) per panel for one schedule, over paper steps t."""
    steps = _curve_index(diffusion.num_timesteps)
    pick = lambda a: a.cpu().numpy()[steps - 1]  # noqa: E731  (index t−1 holds step t)
    return {
        "beta": (steps, pick(diffusion.betas)),
        "abar": (steps, pick(diffusion.alphas_cumprod)),
        "circle": (pick(diffusion.sqrt_one_minus_alphas_cumprod), pick(diffusion.sqrt_alphas_cumprod)),
        "logsnr": (steps, np.log(pick(diffusion.snr))),
    }


def _point_at(diffusion: GaussianDiffusion, t: int) -> dict[str, tuple[float, float]]:
    """The marker positions for step t (t = 0 is x_0: ᾱ = 1, no β, infinite SNR)."""
    if t == 0:
        return {"abar": (0, 1.0), "circle": (0.0, 1.0)}
    i = t - 1
    return {
        "beta": (t, float(diffusion.betas[i])),
        "abar": (t, float(diffusion.alphas_cumprod[i])),
        "circle": (float(diffusion.sqrt_one_minus_alphas_cumprod[i]), float(diffusion.sqrt_alphas_cumprod[i])),
        "logsnr": (t, math.log(float(diffusion.snr[i]))),
    }


PANELS = {"beta": (1, 1), "abar": (1, 2), "circle": (2, 1), "logsnr": (2, 2)}


def schedule_figure(curves: list[tuple[str, GaussianDiffusion]], t: int) -> go.Figure:
    """β_t, ᾱ_t, √ᾱ_t against √(1−ᾱ_t), and log SNR for each named schedule, with a marker at t."""
    fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.1, vertical_spacing=0.16, subplot_titles=(
        "β<sub>t</sub>", "ᾱ<sub>t</sub>",
        "signal √ᾱ<sub>t</sub> against noise √(1−ᾱ<sub>t</sub>)", "log SNR(t) = log ᾱ<sub>t</sub>/(1−ᾱ<sub>t</sub>)"))
    for (label, diffusion), colour, dash in zip(curves, (BLUE, ORANGE), ("solid", "dash")):
        for panel, (x, y) in _schedule_traces(diffusion).items():
            row, col = PANELS[panel]
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=label, legendgroup=label,
                                     showlegend=panel == "beta", line=dict(color=colour, dash=dash, width=2.5),
                                     hovertemplate=f"{label}<br>%{{x:.4g}}, %{{y:.4g}}<extra></extra>"),
                          row=row, col=col)
        for panel, (x, y) in _point_at(diffusion, t).items():
            row, col = PANELS[panel]
            fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", showlegend=False, legendgroup=label,
                                     marker=dict(color=colour, size=12, line=dict(color="black", width=1.5)),
                                     hovertemplate=f"{label} at t={t}<br>%{{y:.4g}}<extra></extra>"),
                          row=row, col=col)
    for row, col in ((1, 1), (1, 2), (2, 2)):
        fig.add_vline(x=t, line=dict(color=VERMILLION, width=1.5, dash="dot"), row=row, col=col)
        fig.update_xaxes(title_text="t", row=row, col=col)
    # β spans 1e-4 … 0.999 (cosine's clip): only a log axis shows every schedule's shape.
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_xaxes(title_text="√(1−ᾱ<sub>t</sub>)  (noise)", range=[-0.03, 1.03], constrain="domain", row=2, col=1)
    fig.update_yaxes(title_text="√ᾱ<sub>t</sub>  (signal)", range=[-0.03, 1.03], scaleanchor="x3",
                     constrain="domain", row=2, col=1)
    fig.update_layout(height=560, margin=dict(l=60, r=20, t=60, b=50), template="plotly_white",
                      legend=dict(orientation="h", y=1.12, x=0), hovermode="closest")
    return fig


def standard_normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _density_bars(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Histogram of `values` as a density on [−4, 4]; returns bin centres, heights, bin width."""
    edges = np.linspace(-HIST_RANGE, HIST_RANGE, HIST_BINS + 1)
    counts, _ = np.histogram(np.clip(values, -HIST_RANGE, HIST_RANGE), bins=edges)
    width = edges[1] - edges[0]
    return (edges[:-1] + edges[1:]) / 2, counts / max(values.size, 1) / width, width


def _normal_curve(fig: go.Figure, name: str = "N(0, 1)") -> None:
    grid = np.linspace(-HIST_RANGE, HIST_RANGE, 161)
    fig.add_trace(go.Scatter(x=grid, y=standard_normal_pdf(grid), mode="lines", name=name,
                             line=dict(color=VERMILLION, width=3)))


def histogram_figure(x_t: np.ndarray, t: int) -> go.Figure:
    """Pixel histogram of x_t in the model's space against the N(0, 1) density."""
    centres, density, width = _density_bars(x_t.ravel())
    fig = go.Figure(go.Bar(x=centres, y=density, width=width, name=f"pixels of x_{t}",
                           marker=dict(color=SKY, line=dict(width=0))))
    _normal_curve(fig)
    fig.update_layout(height=300, margin=dict(l=50, r=10, t=40, b=40), template="plotly_white",
                      title=dict(text=f"Pixel values of x<sub>{t}</sub> (model space) vs N(0, 1)", x=0.02),
                      xaxis=dict(title="value", range=[-HIST_RANGE, HIST_RANGE]), yaxis=dict(title="density"),
                      legend=dict(x=0.01, y=0.98), bargap=0)
    return fig


def residual_figure(z_chain: np.ndarray, z_closed: np.ndarray, t: int) -> go.Figure:
    """Standardised residuals (x_t − √ᾱ_t x_0)/√(1−ᾱ_t) of both routes against N(0, 1)."""
    fig = go.Figure()
    for values, name, colour in ((z_chain, f"{t} Markov steps", ORANGE), (z_closed, "closed form", BLUE)):
        centres, density, _ = _density_bars(values.ravel())
        fig.add_trace(go.Scatter(x=centres, y=density, mode="lines", line=dict(shape="hvh", color=colour, width=2.5),
                                 name=name))
    _normal_curve(fig, "N(0, 1), what both must follow")
    fig.update_layout(height=300, margin=dict(l=50, r=10, t=40, b=40), template="plotly_white",
                      title=dict(text="(x<sub>t</sub> − √ᾱ<sub>t</sub> x<sub>0</sub>) / √(1−ᾱ<sub>t</sub>)", x=0.02),
                      xaxis=dict(title="standardised residual"), yaxis=dict(title="density"),
                      legend=dict(x=0.01, y=0.98))
    return fig
