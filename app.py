"""DDPM Explorer: see, train and teach Denoising Diffusion Probabilistic Models (Ho et al. 2020).

Run `python app.py`. The host and port follow GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
(defaults 127.0.0.1 and the first free port from 7860), which is what Hugging Face Spaces sets.
"""

from __future__ import annotations

import logging

import gradio as gr

from ui import evaluate_tab, forward_tab, lab2d_tab, sample_tab, settings, train_tab
from ui.plots2d import REGISTER_FRAMES_JS

TITLE = "DDPM Explorer"
INTRO = ("Denoising diffusion, one equation at a time. The forward process $q(x_t \\mid x_0)$ adds Gaussian "
         "noise to an image step by step until, at $t = T$, nothing but $\\mathcal{N}(0, \\mathbf{I})$ is left.")
CSS = """
#fwd-equation .katex-display { margin: 0.3em 0; font-size: 1.12em; }
#fwd-terminal p { font-size: var(--text-lg); }
""" + sample_tab.CSS + evaluate_tab.CSS


def build_app() -> gr.Blocks:
    # Per-t images land in Gradio's cache; drop files older than 10 min, checking every 5 min.
    with gr.Blocks(title=TITLE, delete_cache=(300, 600)) as demo:
        gr.Markdown(f"# 🌫️ {TITLE}\n{INTRO}", latex_delimiters=forward_tab.LATEX)
        with gr.Tabs():
            with gr.Tab("Forward process", id="forward"):
                forward_tab.build(demo)
            with gr.Tab("2-D lab", id="lab2d"):
                lab2d_tab.build(demo)
            with gr.Tab("Train", id="train"):
                trained = train_tab.build(demo)
            with gr.Tab("Sample", id="sample") as sample_item:
                sampled = sample_tab.build(demo, trained, sample_item)
            with gr.Tab("Evaluate", id="evaluate") as evaluate_item:
                evaluate_tab.build(demo, sampled, evaluate_item)
    return demo


def launch_options() -> dict:
    """What `python app.py` passes to launch(); tests and benches launch the app the same way."""
    # run_history=False: Gradio would otherwise rewrite every slider event's outputs into localStorage,
    # tripling slider → image latency (measured by bench/bench_forward_browser.py).
    return dict(footer_links=["api", "gradio"], css=CSS, js=REGISTER_FRAMES_JS,
                run_history=False, **settings.launch_options())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    build_app().queue(default_concurrency_limit=4).launch(**launch_options())
