"""The running app in demo mode (as on a public Space) against hostile requests.

Every attack gets a clear refusal, nothing outside the app's own folders is read or written, and the
server keeps serving: path traversal through every file input and the file-serving route, oversized
uploads, files that only pretend to be checkpoints, safetensors files with hostile headers, zip slip and
zip bombs.
"""

from __future__ import annotations

import io
import json
import struct
import time
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image
from safetensors.torch import save_file

from conftest import ROOT, launch_app

SCHEDULE = ("linear", 100, 1e-4, 0.02, True, 0.008)
SECRET = "ddpm-explorer-test-secret-7f3a"


@pytest.fixture(scope="module")
def demo_url():
    """The app as a Space runs it: DDPM_DEMO=1 (uploads only, caps, monitoring off)."""
    yield from launch_app(DDPM_DEMO="1")


@pytest.fixture(scope="module")
def secrets(tmp_path_factory) -> list[Path]:
    """Files a stranger must never read: one in the repository, one in another session's folder, one in /tmp."""
    from server.settings import sessions_dir

    other_session = sessions_dir() / "0123456789abcdef0123456789abcdef" / "uploads"
    other_session.mkdir(parents=True, exist_ok=True)
    paths = [ROOT / "runs" / "security-test-secret.txt", other_session / "secret.txt",
             tmp_path_factory.mktemp("outside") / "secret.txt"]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SECRET)
    yield paths
    for path in paths:
        path.unlink(missing_ok=True)
    other_session.parent.joinpath("uploads").rmdir()
    other_session.parent.rmdir()


def _still_serving(url: str) -> None:
    assert httpx.get(f"{url}/config", timeout=10).status_code == 200
    seed = Client(url, verbose=False).predict(api_name="/new_noise")
    assert isinstance(seed, (int, float))


def _raw_call(url: str, api: str, data: list) -> str:
    """Call an endpoint the way a hand-written client can, bypassing gradio_client's uploading of files."""
    start = httpx.post(f"{url}/gradio_api/call/{api}", json={"data": data}, timeout=30)
    assert start.status_code == 200, start.text
    return httpx.get(f"{url}/gradio_api/call/{api}/{start.json()['event_id']}", timeout=120).text


def _error_of(stream: str) -> str:
    assert "event: error" in stream, stream[-500:]
    payload = stream.split("event: error", 1)[1].split("data:", 1)[1].strip().splitlines()[0]
    return json.loads(payload).get("error") or ""


# ---- the file-serving route ---------------------------------------------------------------------------

TRAVERSALS = ["/etc/passwd", "{repo}/app.py", "{repo}/checkpoints/digits.safetensors", "{secret0}", "{secret1}",
              "{secret2}", "../../../../etc/passwd", "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
              "%2Fetc%2Fpasswd", "/proc/self/environ", "file:///etc/passwd", "http://127.0.0.1:1/x"]


@pytest.mark.parametrize("target", TRAVERSALS)
@pytest.mark.parametrize("route", ["/gradio_api/file={}", "/file={}", "/gradio_api/file%3D{}"])
def test_the_file_route_serves_nothing_of_the_server(demo_url, secrets, route, target):
    target = target.format(repo=ROOT, secret0=secrets[0], secret1=secrets[1], secret2=secrets[2])
    response = httpx.get(demo_url + route.format(target), timeout=10, follow_redirects=False)
    assert response.status_code in (400, 403, 404, 405), (route, target, response.status_code)
    assert SECRET not in response.text and "root:" not in response.text


# ---- forged paths through every file input --------------------------------------------------------------

def _file_inputs(url: str) -> list[tuple[str, int, list]]:
    """(endpoint, index of a file parameter, default arguments) for every endpoint that takes files."""
    api = Client(url, verbose=False).view_api(return_format="dict", print_info=False)
    found = []
    for name, endpoint in api["named_endpoints"].items():
        parameters = endpoint["parameters"]
        defaults = [p.get("parameter_default") if p.get("parameter_has_default") else None for p in parameters]
        for index, parameter in enumerate(parameters):
            if "FileData" in json.dumps(parameter.get("type", {})):
                found.append((name.lstrip("/"), index, defaults))
    return found


