"""`python app.py` starts on its bundled defaults where GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say."""

import json
import os
import subprocess
import sys
import time
import urllib.request

from conftest import ROOT, free_port


def test_python_app_py_serves_on_the_port_from_the_environment(tmp_path):
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(tmp_path), "DDPM_RUNS_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline, config = time.monotonic() + 90, None
        while time.monotonic() < deadline and config is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as response:
                    config = json.load(response)
            except OSError:
                assert process.poll() is None, "app.py exited before serving"
                time.sleep(0.5)
        assert config is not None, f"nothing answered on port {port}"
        assert config["title"] == "DDPM Explorer"
        labels = {c.get("props", {}).get("label") for c in config["components"]}
        assert {"Forward process", "2-D lab", "Train"} <= labels
    finally:
        process.terminate()
        process.wait(timeout=30)
