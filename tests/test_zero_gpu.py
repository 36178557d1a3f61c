"""The optional ZeroGPU path, with a stand-in `spaces` package: used only when it is installed, and it samples.

The real `spaces` package exists only on Hugging Face; its `GPU` decorator (with SPACES_ZERO_GPU set)
attaches a GPU to the decorated call's process. The stand-in records what it decorates and calls
through, so the app's side is tested here: the Sample tab's callbacks are decorated, sampling moves into
the calling process, and the images are those of the core. Without `spaces`, nothing is decorated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from conftest import ROOT

FAKE_SPACES = '''
import functools, inspect, json, os

def _log(entry):
    with open(os.environ["FAKE_SPACES_LOG"], "a") as log:
        log.write(json.dumps(entry) + "\\n")

def GPU(fn=None, duration=60):
    def decorate(f):
        _log({"name": f.__name__, "duration": duration})
        if inspect.isgeneratorfunction(f):  # as spaces.GPU does: a generator stays a generator function
            @functools.wraps(f)
            def streamed(*args, **kwargs):
                _log({"called": f.__name__})
                yield from f(*args, **kwargs)
            return streamed
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            _log({"called": f.__name__})
            return f(*args, **kwargs)
        return wrapper
    return decorate(fn) if callable(fn) else decorate
'''

SCRIPT = textwrap.dedent('''
    import json, os, sys
    import numpy as np
    from PIL import Image
    from gradio_client import Client
    sys.path.insert(0, os.getcwd())
    from app import build_app, launch_options
    from conftest import free_port
    from ddpm_core.animation import image_grid, upscale
    from ddpm_core.checkpoints import load_checkpoint
    from ddpm_core.sample import SampleConfig, SamplingRun
    from ui import gpu

    demo = build_app().queue()
    pool = next(fn.fn.method.__self__.pool for fn in demo.fns.values() if fn.api_name == "sample_run")
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True, **launch_options())
    client = Client(url, verbose=False)
    *_, last = client.submit("bundled:digits.safetensors", "ddim", 4, 0.0, "beta", 4, 3, "auto", True, False,
                             api_name="/sample_run")
    got = np.asarray(Image.open(last[1]))
    config = SampleConfig(n=4, sampler="ddim", steps=4, eta=0.0, seed=3, device="cpu")
    frames = list(SamplingRun(load_checkpoint("checkpoints/digits.safetensors"), config).frames())
    want = upscale(image_grid(frames[-1].step.prev_sample), 512)
    print(json.dumps({"zero_gpu": gpu.zero_gpu(), "in_process": pool.in_process,
                      "same": bool(np.array_equal(got.reshape(want.shape), want))}))
    demo.close()
''')


def _run(tmp_path, with_spaces: bool) -> tuple[dict, list[dict]]:
    log = tmp_path / "spaces.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
           "FAKE_SPACES_LOG": str(log), "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    if with_spaces:
        (tmp_path / "site" / "spaces").mkdir(parents=True)
        (tmp_path / "site" / "spaces" / "__init__.py").write_text(FAKE_SPACES)
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), env["PYTHONPATH"]])
        env["SPACES_ZERO_GPU"] = "true"
        env["SPACE_ID"] = "someone/ddpm-explorer"
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, lines


def test_on_zero_gpu_the_sample_tab_is_decorated_and_samples_in_its_own_process(tmp_path):
    result, log = _run(tmp_path, with_spaces=True)
    decorated = {entry["name"]: entry["duration"] for entry in log if "name" in entry}
    # The Sample tab's Sample, Compare and Compare guidance, and the Edit tab's run ("run") and its compare
    # ("compare" too).
    assert set(decorated) == {"sample", "compare", "compare_guidance", "run"}
    assert decorated["compare"] > decorated["sample"] >= 60
    assert {"called": "sample"} in log, "the Sample button's call went through the decorator"
    assert result == {"zero_gpu": True, "in_process": True, "same": True}


def test_without_spaces_nothing_changes(tmp_path):
    result, log = _run(tmp_path, with_spaces=False)
    assert log == [] and result == {"zero_gpu": False, "in_process": False, "same": True}