def test_every_file_input_refuses_a_path_that_was_not_uploaded(demo_url, secrets):
    inputs = _file_inputs(demo_url)
    names = {name for name, _, _ in inputs}
    assert {"load_image", "lab_forward", "train_start", "train_resume", "sample_upload", "evaluate",
            "evaluate_decode"} <= names, names
    for name, index, defaults in inputs:
        for target in ["/etc/passwd", str(secrets[1]), str(ROOT / "assets" / "cat.jpg"), "../../../etc/passwd"]:
            forged = {"path": target, "meta": {"_type": "gradio.FileData"}, "orig_name": "x.png"}
            data = list(defaults)
            many = "list" in json.dumps(_parameter(demo_url, name, index)) or name in ("train_start", "train_resume",
                                                                                        "evaluate", "evaluate_decode")
            data[index] = [forged] if many else forged
            message = _error_of(_raw_call(demo_url, name, data))
            assert "not uploaded by a user" in message, (name, target, message)
            assert SECRET not in message
    _still_serving(demo_url)


def _parameter(url: str, name: str, index: int) -> dict:
    return Client(url, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"][
        "/" + name]["parameters"][index]


def test_folder_paths_are_refused_in_demo_mode(demo_url):
    from test_train_tab import _settings

    client = Client(demo_url, verbose=False)
    with pytest.raises(Exception, match="folder path is not accepted"):
        client.predict("/etc", None, *_settings(5), api_name="/train_start")
    with pytest.raises(Exception) as refused:
        client.predict("bundled:digits.safetensors", "folder", None, "/etc", "all", 4, "strata", 8, "beta", 0,
                       api_name="/evaluate")
    assert "folder" in str(refused.value).lower()
    _still_serving(demo_url)


# ---- uploads that are too big ---------------------------------------------------------------------------

def test_an_upload_over_the_cap_is_refused_before_it_is_stored(demo_url):
    from server.settings import max_file_bytes

    with pytest.MonkeyPatch.context() as env:
        env.setenv("DDPM_DEMO", "1")
        cap = max_file_bytes()
    assert cap == 64 * 2**20
    body = io.BytesIO(b"\0" * (cap + 1))
    response = httpx.post(f"{demo_url}/gradio_api/upload", files={"files": ("big.safetensors", body)}, timeout=60)
    assert response.status_code == 413 and "File size exceeded" in response.text
    _still_serving(demo_url)


def test_an_image_over_25_mb_is_refused_with_a_message(demo_url, tmp_path):
    big = tmp_path / "big.png"
    Image.new("RGB", (64, 64)).save(big)
    with big.open("ab") as handle:  # a valid PNG with 26 MB of trailing bytes
        handle.write(np.random.default_rng(0).bytes(26 * 2**20))
    with pytest.raises(Exception, match="25 MB"):
        Client(demo_url, verbose=False).predict(handle_file(str(big)), 256, "colour", 0, api_name="/load_image")
    _still_serving(demo_url)


# ---- checkpoints that lie ---------------------------------------------------------------------------

def _header_file(path: Path, header: bytes, declared: int | None = None) -> str:
    path.write_bytes(struct.pack("<Q", len(header) if declared is None else declared) + header)
    return str(path)


def _good_metadata() -> dict:
    from safetensors import safe_open

    with safe_open(str(ROOT / "checkpoints" / "digits.safetensors"), "pt") as handle:
        return dict(handle.metadata())


def _with_config(path: Path, change) -> str:
    """A real checkpoint's tensors with its config JSON changed by `change`."""
    from safetensors.torch import load_file

    metadata = _good_metadata()
    config = json.loads(metadata["config"])
    change(config)
    metadata["config"] = json.dumps(config)
    save_file(load_file(str(ROOT / "checkpoints" / "digits.safetensors")), str(path), metadata=metadata)
    return str(path)


