"""Shared fixtures: the running app (in-process, free port) and headless Debian Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import tempfile
import zlib
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="ddpm-tests-gradio-"))

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
ARTIFACTS = ROOT / "artifacts"  # screenshots to look at; git-ignored
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def write_png_header(path, width: int, height: int) -> str:
    """A PNG whose header claims width×height (a decompression bomb needs nothing more to be refused)."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                           + chunk(b"IEND", b""))
    return str(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    """The real app, built and launched as `python app.py` does, on a free local port."""
    from app import build_app, launch_options
    from server.settings import queue_options

    demo = build_app()
    demo.queue(**queue_options())
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True, **launch_options())
    yield url.rstrip("/")
    demo.close()


def launch_app(**env: str):
    """Build and launch the app with `env` set while it is built (e.g. DDPM_DEMO="1"); yields its URL, then closes it.

    For a module's own app in a mode other than the default (use it as a generator fixture's body).
    """
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        from app import build_app, launch_options
        from server.settings import queue_options

        demo = build_app().queue(**queue_options())
        _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                                quiet=True, **launch_options())
    yield url.rstrip("/")
    demo.close()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM}; install it with `apt-get install -y chromium`."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        new_context = chromium.new_context

        def watched_context(*args, **kwargs):
            """Every page's uncaught JavaScript error is recorded: `no_page_errors` fails the test on any."""
            context = new_context(*args, **kwargs)
            context.on("weberror", lambda error: PAGE_ERRORS.append(str(error.error)))
            return context
        chromium.new_context = watched_context
        yield chromium
        chromium.close()


PAGE_ERRORS: list[str] = []


@pytest.fixture(autouse=True)
def no_page_errors():
    """Browser tests fail on any uncaught error in a page (e.g. a Plotly call on a redrawn plot)."""
    PAGE_ERRORS.clear()
    yield
    errors, PAGE_ERRORS[:] = list(PAGE_ERRORS), []
    assert not errors, f"page errors: {errors}"


@pytest.fixture(autouse=True)
def autograd_left_on():
    """A test that leaves autograd off in this thread fails itself (and switches it back on), instead of
    failing whichever test trains next: a generator holding torch.no_grad() across a yield, closed in
    another thread, did that once."""
    import torch
    yield
    if not torch.is_grad_enabled() or torch.is_inference_mode_enabled():
        torch.set_grad_enabled(True)
        pytest.fail("this test left autograd disabled in the test thread")


def fill_number(box, value) -> None:
    """Type a value into a Gradio number box (a Playwright Locator) and press Enter, until the box shows it.

    Retried, and checked again half a second later: a box inside an accordion that was just opened can still
    be mounting when the first fill lands, and the mount then writes the component's stored value back over it
    (seen in CI, once right away and once after the box had shown the typed value)."""
    from playwright.sync_api import expect
    box.wait_for(state="visible")
    for _ in range(3):
        box.fill(str(value))
        box.press("Enter")
        try:
            expect(box).to_have_value(str(value), timeout=3_000)
        except AssertionError:
            continue
        box.page.wait_for_timeout(500)
        if box.input_value() == str(value):
            return
    expect(box).to_have_value(str(value))


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class FakeRequest:
    """Stands in for the gr.Request Gradio passes a callback: headers and cookies only."""

    def __init__(self, language: str | None = None, referer: str = "", cookies: dict | None = None):
        self.headers = {"accept-language": language} if language else {}
        if referer:
            self.headers["referer"] = referer
        self.cookies = cookies or {}


def korean_request() -> FakeRequest:
    """A request from a browser set to Korean: pass it as `ddpm_request=` to a callback wrapped by user_errors."""
    return FakeRequest("ko-KR,ko;q=0.9,en;q=0.5")
