"""The 2-D lab's continuous view, called as the page calls it: the forward SDE beside the chain, the reverse SDE
against the probability-flow ODE, flow matching as a job with Stop, fit against network evaluations as a job with
Stop, what clears them, their messages, and all of it in Korean. Tiny schedules and budgets: each test takes seconds.
"""

from __future__ import annotations

import json
import math
import re

import gradio as gr
import numpy as np
import pytest
import torch

from conftest import korean_request
from ddpm_core.config import DiffusionConfig
from ddpm_core.lab2d import steps_within
from ddpm_core.mlp import DenoiserMLP
from ddpm_core.sde import beta
from server.jobs import State
from server.sessions import Session
from ui import lab2d_tab
from ui.schedule_controls import diffusion_for, parse_config

HANGUL = re.compile(r"[\uac00-\ud7a3]")
TINY = parse_config("linear", 20, 1e-4, 0.3, False, 0.008)  # T = 20: training and sampling in seconds
PAPER = DiffusionConfig()                                      # linear β 1e-4 → 0.02, T = 1000
STEPS = 300


def _figure(plot) -> dict:
    return json.loads(plot.plot)


def _shape(name: str = "two_moons", seed: int = 0) -> lab2d_tab.Shape:
    return lab2d_tab.Shape(name, None, None, seed)


def _form(steps: int = STEPS, diffusion: DiffusionConfig = TINY, seed: int = 0) -> lab2d_tab.Train2DForm:
    return lab2d_tab.Train2DForm(steps, 256, 3e-3, 0.99, seed, diffusion)


@pytest.fixture(scope="module")
def shape() -> lab2d_tab.Shape:
    return _shape()


@pytest.fixture(scope="module")
def trained(shape) -> lab2d_tab.Trained:
    *_, (_plot, status, trained) = lab2d_tab.train(shape, _form(), Session())
    assert status.startswith(f"✅ **Trained** step {STEPS} / {STEPS}"), status
    return trained


@pytest.fixture(scope="module")
def flow_run(shape, trained) -> list[tuple]:
    """Every update of one flow-matching training (beside the trained ε-network)."""
    return list(lab2d_tab.train_flow(shape, trained, _form(), Session()))


@pytest.fixture(scope="module")
def flow(flow_run) -> lab2d_tab.FlowTrained:
    return flow_run[-1][2]


@pytest.fixture
def small_fit(monkeypatch):
    """Fit measurements of 200 points at few budgets: the same code as the page's 1,000 points at six."""
    monkeypatch.setattr(lab2d_tab, "FIT_POINTS", 200)
    monkeypatch.setattr(lab2d_tab, "FIT_BUDGETS", (5, 10, 20))


# ---- the forward SDE ----------------------------------------------------------------------------------------

