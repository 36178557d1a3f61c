"""Equation ↔ code: beside a view, a collapsible panel with the equation it shows and the ddpm_core code that computes it.

The code is read from the running ddpm_core's source files with `inspect.getsource` when a panel is
built, never pasted, so it cannot drift from what computes the pictures: change a function and the
panel shows the change. Each entry names the equation (LaTeX) and the functions, in reading order.

The accordion's label is layout text (`L`, one catalogue entry per panel, in locale/ko/LC_MESSAGES/ui_panels.po); it cannot
hold "}", so titles write x_{t−1} as x_t−1. Equations are LaTeX in both languages; a panel's prose note is
shown in the page's language (`i18n.bilingual`).
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gradio as gr

from ddpm_core import edit, flow, guidance, likelihood, losses, samplers, sde
from ddpm_core.diffusion import GaussianDiffusion
from ui import i18n
from ui.i18n import L

ROOT = Path(__file__).resolve().parent.parent
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


@dataclass(frozen=True)
class Panel:
    title: str  # no "}" (it is part of the accordion's layout text)
    equation: str  # Markdown with LaTeX only: the same in every language
    functions: tuple[Callable, ...]
    note: tuple[str, str] | None = None  # prose under the equation: (English, Korean) Markdown

    @property
    def label(self) -> str:
        """The accordion's label, a catalogue key (locale/ko/LC_MESSAGES/ui_panels.po)."""
        return f"Equation ↔ code: {self.title}"

    def markdown(self) -> str:
        if self.note is None:
            return self.equation
        english, korean = self.note
        return i18n.bilingual(f"{self.equation}\n\n{english}", f"{self.equation}\n\n{korean}")


