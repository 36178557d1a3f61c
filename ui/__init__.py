"""DDPM Explorer's Gradio UI: one module per tab, thin callbacks over `ddpm_core`."""