def _table(markdown: str) -> tuple[list[int], dict[str, list[np.ndarray]]]:
    """The moments table: its t columns, and each row's (x₁, x₂) per column."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    columns = [int(c.strip().removeprefix("t = ").replace(",", "")) for c in lines[0].strip("|").split("|")[1:]]
    rows = {}
    for line in lines[2:]:
        name, *cells = [c.strip() for c in line.strip("|").split("|")]
        rows[name] = [np.array([float(v) for v in cell.split(",")]) for cell in cells]
    return columns, rows


def test_forward_sde_moments_agree_with_q_xt_given_x0():
    """The chain and Euler–Maruyama of the VP-SDE, from the same x_0, both have q(x_t | x_0)'s moments (Eq. 4) at
    every t shown, within 5 standard errors of the point count (plus the table's rounding to 0.01)."""
    n, shape = lab2d_tab.MAX_SHOWN, _shape("swiss_roll", seed=3)
    equation, plot, moments = lab2d_tab.show_forward_sde(shape, lab2d_tab.SDEForm(n, PAPER))
    diffusion = diffusion_for(PAPER)
    x0 = shape.sample(n).double().numpy()
    columns, rows = _table(moments)
    assert columns == lab2d_tab.sde_steps(diffusion) and columns[-1] == 1000 and len(columns) == 3
    rounding = 0.011
    for column, t in enumerate(columns):
        abar = float(diffusion.alphas_cumprod[t - 1])  # the paper's t is index t − 1
        mean, var = math.sqrt(abar) * x0.mean(0), abar * x0.var(0) + 1 - abar
        # Given x_0, x_t = √ᾱ x_0 + √(1−ᾱ) ε: its sample mean has variance (1−ᾱ)/n, its sample variance about
        # (4(1−ᾱ)ᾱ Var x_0 + 2(1−ᾱ)²)/n.
        se_mean = math.sqrt((1 - abar) / n)
        se_var = np.sqrt((4 * (1 - abar) * abar * x0.var(0) + 2 * (1 - abar) ** 2) / n)
        np.testing.assert_allclose(rows["mean: exact (Eq. 4)"][column], mean, atol=0.006)
        np.testing.assert_allclose(rows["variance: exact (Eq. 4)"][column], var, atol=0.006)
        for mean_row, var_row in (("mean of x₁, x₂: chain", "variance of x₁, x₂: chain"),
                                  ("mean: Euler–Maruyama", "variance: Euler–Maruyama")):
            got_mean, got_var = rows[mean_row][column], rows[var_row][column]
            process = var_row.split(": ")[1]
            assert np.all(np.abs(got_mean - mean) < 5 * se_mean + rounding), (process, t, got_mean, mean)
            assert np.all(np.abs(got_var - var) < 5 * se_var + rounding), (process, t, got_var, var)
    assert "✅ At t = T both clouds are N(0, I)" in moments
    # f and g are named under their terms
    assert r"}_{f(x,\,\tau)}" in equation and r"}_{g(\tau)}" in equation and "Euler–Maruyama" in equation
    # β(τ) at its ends (≈ T·β_1 and T·β_T; the core places each rate mid-step), and one step of each process at
    # t = T: x(1 − β(1)/(2T)) + √(β(1)/T) z against √(1 − β_T) x + √β_T z, equal to first order
    b0, b1 = float(beta(diffusion, 0.0)), float(beta(diffusion, 1.0))
    assert 0.08 < b0 < 0.1 and 20 < b1 < 20.3 and f"β(τ) rises from {b0:.3g} to {b1:.3g}." in equation, equation
    assert f"= {1 - 0.5 * b1 / 1000:.4f}\\,x + {math.sqrt(b1 / 1000):.4f}\\,z$;" in equation
    assert f"= {math.sqrt(1 - 0.02):.4f}\\,x + {math.sqrt(0.02):.4f}\\,z$." in equation
    figure = _figure(plot)
    clouds = [trace for trace in figure["data"] if trace["mode"] == "markers"]
    assert len(clouds) == 6 and all(len(trace["x"]) == n for trace in clouds), "chain and SDE at each of three t"
    assert [a["text"] for a in figure["layout"]["annotations"]] == [f"t = {t:,}" for t in columns]


def test_a_schedule_that_leaves_data_in_x_T_says_so():
    short = parse_config("linear", 10, 1e-4, 0.02, False, 0.008)  # ᾱ_T ≈ 0.9: x_T is mostly data
    _equation, _plot, moments = lab2d_tab.show_forward_sde(_shape(), lab2d_tab.SDEForm(2000, short))
    assert "⚠ At t = T the clouds are not yet N(0, I)" in moments


# ---- the reverse SDE against the probability-flow ODE --------------------------------------------------------

def _panel_traces(figure: dict, name: str) -> dict[str, dict]:
    """Each panel's trace called `name`, by its x axis ('x', 'x2', 'x3')."""
    return {trace.get("xaxis", "x"): trace for trace in figure["data"] if trace.get("name") == name}


def test_reverse_paths_start_from_the_same_x_T(trained, shape):
    plot, note = lab2d_tab.reverse_paths(trained, shape, 4, 10)
    figure = _figure(plot)
    starts = _panel_traces(figure, "x<sub>T</sub>")
    assert sorted(starts) == ["x", "x2", "x3"]
    assert starts["x"]["x"] == starts["x2"]["x"] == starts["x3"]["x"] and len(starts["x"]["x"]) == 8
    assert starts["x"]["y"] == starts["x2"]["y"] == starts["x3"]["y"]
    paths = _panel_traces(figure, "paths from the same x<sub>T</sub>")
    for axis, trace in paths.items():
        # eight polylines joined by None, each opening at its x_T
        assert trace["x"].count(None) == 8 and len(trace["x"]) > 8 * 3, axis
        firsts = [trace["x"][i + 1] for i, v in enumerate(trace["x"][:-1]) if v is None]
        assert [trace["x"][0], *firsts] == starts[axis]["x"]
    generated = _panel_traces(figure, "generated points")
    assert all(len(trace["x"]) == lab2d_tab.PATHS_POINTS for trace in generated.values())
    titles = [a["text"] for a in figure["layout"]["annotations"]]
    assert titles == ["reverse SDE · 10 NFE", "ODE, Euler · 10 NFE", "ODE, Heun · 9 NFE"]
    # the note's table: steps and evaluations as the core counts them (Heun: 2 per step, 1 on the step to x_0)
    assert "| steps · NFE | 10 · 10 | 10 · 10 | 5 · 9 |" in note, note
    assert re.search(r"\| sliced Wasserstein ÷ noise floor \|( [\d.]+× \|){3}", note), note
    assert "The same x<sub>T</sub> for all three" in note


@pytest.mark.parametrize("budget", [1, 5, 10, 100, 1000])
def test_heun_costs_two_evaluations_a_step_and_one_on_the_step_to_x0(trained, budget):
    diffusion = diffusion_for(trained.config)
    for sampler in lab2d_tab.SDE_AND_ODE:
        paths = lab2d_tab.sampler_paths(trained.model, sampler, budget, 3, diffusion)
        steps = min(steps_within(sampler, budget), diffusion.num_timesteps)
        assert len(paths.nfe) == steps + 1 and paths.nfe[-1] <= budget
        assert paths.nfe[-1] == (2 * steps - 1 if sampler == "heun" else steps), (sampler, budget, paths.nfe)
        assert paths.tau[0] == 1 and paths.tau[-1] == 0


def _path_length(points: torch.Tensor) -> float:
    """Mean length of every point's polyline from x_T to x_0."""
    return float((points[1:] - points[:-1]).norm(dim=-1).sum(0).mean())


def test_the_ode_is_deterministic_and_the_sde_is_not(trained):
    diffusion = diffusion_for(trained.config)

    def run(sampler, seed):
        return lab2d_tab.sampler_paths(trained.model, sampler, 20, seed, diffusion).points

    sde, euler, heun = run("sde", 5), run("euler", 5), run("heun", 5)
    assert torch.equal(sde[0], euler[0]) and torch.equal(euler[0], heun[0]), "one x_T for all three"
    assert torch.equal(euler, run("euler", 5)) and torch.equal(heun, run("heun", 5)), "the ODE: same seed, same paths"
    assert torch.equal(sde, run("sde", 5)), "reproducible from its seed"
    assert not torch.allclose(sde[-1], run("sde", 6)[-1]), "the SDE's paths change with the seed"
    # Same x_T, same 20 steps: the SDE's fresh noise at every step makes its paths longer than the ODE's.
    assert _path_length(sde) > 1.2 * _path_length(euler)
    plot_a, _ = lab2d_tab.reverse_paths(trained, _shape(), 5, 20)
    plot_b, _ = lab2d_tab.reverse_paths(trained, _shape(), 5, 20)
    ode_a = _panel_traces(_figure(plot_a), "generated points")
    ode_b = _panel_traces(_figure(plot_b), "generated points")
    assert ode_a["x2"] == ode_b["x2"] and ode_a["x3"] == ode_b["x3"]


@pytest.mark.parametrize("seed, nfe, message", [
    (0, 0, "Network evaluations must be from 1 to 1000, got 0"),
    (0, 5000, "Network evaluations must be from 1 to 1000, got 5000"),
    (0, 2.5, "Network evaluations must be a whole number"),
    (-1, 10, "Seed must be from 0"),
    (2**31, 10, "Seed must be from 0"),
])
def test_reverse_paths_with_bad_settings_say_what_is_allowed(trained, shape, seed, nfe, message):
    with pytest.raises(gr.Error, match=re.escape(message)):
        lab2d_tab.reverse_paths(trained, shape, seed, nfe)


def test_the_continuous_views_ask_for_what_they_need(shape, trained):
    with pytest.raises(gr.Error, match=re.escape("Train the model first (press Train).")):
        lab2d_tab.reverse_paths(None, shape, 0, 10)
    with pytest.raises(gr.Error, match="Choose a shape first"):
        lab2d_tab.show_forward_sde(None, lab2d_tab.SDEForm(1000, TINY))
    with pytest.raises(gr.Error, match="Number of points must be from 2 to 5000"):
        lab2d_tab.show_forward_sde(shape, lab2d_tab.SDEForm(1, TINY))
    with pytest.raises(gr.Error, match="Choose a shape first"):
        list(lab2d_tab.train_flow(None, trained, _form(), Session()))
    with pytest.raises(gr.Error, match="Steps must be from 1"):
        list(lab2d_tab.train_flow(shape, trained, _form(steps=0), Session()))
    with pytest.raises(gr.Error, match=re.escape("Train the model first (press Train).")):
        list(lab2d_tab.measure_fit(None, None, shape, 0, Session()))
    with pytest.raises(gr.Error, match="Seed must be from 0"):
        list(lab2d_tab.measure_fit(trained, None, shape, -3, Session()))


# ---- flow matching --------------------------------------------------------------------------------------------

def test_flow_matching_streams_its_loss_and_ends_trained(flow_run, flow, trained):
    assert len(flow_run) >= 2, "the loss streams while it trains"
    for plot, status, running, note in flow_run[:-1]:
        assert status.startswith("**Training with flow matching** step ") and note == "", status
        assert isinstance(running, lab2d_tab.FlowTrained)
    plot, status, last, note = flow_run[-1]
    assert last is flow and isinstance(flow, lab2d_tab.FlowTrained)
    assert status.startswith(f"✅ **Trained with flow matching** step {STEPS} / {STEPS} · loss "), status
    assert flow.steps == STEPS and flow.loss_steps == list(range(1, STEPS + 1)) and len(flow.losses) == STEPS
    assert flow.losses[-1] < flow.losses[0]
    assert np.mean(flow.losses[-30:]) < 0.8 * np.mean(flow.losses[:30])
    # the comparison: both loss curves, and both networks' Heun paths from one x_T with their straightness
    figure = _figure(plot)
    smoothed = [t for t in figure["data"] if t.get("name", "").startswith(("ε-network:", "flow matching:"))]
    assert [len(t["x"]) for t in smoothed] == [trained.steps, STEPS]
    generated = _panel_traces(figure, "generated points")
    assert sorted(generated) == ["x3", "x4"] and all(len(t["x"]) == lab2d_tab.PATHS_POINTS for t in generated.values())
    starts = _panel_traces(figure, "x<sub>T</sub>")
    assert starts["x3"]["x"] == starts["x4"]["x"]
    titles = [a["text"] for a in figure["layout"]["annotations"]]
    s_eps = float(re.search(r"ε-network · S = ([\d.]+)", " ".join(titles)).group(1))
    s_flow = float(re.search(r"flow matching · S = ([\d.]+)", " ".join(titles)).group(1))
    assert note.startswith("**Straightness** S (Liu et al. 2023)")
    assert f"S = {s_flow:.2f} against {s_eps:.2f}" in note, note
    assert ("are straighter than" in note) == (s_flow < s_eps)


def test_flow_matching_while_it_trains_shows_the_eps_network_paths(flow_run):
    """Drawn once when the flow's training starts: the ε-network's panel is never "not trained yet"."""
    figure = _figure(flow_run[0][0])
    titles = [a["text"] for a in figure["layout"]["annotations"]]
    assert any(t.startswith("ε-network · S = ") for t in titles) and titles.count("not trained yet") == 1, titles


def test_flow_matching_without_the_eps_network_invites_to_train_it(shape):
    *_, (plot, status, flow, note) = lab2d_tab.train_flow(shape, None, _form(steps=40), Session())
    assert status.startswith("✅ **Trained with flow matching** step 40 / 40")
    assert "train the ε-network (Train) to compare" in note
    titles = [a["text"] for a in _figure(plot)["layout"]["annotations"]]
    assert titles.count("not trained yet") == 2, "the ε-network's loss and paths panels"


def test_stopping_flow_matching_keeps_the_flow_learnt_so_far(shape, trained):
    session = Session()
    updates = []
    for update in lab2d_tab.train_flow(shape, trained, _form(steps=20_000), session):
        updates.append(update)
        if len(updates) == 1:
            lab2d_tab.stop(session)
    plot, status, flow, note = updates[-1]
    assert re.match(r"⏹ \*\*Stopped at step [\d,]+\*\* of 20,000 · loss ", status), status
    assert 0 < flow.steps < 20_000 and len(flow.losses) == flow.steps
    assert "S = " in note, "what was learnt is compared"
    assert session.job("lab").outcome.state is State.STOPPED


def test_a_training_the_lab_is_already_running_is_refused(shape, trained):
    session = Session()
    stream = lab2d_tab.train(shape, _form(steps=20_000), session)
    next(stream)
    try:
        with pytest.raises(gr.Error, match="already training in this session"):
            list(lab2d_tab.train_flow(shape, trained, _form(), session))
        with pytest.raises(gr.Error, match="The 2-D lab is training; measure the fit when it has finished"):
            list(lab2d_tab.measure_fit(trained, None, shape, 0, session))
    finally:
        stream.close()
    job = session.job("lab")
    assert job.wait(30) and job.outcome.state is State.STOPPED, "closing the stream (the page went away) stops it"


# ---- fit against network evaluations ----------------------------------------------------------------------

def test_the_fit_plan_goes_budget_by_budget_within_T():
    eps_1000 = lab2d_tab.Trained(DenoiserMLP(), PAPER, 1)
    eps_20 = lab2d_tab.Trained(DenoiserMLP(), TINY, 1)
    flow = lab2d_tab.FlowTrained(DenoiserMLP(), 1)
    plan = lab2d_tab.fit_plan(eps_1000, flow)
    assert plan[:6] == [(s, 5) for s in lab2d_tab.FIT_SAMPLERS], "the cheapest budget first, every sampler"
    assert [b for _s, b in plan] == sorted(b for _s, b in plan)
    assert {s for s, b in plan if b == 1000} == {"ddpm", "ddim"}, "the ODE solvers stop at ODE_MOST_NFE"
    assert len(plan) == 5 * 6 + 2
    # T = 20: no ε-sampler takes more than 20 steps (Heun: 10 steps in 19 evaluations; 25 would not fit)
    small = lab2d_tab.fit_plan(eps_20, None)
    assert {s for s, _b in small} == {"ddpm", "ddim", "euler", "heun"}
    assert all(steps_within(s, b) <= 20 for s, b in small)
    assert ("heun", 20) in small and ("heun", 50) not in small and ("ddpm", 50) not in small
    flow_only = lab2d_tab.fit_plan(None, flow)
    assert flow_only == [(s, b) for b in (5, 10, 20, 50, 100) for s in ("flow_euler", "flow_heun")]
    assert lab2d_tab.fit_plan(None, None) == []


def _plotted(plot) -> dict[str, list[int]]:
    """NFE of the measured points, by sampler name."""
    return {trace["name"]: trace["x"] for trace in _figure(plot)["data"]}


def test_measuring_the_fit_streams_and_ends_done(small_fit, trained, flow, shape):
    session = Session()
    updates = list(lab2d_tab.measure_fit(trained, flow, shape, 0, session))
    plan = lab2d_tab.fit_plan(trained, flow)
    assert len(plan) == 3 * 6
    assert all(re.match(rf"\*\*Measuring\*\* \d+ of {len(plan)} points · [\d.]+ s$", s) for _p, s in updates[:-1])
    plot, status = updates[-1]
    assert re.match(rf"✅ \*\*Measured\*\* {len(plan)} points in [\d.]+ s · closest to the data within 20 "
                    r"evaluations: .+ at \d+ NFE, [\d.]+× the noise floor$", status), status
    lines = _plotted(plot)
    assert len(lines) == 6 and all(len(nfe) == 3 for nfe in lines.values())
    assert lines["ε-network: ODE, Heun"] == [5, 9, 19] and lines["flow matching: ODE, Heun"] == [4, 10, 20]
    assert lines["DDPM (Algorithm 2)"] == [5, 10, 20]
    ratios = [y for trace in _figure(plot)["data"] for y in trace["y"]]
    assert all(0 < r < 100 for r in ratios)
    title = _figure(plot)["layout"]["title"]
    assert title["text"] == "Fit against network evaluations"
    assert title["subtitle"]["text"].startswith("sliced Wasserstein distance of 200 points to fresh data ÷ noise floor")
    assert session.job("lab_fit").outcome.state is State.DONE


def test_stopping_the_fit_keeps_the_points_measured(small_fit, trained, flow, shape):
    session = Session()
    updates = []
    for plot, status in lab2d_tab.measure_fit(trained, flow, shape, 0, session):
        updates.append((plot, status))
        done = int(re.search(r"(\d+) of", status).group(1))
        if done >= 2 and session.busy("lab_fit"):
            lab2d_tab.stop_fit(session)
    plot, status = updates[-1]
    done, total = map(int, re.match(r"⏹ \*\*Stopped\*\* after (\d+) of (\d+) points · [\d.]+ s$", status).groups())
    assert 2 <= done < total == 18
    assert sum(len(nfe) for nfe in _plotted(plot).values()) == done, "every measured point stays on the plot"
    assert session.job("lab_fit").outcome.state is State.STOPPED


def test_measuring_twice_at_once_is_refused(small_fit, trained, shape):
    session = Session()
    stream = lab2d_tab.measure_fit(trained, None, shape, 0, session)
    next(stream)
    try:
        with pytest.raises(gr.Error, match="already being measured; press Stop first"):
            list(lab2d_tab.measure_fit(trained, None, shape, 0, session))
    finally:
        stream.close()
        session.job("lab_fit").wait(30)


# ---- what clears the continuous views -------------------------------------------------------------------------

def test_another_shape_or_schedule_clears_every_view_and_stops_its_work():
    session = Session()
    cleared = lab2d_tab.clear_results(session)
    assert len(cleared) == 13
    (loss, status, eps, reverse, fit, paths, paths_note, nfe_plot, nfe_status, flow, flow_plot, flow_status,
     flow_note) = cleared
    assert [loss, eps, reverse, paths, nfe_plot, flow, flow_plot] == [None] * 7
    assert [fit, paths_note, flow_note] == [""] * 3
    assert status.startswith("Press **Train**") and flow_status.startswith("Press **Train with flow matching**")
    assert nfe_status.startswith("Press **Measure**")


def _wired(lab: gr.Blocks, fn) -> list:
    """The dependencies of `lab` that call `fn`."""
    return [d for d in lab.fns.values() if d.fn is fn or getattr(d.fn, "method", None) is fn]


def test_the_page_clears_the_continuous_views_with_the_rest():
    with gr.Blocks() as lab:
        lab2d_tab.build(lab, gr.State(None))
    clear, = _wired(lab, lab2d_tab.clear_results)
    outputs = [getattr(c, "elem_id", None) for c in clear.outputs]
    for view in ("lab-loss", "lab-status", "lab-reverse", "lab-fit", "lab-paths", "lab-paths-note", "lab-nfe",
                 "lab-nfe-status", "lab-flow", "lab-flow-status", "lab-flow-note"):
        assert view in outputs, view
    events = {(lab.blocks[block].elem_id, event) for block, event in clear.targets}
    assert {("lab-shape", "change"), ("lab-image", "change"), ("lab-word", "submit")} <= events
    assert {(f"lab-{control}", "change") for control in ("schedule", "T", "b1", "bT", "rescale", "s")} <= events
    fit_clears = _wired(lab, lab2d_tab.clear_fit)
    buttons = {lab.blocks[block].elem_id for d in fit_clears for block, _event in d.targets}
    assert buttons == {"lab-train", "lab-flow-train"}, "training either network again clears the fit"
    for d in fit_clears:
        assert [c.elem_id for c in d.outputs] == ["lab-nfe", "lab-nfe-status"]


def _until_running(stream, running: str):
    """Updates of `stream` up to the first whose status is running (its first item)."""
    for update in stream:
        if any(isinstance(v, str) and v.startswith(running) for v in update):
            return update
    raise AssertionError("the stream never reported running")


def test_a_training_whose_shape_changed_ends_on_the_cleared_views(shape, trained):
    """The stopped stream's last update must not bring the old shape's network back (nor its loss curve)."""
    session = Session()
    stream = lab2d_tab.train(shape, _form(steps=20_000), session)
    _until_running(stream, "**Training** step")
    lab2d_tab.clear_results(session)
    *_, last = stream
    assert last == (None, "Press **Train**: a small MLP learns ε in about 15 seconds.", None)
    assert session.job("lab").outcome.state is State.STOPPED

    stream = lab2d_tab.train_flow(shape, trained, _form(steps=20_000), session)
    _until_running(stream, "**Training with flow matching**")
    lab2d_tab.clear_results(session)
    *_, last = stream
    assert last[0] is None and last[1].startswith("Press **Train with flow matching**") and last[2:] == (None, "")
    with pytest.raises(gr.Error) as raised:
        lab2d_tab.reverse_after_training(None)
    assert not raised.value.visible, "the chain after training ends quietly"
    assert lab2d_tab.reverse_after_training(trained).selected == "reverse"


@pytest.mark.parametrize("clear", [lab2d_tab.clear_results, lab2d_tab.clear_fit])
def test_a_fit_whose_networks_changed_ends_on_the_cleared_view(small_fit, trained, flow, shape, clear):
    session = Session()
    stream = lab2d_tab.measure_fit(trained, flow, shape, 0, session)
    for _plot, status in stream:
        if not status.startswith("**Measuring** 0 "):
            break
    clear(session)
    *_, last = stream
    assert last == (None, lab2d_tab.FIT_START)
    assert session.job("lab_fit").outcome.state is State.STOPPED


def test_a_failed_training_ends_its_status_line(shape, monkeypatch):
    def broken(*_args):
        yield from ()
        raise RuntimeError("the disk is on fire")
    monkeypatch.setattr(lab2d_tab, "train_flow_2d", broken)
    updates = []
    with pytest.raises(gr.Error, match=r"Something went wrong \(RuntimeError\)"):
        for update in lab2d_tab.train_flow(shape, None, _form(), Session()):
            updates.append(update)
    assert updates[-1][1].startswith("❌ Something went wrong (RuntimeError)"), updates


def test_a_failed_fit_ends_its_status_line(small_fit, trained, shape, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("out of memory")
        yield
    monkeypatch.setattr(lab2d_tab, "fit_against_evaluations", broken)
    updates = []
    with pytest.raises(gr.Error, match=r"Something went wrong \(RuntimeError\)"):
        for update in lab2d_tab.measure_fit(trained, None, shape, 0, Session()):
            updates.append(update)
    assert updates[-1][1].startswith("❌ Something went wrong (RuntimeError)"), updates


# ---- in Korean ---------------------------------------------------------------------------------------------

# What may stay in Latin letters in Korean text: names, acronyms and symbols.
LATIN = {"SDE", "ODE", "NFE", "DDPM", "DDIM", "MLP", "Song", "et", "al", "Liu", "Lipman", "Anderson", "reflow", "Eq"}


def english_left(text: str) -> list[str]:
    """Words of three or more Latin letters in `text` outside math, tags and LATIN."""
    text = re.sub(r"\$\$.*?\$\$|\$.*?\$", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>|&[a-z]+;", " ", text)
    return [word for word in re.findall(r"[A-Za-z]{3,}", text) if word not in LATIN]


def test_the_forward_sde_in_korean():
    ko = korean_request()
    equation, plot, moments = lab2d_tab.show_forward_sde(_shape(), lab2d_tab.SDEForm(1000, PAPER), ddpm_request=ko)
    for text in (equation, moments):
        assert HANGUL.search(text) and not english_left(text), english_left(text)
    assert "분산 보존 SDE" in equation and "| x₁, x₂의 분산: 연쇄 |" in moments and "✅ t = T에서" in moments
    figure = _figure(plot)
    assert HANGUL.search(figure["layout"]["title"]["text"])
    names = {trace["name"] for trace in figure["data"]}
    assert {"연쇄 q(x<sub>t</sub> | x<sub>t−1</sub>)", "SDE의 오일러–마루야마"} <= names


def test_the_reverse_paths_in_korean(trained, shape):
    plot, note = lab2d_tab.reverse_paths(trained, shape, 0, 10, ddpm_request=korean_request())
    assert not english_left(note), english_left(note)
    assert "| | 역방향 SDE | ODE, 오일러 | ODE, 호인 |" in note and "| 스텝 수 · 신경망 평가 횟수 |" in note
    figure = _figure(plot)
    assert not english_left(figure["layout"]["title"]["text"])
    assert [a["text"] for a in figure["layout"]["annotations"]][2] == "ODE, 호인 · 9 NFE"
    assert {"데이터", "생성한 점"} <= {trace["name"] for trace in figure["data"]}


def test_flow_matching_and_the_fit_in_korean(small_fit, trained, shape):
    ko = korean_request()
    updates = list(lab2d_tab.train_flow(shape, trained, _form(steps=60), Session(), ddpm_request=ko))
    plot, status, flow, note = updates[-1]
    assert status.startswith("✅ **플로우 매칭으로 학습 완료** 스텝 60 / 60 · 손실 "), status
    assert note.startswith("**직선도** S(Liu et al. 2023)") and not english_left(note), english_left(note)
    titles = [a["text"] for a in _figure(plot)["layout"]["annotations"]]
    assert any(t.startswith("ε 신경망 · S = ") for t in titles) and any(t.startswith("플로우 매칭 · S = ") for t in titles)
    assert all(not english_left(s) for _p, s, _f, _n in updates)

    fits = list(lab2d_tab.measure_fit(trained, flow, shape, 0, Session(), ddpm_request=ko))
    plot, status = fits[-1]
    assert status.startswith("✅ ") and "**측정 완료**" in status and not english_left(status), status
    assert all(s.startswith("**측정 중**") for _p, s in fits[:-1])
    figure = _figure(plot)
    assert figure["layout"]["xaxis"]["title"]["text"] == "신경망 평가 횟수 (NFE)"
    assert {"ε 신경망: ODE, 호인", "플로우 매칭: ODE, 오일러"} <= {trace["name"] for trace in figure["data"]}

    session = Session()
    stream = lab2d_tab.measure_fit(trained, flow, shape, 0, session, ddpm_request=ko)
    next(stream)
    lab2d_tab.stop_fit(session)
    *_, (_plot, stopped) = stream
    assert stopped.startswith("⏹ ") and "**중지**" in stopped, stopped
    cleared = lab2d_tab.clear_results(None, ddpm_request=ko)
    assert all(not english_left(text) for text in cleared if isinstance(text, str)), cleared


def test_the_continuous_messages_in_korean(trained, shape):
    ko = korean_request()
    with pytest.raises(gr.Error, match="먼저 모델을 학습하세요"):
        lab2d_tab.reverse_paths(None, shape, 0, 10, ddpm_request=ko)
    with pytest.raises(gr.Error) as raised:
        lab2d_tab.reverse_paths(trained, shape, 0, 0, ddpm_request=ko)
    assert HANGUL.search(raised.value.message) and not english_left(raised.value.message), raised.value.message
    session = Session()
    stream = lab2d_tab.train(shape, _form(steps=20_000), session)
    next(stream)
    try:
        with pytest.raises(gr.Error, match="2-D 실습이 학습 중입니다"):
            list(lab2d_tab.measure_fit(trained, None, shape, 0, session, ddpm_request=ko))
        with pytest.raises(gr.Error, match="이미 학습 중입니다"):
            list(lab2d_tab.train_flow(shape, trained, _form(), session, ddpm_request=ko))
    finally:
        stream.close()
        session.job("lab").wait(30)


# ---- the figures' text --------------------------------------------------------------------------------------

def test_a_short_loss_axis_labels_its_values_in_full():
    """Plotly's labels of a log axis spanning less than a decade are bare digits ("5", "2" for 0.5 and 0.2)."""
    from ui import plots2d

    axis = plots2d.loss_figure([1, 2, 3], [1.1, 0.4, 0.19])["layout"]["yaxis"]
    assert axis["type"] == "log" and axis["ticktext"] == ["0.2", "0.5", "1"] and axis["tickvals"] == [0.2, 0.5, 1.0]
    narrow = plots2d.loss_figure([1, 2], [1.2, 2.6])["layout"]["yaxis"]
    assert narrow["ticktext"] == ["1.5", "2"]
    wide = plots2d.loss_figure([1, 2], [0.01, 2.0])["layout"]["yaxis"]
    assert wide["dtick"] == 1 and "tickvals" not in wide


def test_the_fit_figure_shows_a_ratio_below_the_floor_and_names_its_axes():
    from ui import plots2d

    figure = plots2d.fit_figure({"flow_heun": [(4, 0.45, 2), (10, 1.5, 5)]}, [5, 10, 20], "Fit<br>how it is measured")
    layout = figure["layout"]
    low, high = layout["yaxis"]["range"]
    assert 10 ** low < 0.45 < 1.5 < 10 ** high and layout["yaxis"]["ticktext"] == ["0.5×", "1×", "2×"]
    assert 10 ** layout["xaxis"]["range"][0] < 4, "a Heun flow's 4 evaluations (budget 5) stay inside"
    assert layout["title"]["text"] == "Fit" and layout["title"]["subtitle"]["text"] == "how it is measured"
    assert layout["xaxis"]["title"]["text"] == "network evaluations (NFE)"
    assert layout["yaxis"]["title"]["text"] == "distance ÷ noise floor"
    assert layout["legend"]["x"] > 1, "the legend beside the plot, never over its lines"