HOSTILE = {
    "a PNG renamed .safetensors": lambda p: (Image.new("RGB", (8, 8)).save(p, format="PNG"), str(p))[1],
    "random bytes": lambda p: (p.write_bytes(np.random.default_rng(1).bytes(4096)), str(p))[1],
    "an empty file": lambda p: (p.write_bytes(b""), str(p))[1],
    "a header claiming 1 TB": lambda p: _header_file(p, b"{}", declared=2**40),
    "a header of malformed JSON": lambda p: _header_file(p, b'{"__metadata__": {"config": "{nope'),
    "metadata that is not strings": lambda p: _header_file(p, b'{"__metadata__": {"config": {"a": 1}}}'),
    "an 8 MB metadata value": lambda p: save_file({"w": torch.zeros(1)}, str(p),
                                                  metadata={**_good_metadata(), "config": "x" * 8_000_000}) or str(p),
    "a config of malformed JSON": lambda p: save_file({"w": torch.zeros(1)}, str(p),
                                                      metadata={**_good_metadata(), "config": "{not json"}) or str(p),
    "a config with wrong types": lambda p: _with_config(p, lambda c: c["diffusion"].update(timesteps="many")),
    "a config with a negative size": lambda p: _with_config(p, lambda c: c["model"].update(image_size=-16)),
    "a config with a huge network": lambda p: _with_config(p, lambda c: c["model"].update(base_channels=10**6)),
    "tensors of the wrong shape": lambda p: _with_config(p, lambda c: c["model"].update(base_channels=64)),
    "a 2-D lab model's header on image tensors": lambda p: _with_config(p, lambda c: c.update(architecture="mlp")),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_checkpoint_upload_is_refused_with_a_message(demo_url, tmp_path, kind):
    path = Path(HOSTILE[kind](tmp_path / "model.safetensors"))
    client = Client(demo_url, verbose=False)
    started = time.monotonic()
    with pytest.raises(Exception) as refused:
        client.predict(handle_file(str(path)), api_name="/sample_upload")
    message = str(refused.value)
    assert "That file cannot be sampled: " in message, message  # the tab's refusal, with the reason after it
    assert "Traceback" not in message and str(tmp_path) not in message, "no server internals in the message"
    assert time.monotonic() - started < 30
    _still_serving(demo_url)


# ---- hostile zips of training images --------------------------------------------------------------------

def _png_bytes(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 16), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(path: Path, entries) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in entries:
            if isinstance(entry, zipfile.ZipInfo):
                archive.writestr(entry, b"/etc/passwd")
            else:
                archive.writestr(*entry)
    return str(path)


def _symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("link.png")
    info.external_attr = (0o120777 << 16)  # a symbolic link, as `zip --symlinks` stores it
    return info


ZIPS = {
    "zip slip (../)": (lambda p: _zip(p, [("../../evil.png", _png_bytes(1))]), "outside the folder"),
    "zip slip (absolute)": (lambda p: _zip(p, [("/tmp/evil.png", _png_bytes(1))]), "outside the folder"),
    "a symbolic link": (lambda p: _zip(p, [_symlink_entry()]), "link"),
    "a ratio bomb": (lambda p: _zip(p, [("a.png", b"\0" * 30 * 2**20)]), "zip bomb"),
    "an entry-count bomb": (lambda p: _zip(p, [(f"{i}.png", b"") for i in range(2_500)]), "2,000"),
    # 205 entries of 1 MB that compress 64:1 (under the ratio cap): 3 MB to upload, 205 MB to unpack.
    "a size bomb": (lambda p: _zip(p, [(f"{i}.png", np.random.default_rng(i).bytes(2**14) * 64) for i in range(205)]),
                    "200"),
    "not a zip": (lambda p: (p.write_bytes(b"PK\x03\x04 but nothing else"), str(p))[1], "zip"),
}


@pytest.mark.parametrize("kind", list(ZIPS))
def test_a_hostile_zip_is_refused_in_demo_mode(demo_url, tmp_path, kind):
    from test_train_tab import _settings

    make, expected = ZIPS[kind]
    archive = make(tmp_path / "set.zip")
    with pytest.raises(Exception) as refused:
        Client(demo_url, verbose=False).predict("", [handle_file(archive)], *_settings(5), api_name="/train_start")
    message = str(refused.value)
    assert expected.lower() in message.lower(), message
    assert not Path("/tmp/evil.png").exists() and not (tmp_path.parent / "evil.png").exists()
    _still_serving(demo_url)


def test_monitoring_is_closed_in_demo_mode(demo_url):
    assert httpx.get(f"{demo_url}/monitoring", timeout=10).status_code in (403, 404)
    assert httpx.get(f"{demo_url}/gradio_api/monitoring/summary", timeout=10).status_code in (403, 404)
