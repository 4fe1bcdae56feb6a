"""Real Voila serving the gallery, real headless Chromium (Debian package) driving it."""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LOCAL_PREFIXES = ("http://127.0.0.1", "http://localhost", "ws://127.0.0.1", "ws://localhost", "data:", "blob:")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_path():
    if not Path(CHROMIUM).exists():
        reason = "Debian chromium is not installed (.ci/run installs it)"
        if os.environ.get("BATTLAB_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


@contextlib.contextmanager
def serve_voila(log_dir, *, env_extra=None, preheat=0):
    """A real Voila server on the gallery notebooks; yields its URL, stops it afterwards."""
    from battlab.cli import voila_command

    port = _free_port()
    cmd, env = voila_command(REPO / "notebooks", port=port, preheat=preheat)
    env.update(env_extra or {})
    with open(Path(log_dir) / "voila.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 90
        try:
            while True:
                try:
                    urllib.request.urlopen(url, timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None or time.time() > deadline:
                        raise RuntimeError(f"voila did not start; see {log.name}") from None
                    time.sleep(0.5)
            yield url
        finally:
            stop_process(proc)


def stop_process(proc, timeout_s=15):
    """Terminate a server process, killing it if it does not stop in time."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def gallery_url(tmp_path_factory):
    with serve_voila(tmp_path_factory.mktemp("voila")) as url:
        yield url


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


IDLE = re.compile(rb'"execution_state":\s*"idle"')


class Page:
    """A page that refuses and records every request leaving this machine."""

    def __init__(self, browser):
        self.external = []
        #: sizes of the websocket messages the page sent (uploads travel in them); the page's
        #: echoes of figure updates (Bokeh model changes, ignored by the kernel) are left out
        self.sent_frames: list[int] = []
        #: when (perf_counter) the kernel reported itself idle, i.e. done with a message
        self.idle_at: list[float] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.route("**/*", self._route)
        self.page.on("websocket", self._watch)

    def _watch(self, ws):
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)

    def _received(self, data):
        if IDLE.search(data.encode() if isinstance(data, str) else data):
            self.idle_at.append(time.perf_counter())

    def _sent(self, data):
        marker = '"kind":"ModelChanged"'
        if (marker.encode() if isinstance(data, bytes) else marker) not in data:
            self.sent_frames.append(len(data))

    def _route(self, route):
        url = route.request.url
        if url.startswith(LOCAL_PREFIXES):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def assert_clean(self):
        html = self.page.content()
        assert "Traceback" not in html and 'File "/' not in html
        assert self.external == [], f"requests left localhost: {self.external}"


@pytest.fixture
def new_page(browser):
    pages = []

    def make():
        pages.append(Page(browser))
        return pages[-1]

    yield make
    for p in pages:
        p.page.close()


def wait_for_change(locator, before: bytes, timeout_s: float = 45.0) -> bool:
    """Poll element screenshots until the pixels differ from ``before``."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if locator.screenshot() != before:
            return True
        time.sleep(0.3)
    return False


def colored_pixels(png: bytes) -> int:
    """Strongly coloured pixels of a screenshot: the data, not the grey axes.

    A plot whose lines failed to draw (e.g. WebGL unavailable) still has axes, a legend and
    the Bokeh logo, about 500 such pixels; drawn curves add thousands.
    """
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 60).sum())


def open_app(new_page, gallery_url: str, notebook: str, ready_text: str, timeout_ms: int = 90_000):
    """Open one app's Voila page and wait until a plot is drawn and the status says ``ready_text``."""
    p = new_page()
    p.page.goto(gallery_url + "voila/render/" + notebook, timeout=120_000)
    p.page.wait_for_selector(".battlab-plot canvas", timeout=120_000)
    p.page.wait_for_selector(f".battlab-status >> text={ready_text}", timeout=timeout_ms)
    return p


def upload_file(page, path):
    """Choose ``path`` in the page's first upload button's file dialog."""
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").first.click()
    chooser.value.set_files(str(path))


def banner_text(page, contains, timeout_ms=60_000):
    """The app's error banner once it shows ``contains``."""
    page.wait_for_selector(f".battlab-error >> text={contains}", timeout=timeout_ms)
    return page.locator(".battlab-error").first.inner_text()
