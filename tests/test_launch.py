"""`python app.py` starts on its bundled defaults where GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say, locally and as a Space."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

from conftest import ROOT, free_port


def _serve(tmp_path, **extra):
    """Start `python app.py` with the environment a host gives it; wait for its config."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(tmp_path), "DDPM_RUNS_DIR": str(tmp_path),
           **extra}
    if "DDPM_DEMO" not in extra:
        env.pop("DDPM_DEMO", None)
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline, config = time.monotonic() + 90, None
    while time.monotonic() < deadline and config is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as response:
                config = json.load(response)
        except OSError:
            if process.poll() is not None:
                raise AssertionError("app.py exited before serving")
            time.sleep(0.5)
    if config is None:
        process.terminate()
        raise AssertionError(f"nothing answered on port {port}")
    return process, port, config


def _labels(config) -> set[str]:
    """Component labels as the page sees them, translatable ones by their English key."""
    labels = set()
    for component in config["components"]:
        label = component.get("props", {}).get("label")
        text = json.dumps(label) if not isinstance(label, str) else label
        labels |= set(re.findall(r'"key": "([^"]+)"', text.replace('\\"', '"'))) or {label}
    return labels


def test_python_app_py_serves_on_the_port_from_the_environment(tmp_path):
    process, port, config = _serve(tmp_path)
    try:
        assert config["title"] == "DDPM Explorer"
        assert {"Forward process", "2-D lab", "Train", "Sample", "Evaluate"} <= _labels(config)
        path = next(c for c in config["components"] if c["props"].get("elem_id") == "train-path")
        assert path["props"]["visible"] is True, "locally, training reads a folder"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            page = response.read().decode()
        assert page.index("ddpm_lang") < page.index('type="module"'), "the language script runs before Gradio's"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_it_starts_as_a_cpu_space_in_demo_mode(tmp_path):
    """What Hugging Face Spaces does: SPACE_ID set, no GPU, `python app.py` on the port it gives."""
    process, port, config = _serve(tmp_path, SPACE_ID="someone/ddpm-explorer", SYSTEM="spaces",
                                   CUDA_VISIBLE_DEVICES="")
    try:
        path = next(c for c in config["components"] if c["props"].get("elem_id") == "train-path")
        assert path["props"]["visible"] is False, "demo mode: uploads only, no server paths"
        for route in ("/monitoring", "/gradio_api/monitoring/summary"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{route}", timeout=10)
                raise AssertionError(f"{route} is open")
            except urllib.error.HTTPError as refused:
                assert refused.code in (403, 404)
        assert config["max_file_size"] == 64 * 2**20
    finally:
        process.terminate()
        process.wait(timeout=30)