PANELS = {
    "q_sample": Panel(
        "q(x_t | x_0): jump straight to step t (Eq. 4)",
        r"$$q(x_t \mid x_0) = \mathcal{N}\big(\sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t)\mathbf{I}\big), \qquad "
        r"x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,\quad \bar\alpha_t = \prod_{s\le t}(1-\beta_s)$$",
        (GaussianDiffusion.q_sample,)),
    "q_step": Panel(
        "q(x_t | x_t−1): one step of the Markov chain (Eq. 2)",
        r"$$q(x_t \mid x_{t-1}) = \mathcal{N}\big(\sqrt{1-\beta_t}\,x_{t-1},\ \beta_t\mathbf{I}\big)$$",
        (GaussianDiffusion.q_step, GaussianDiffusion.q_chain, GaussianDiffusion.predict_eps_from_x0)),
    "posterior": Panel(
        "The posterior q(x_t−1 | x_t, x_0) (Eqs. 6–7)",
        r"$$q(x_{t-1} \mid x_t, x_0) = \mathcal{N}\big(\tilde\mu_t(x_t, x_0),\ \tilde\beta_t\mathbf{I}\big),\quad "
        r"\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t}x_0 + "
        r"\frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t,\quad "
        r"\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t$$",
        (GaussianDiffusion.posterior_mean_coefs, GaussianDiffusion.posterior_variance_beta_tilde,
         GaussianDiffusion.q_posterior_mean, GaussianDiffusion.q_posterior_mean_variance)),
    "loss": Panel(
        "L_simple: what training minimises (Eq. 14, Algorithm 1)",
        r"$$L_\text{simple}(\theta) = \mathbb{E}_{t, x_0, \epsilon}\Big[\big\|\epsilon - "
        r"\epsilon_\theta\big(\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,\ t\big)\big\|^2\Big]$$",
        (losses.simple_loss, losses.regression_target)),
    "ddpm_step": Panel(
        "One DDPM step (Algorithm 2)",
        r"$$x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,"
        r"\epsilon_\theta(x_t, t)\Big) + \sigma_t z,\qquad z \sim \mathcal{N}(0, \mathbf{I}),\ "
        r"\sigma_t^2 = \beta_t \text{ or } \tilde\beta_t$$",
        (samplers.ddpm_step,),
        ("The code computes the same mean as μ̃_t(x_t, x̂_0) with x̂_0 from ε̂ (Eq. 15), which is Eq. 11 rearranged: "
         "it asks `p_mean_variance` (the panel p_θ(x_t−1 | x_t)) for the mean and σ_t².",
         "코드는 같은 평균을 μ̃_t(x_t, x̂_0)로 계산합니다. x̂_0는 ε̂에서 구하며(식 15), 이는 식 11을 정리한 "
         "것입니다. 평균과 σ_t²는 `p_mean_variance`(p_θ(x_t−1 | x_t) 패널)에서 받습니다.")),
    "p_theta": Panel(
        "The reverse step p_θ(x_t−1 | x_t): one function for sampling and the bound",
        r"$$p_\theta(x_{t-1} \mid x_t) = \mathcal{N}\big(\mu_\theta(x_t, t),\ \sigma_t^2\mathbf{I}\big),\quad "
        r"\mu_\theta(x_t, t) = \tilde\mu_t\big(x_t,\ \hat{x}_0\big),\quad "
        r"\hat{x}_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}},\quad "
        r"\sigma_t^2 \in \{\beta_t,\ \tilde\beta_t\},\ \sigma_1^2 = \tilde\beta_2$$",
        (samplers.p_mean_variance, samplers.model_predictions, GaussianDiffusion.reverse_variance,
         GaussianDiffusion.first_step_clipped),
        ("Algorithm 2 samples from this Gaussian; the bound's terms L_t−1 compare it with the true posterior. At "
         "t = 1 the variance is β̃_2 for either choice (β̃_1 = 0), and Algorithm 2 adds no noise there.",
         "알고리즘 2는 이 가우시안에서 샘플링하고, 상한의 항 L_t−1은 이것을 실제 사후 분포와 비교합니다. t = 1에서는 "
         "어느 쪽을 골라도 분산이 β̃_2이고(β̃_1 = 0), 알고리즘 2는 그 스텝에서 노이즈를 더하지 않습니다.")),
    "score": Panel(
        "The score s_θ(x_t, t) = −ε̂ / √(1−ᾱ_t)",
        r"$$s_\theta(x_t, t) = -\frac{\epsilon_\theta(x_t, t)}{\sqrt{1-\bar\alpha_t}} \approx "
        r"\nabla_{x_t} \log q(x_t)$$",
        (samplers.model_score, GaussianDiffusion.score_from_eps),
        ("The noise the network predicts, rescaled, points downhill in noise: uphill in probability, towards the data.",
         "신경망이 예측한 노이즈를 크기만 바꾸면 노이즈가 줄어드는 쪽, 곧 확률이 커지는 쪽(데이터 쪽)을 가리킵니다.")),
    "guidance": Panel(
        "Classifier-free guidance (Ho & Salimans 2022): one network, with and without the class",
        r"$$\tilde\epsilon = \epsilon_\theta(x_t, \varnothing) + w\,\big(\epsilon_\theta(x_t, c) - "
        r"\epsilon_\theta(x_t, \varnothing)\big)$$",
        (guidance.guided_eps, guidance.guided_prediction, guidance.drop_labels),
        ("w = 0 is the unconditional model, w = 1 the plain conditional one, w > 1 pushes past it (Ho & Salimans' "
         "w′ is our w − 1; diffusers' guidance_scale is our w). Training drops each label to the null class ∅ with "
         "probability p_uncond, so one network learns both.",
         "w = 0은 무조건부 모델, w = 1은 그냥 조건부 모델이고, w > 1이면 그보다 더 밀어붙입니다(Ho & Salimans의 w′는 "
         "여기의 w − 1이고, diffusers의 guidance_scale은 여기의 w입니다). 학습할 때 레이블을 확률 p_uncond로 널 "
         "클래스 ∅로 바꾸므로 신경망 하나가 둘 다 배웁니다.")),
    "ddim_step": Panel(
        "One DDIM step (Song et al. 2021, Eqs. 12 and 16)",
        r"$$x_{t-1} = \sqrt{\bar\alpha_{t-1}}\,\hat{x}_0 + \sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}\;\hat\epsilon + "
        r"\sigma_t z,\quad \sigma_t = \eta\sqrt{\frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}}"
        r"\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_{t-1}}}$$",
        (samplers.ddim_step, samplers.ddim_sigma)),
    "vlb": Panel(
        "The terms of the variational bound (Eq. 5) and the decoder (Eq. 13)",
        r"$$L_{t-1} = D_{KL}\big(q(x_{t-1}|x_t,x_0)\,\|\,p_\theta(x_{t-1}|x_t)\big),\quad "
        r"L_0 = -\log p_\theta(x_0|x_1),\quad L_T = D_{KL}\big(q(x_T|x_0)\,\|\,\mathcal{N}(0,\mathbf{I})\big)$$",
        (likelihood.term, samplers.p_mean_variance, likelihood.normal_kl, likelihood.discretized_gaussian_log_likelihood,
         likelihood.prior_bits)),
    "sdedit": Panel(
        "SDEdit: noise to t₀, then denoise (Meng et al. 2022)",
        r"$$x_{t_0} = \sqrt{\bar\alpha_{t_0}}\,x_0 + \sqrt{1-\bar\alpha_{t_0}}\,\epsilon,\qquad "
        r"x_{t-1} \sim p_\theta(x_{t-1} \mid x_t)\quad \text{for } t = t_0, \dots, 1$$",
        (edit.sdedit, edit.noised),
        ("The forward process's own q(x_t₀ | x_0), then the Sample tab's chain started at t₀ (`sample_loop(start=)`).",
         "순방향 과정의 q(x_t₀ | x_0)로 t₀까지 간 뒤, 샘플링 탭의 연쇄를 t₀에서 시작합니다(`sample_loop(start=)`).")),
    "inpaint_replace": Panel(
        "Inpainting by replacement (Lugmayr et al. 2022, Eq. 8)",
        r"$$x_{t-1} = m \odot x_{t-1}^{\text{unknown}} + (1 - m) \odot x_{t-1}^{\text{known}},\quad "
        r"x_{t-1}^{\text{unknown}} \sim p_\theta(x_{t-1} \mid x_t),\quad "
        r"x_{t-1}^{\text{known}} \sim q(x_{t-1} \mid x_0)$$",
        (edit.inpaint_replace, edit._walk, edit.Chain.down),
        ("m is 1 where the model fills. At the last step q(x_0 | x_0) is x_0 itself: the kept pixels are the input's.",
         "m은 모델이 채우는 곳에서 1입니다. 마지막 스텝에서 q(x_0 | x_0)는 x_0 자신이므로 남긴 픽셀은 입력 그대로입니다.")),
    "repaint": Panel(
        "RePaint: resampling by going back up (Lugmayr et al. 2022, Algorithm 1)",
        r"$$x_{t} \sim q(x_t \mid x_{t-1}) = \mathcal{N}\big(\sqrt{1-\beta_t}\,x_{t-1},\ \beta_t\mathbf{I}\big)"
        r"\quad \text{every } j \text{ steps, } j \text{ steps up, } r - 1 \text{ times}$$",
        (edit.repaint, edit.repaint_moves, edit.Chain.up),
        ("Each way down is replacement; the way back up is the forward process, so the filled region gets r tries to "
         "agree with the kept one. r = 1 is replacement.",
         "내려가는 길은 매번 교체 방식이고, 다시 올라가는 길은 순방향 과정입니다. 그래서 채운 영역이 남긴 영역과 "
         "어울리도록 r번 다시 시도합니다. r = 1이면 교체 방식과 같습니다.")),
    "vp_sde": Panel(
        "The forward SDE: drift f, diffusion g, one Euler–Maruyama step (Song et al. 2021, Eq. 11)",
        r"$$dx = f(x, \tau)\,d\tau + g(\tau)\,dW,\quad f(x, \tau) = -\tfrac{1}{2}\beta(\tau)\,x,\quad "
        r"g(\tau) = \sqrt{\beta(\tau)},\qquad x \leftarrow x + f\,\Delta\tau + g\sqrt{\Delta\tau}\,z$$",
        (sde.drift, sde.diffusion_coefficient, sde.forward_sde_step),
        ("β(τ) comes from the discrete schedule (`sde.beta`), so the SDE's marginals are q(x_t | x_0) at τ = t/T; "
         "with Δτ = 1/T one step is the chain's step to first order.",
         "β(τ)는 이산 스케줄에서 구하므로(`sde.beta`) τ = t/T에서 SDE의 주변 분포가 q(x_t | x_0)와 같습니다. "
         "Δτ = 1/T이면 한 스텝이 1차까지 연쇄의 한 스텝과 같습니다.")),
    "reverse_sde": Panel(
        "The reverse-time SDE and one Euler–Maruyama step (Anderson 1982; Song et al. 2021, Eq. 6)",
        r"$$dx = \big[f(x, \tau) - g(\tau)^2\,\nabla_x \log p_\tau(x)\big]\,d\tau + g(\tau)\,d\bar{W},\qquad "
        r"\nabla_x \log p_\tau(x) \approx s_\theta(x, t) = -\frac{\epsilon_\theta(x, t)}{\sqrt{1-\bar\alpha_t}}$$",
        (sde.reverse_sde_drift, sde.reverse_sde_step),
        ("Run from τ = 1 down to 0 with fresh noise every step; over one index it is DDPM's Algorithm 2 to first "
         "order.",
         "τ = 1에서 0으로 거꾸로 풀며 스텝마다 새 노이즈를 더합니다. 인덱스 하나 간격이면 1차까지 DDPM의 "
         "알고리즘 2와 같습니다.")),
    "pf_ode": Panel(
        "The probability-flow ODE and its Euler and Heun steps (Song et al. 2021, Eq. 13)",
        r"$$\frac{dx}{d\tau} = d(x, \tau) = f(x, \tau) - \tfrac{1}{2}g(\tau)^2\,\nabla_x \log p_\tau(x),\qquad "
        r"x' = x - \Delta\tau\,d(x, \tau),\qquad x' = x - \tfrac{\Delta\tau}{2}\big(d(x, \tau) + "
        r"d(\tilde{x}, \tau')\big)$$",
        (sde.ode_drift, sde.euler_step, sde.heun_step),
        ("No noise: the same x_T always gives the same x_0, with the SDE's marginals p_τ. Euler evaluates the drift "
         "once per step; Heun (second order) takes an Euler step to x̃ and averages the two slopes.",
         "노이즈가 없으므로 같은 x_T에서 늘 같은 x_0가 나오고, 주변 분포 p_τ는 SDE와 같습니다. 오일러 방법은 "
         "스텝마다 드리프트를 한 번 계산하고, 호인 방법(2차)은 x̃까지 오일러 스텝을 간 뒤 두 기울기를 평균합니다.")),
    "flow_matching": Panel(
        "Flow matching: the straight path, its velocity, the loss and the ODE steps (Lipman et al. 2023)",
        r"$$x_\tau = (1-\tau)\,x_0 + \tau\,\epsilon,\quad u = \epsilon - x_0,\quad "
        r"L_\text{CFM} = \mathbb{E}\,\big\|v_\theta(x_\tau, \tau) - (\epsilon - x_0)\big\|^2,\qquad "
        r"x' = x - \Delta\tau\,v_\theta(x, \tau)$$",
        (flow.flow_path, flow.target_velocity, flow.flow_matching_loss, flow.flow_euler_step, flow.flow_heun_step),
        ("The same MLP as the ε-network, told 1000·τ for its time: only the target differs. Sampling solves "
         "dx/dτ = v_θ from noise at τ = 1 to τ = 0.",
         "ε 신경망과 같은 MLP이고 시간으로 1000·τ를 받습니다. 다른 것은 목표뿐입니다. 샘플링은 τ = 1의 노이즈에서 "
         "τ = 0까지 dx/dτ = v_θ를 풉니다.")),
}


def source(function: Callable) -> str:
    """The function's code as it is in its file now, headed by where it lives."""
    function = inspect.unwrap(function)
    lines, first = inspect.getsourcelines(function)
    path = Path(inspect.getsourcefile(function)).resolve()
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return f"# {where}, line {first}\n" + textwrap.dedent("".join(lines))


def panel_code(key: str) -> str:
    return "\n\n".join(source(f) for f in PANELS[key].functions)


def build(*keys: str, expanded: bool = False) -> None:
    """One accordion per key, in the current layout: the equation, then the code that computes it."""
    for key in keys:
        panel = PANELS[key]
        with gr.Accordion(L(panel.label), open=expanded, elem_classes="eq-code"):
            gr.Markdown(panel.markdown(), latex_delimiters=LATEX)
            code = panel_code(key)
            gr.Code(code, language="python", interactive=False, lines=min(code.count("\n") + 1, 12), max_lines=40,
                    show_label=False, elem_id=f"code-{key.replace('_', '-')}")
