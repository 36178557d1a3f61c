"""DDPM Explorer: see, train and teach Denoising Diffusion Probabilistic Models (Ho et al. 2020).

Run `python app.py`. The host and port follow GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
(defaults 127.0.0.1 and the first free port from 7860), which is what Hugging Face Spaces sets.
"""

from __future__ import annotations

import logging
import os

# Before torch loads: OpenMP's waiting threads sleep instead of spinning. Spinning, a sampling run beside a
# training ran at 0.04× its speed alone on 2 cores; sleeping, every workload keeps ≥ 0.58× (about its fair
# half) at the same speed alone (bench/bench_busy.py, bench/README.md). The sampling processes inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import gradio as gr  # noqa: E402 (after the environment above)

from server import settings  # noqa: E402
from server.catalogue import Catalogue
from server.sessions import end_session, new_session
from ui import edit_tab, evaluate_tab, forward_tab, i18n, lab2d_tab, projector, sample_tab, train_tab
from ui.i18n import L
from ui.plots2d import REGISTER_FRAMES_JS

TITLE = "DDPM Explorer"
INTRO = i18n.bilingual(
    "Denoising diffusion, one equation at a time. The forward process $q(x_t \\mid x_0)$ adds Gaussian noise to an "
    "image step by step until, at $t = T$, nothing but $\\mathcal{N}(0, \\mathbf{I})$ is left.",
    "확산 모델을 수식 하나씩. 순방향 과정 $q(x_t \\mid x_0)$는 이미지에 가우스 잡음을 한 단계씩 더해, $t = T$에 "
    "이르면 $\\mathcal{N}(0, \\mathbf{I})$ 말고는 아무것도 남지 않습니다.")
LANGUAGE_LINKS = ('<nav class="ddpm-lang" aria-label="Language">🌐 '
                  + " · ".join(f'<a href="?lang={code}" lang="{code}">{name}</a>' for code, name in i18n.NAMES.items())
                  + "</nav>")
CSS = """
#fwd-equation .katex-display { margin: 0.3em 0; font-size: 1.12em; }
#fwd-terminal p { font-size: var(--text-lg); }
#ddpm-header { align-items: center; }
#ddpm-header h1 { margin: 0; }
.ddpm-lang { text-align: right; font-size: var(--text-lg); }
.ddpm-lang a { padding: 0 4px; }
#train-preview img, #sample-final img, #fwd-x0 img { image-rendering: pixelated; }
""" + i18n.CSS + projector.CSS + sample_tab.CSS + edit_tab.CSS + evaluate_tab.CSS
# launch(js=...) takes one function: run each page-load script in turn.
PAGE_JS = f"() => {{ ({REGISTER_FRAMES_JS})(); ({projector.JS})(); }}"


def build_app() -> gr.Blocks:
    # Per-t images land in Gradio's cache; drop files older than 10 min, checking every 5 min.
    with gr.Blocks(title=TITLE, delete_cache=(300, 600)) as demo:
        with gr.Row(elem_id="ddpm-header", equal_height=True):
            gr.Markdown(f"# 🌫️ {TITLE}", elem_id="ddpm-title")
            gr.HTML(LANGUAGE_LINKS, elem_id="ddpm-language", padding=False)
            projector_btn = gr.Button(L("📽 Projector mode"), size="sm", scale=0, min_width=200, elem_id="projector-toggle")
        gr.Markdown(INTRO, latex_delimiters=forward_tab.LATEX, elem_classes="ddpm-intro")
        # One Session per page, shared by the tabs (server/sessions.py): its folder, jobs and uploads;
        # one catalogue of checkpoints for every tab that lists them (server/catalogue.py).
        session = gr.State(new_session, delete_callback=end_session)
        catalogue = Catalogue(settings.load())
        with gr.Tabs():
            with gr.Tab(L("Forward process"), id="forward"):
                forward_tab.build(demo)
            with gr.Tab(L("2-D lab"), id="lab2d"):
                lab2d_tab.build(demo, session)
            with gr.Tab(L("Train"), id="train"):
                train_tab.build(demo, session, catalogue)
            with gr.Tab(L("Sample"), id="sample") as sample_item:
                sample_tab.build(demo, session, catalogue, sample_item)
            with gr.Tab(L("Edit"), id="edit") as edit_item:
                edit_tab.build(demo, session, catalogue, edit_item)
            with gr.Tab(L("Evaluate"), id="evaluate") as evaluate_item:
                evaluate_tab.build(demo, session, catalogue, evaluate_item)
        projector_btn.click(None, js=projector.TOGGLE_JS, api_visibility="private")
    return demo


def launch_options() -> dict:
    """What `python app.py` passes to launch(); tests and benches launch the app the same way."""
    # run_history=False: Gradio would otherwise rewrite every slider event's outputs into localStorage,
    # tripling slider → image latency (measured by bench/bench_forward_browser.py).
    return dict(footer_links=["api", "gradio"], css=CSS, js=PAGE_JS, i18n=i18n.gradio_i18n(),
                app_kwargs=i18n.app_kwargs(),
                run_history=False, **settings.launch_options())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    build_app().queue(**settings.queue_options()).launch(**launch_options())
