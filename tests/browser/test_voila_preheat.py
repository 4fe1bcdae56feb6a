"""`battlab gallery --preheat`: an app's kernel is built on its demo before anyone asks, and the page works.

Real Voila serving one app notebook with one preheated kernel, headless Chromium, offline.
How much sooner the page opens is measured in benchmarks/browser_latency.py, not here.
"""

import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import psutil
import pytest

from battlab.cli import voila_command
from tests.browser.conftest import REPO, _free_port, stop_process, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "04_gitt.ipynb"


def _kernels(server):
    # Kernels are the server's own children (their helpers, e.g. a forkserver, are theirs).
    return [p for p in server.children() if "ipykernel_launcher" in p.cmdline()]


def _wait(condition, timeout_s, what):
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_a_preheated_app_kernel_is_ready_before_the_visit_and_the_pool_refills(new_page, tmp_path):
    # The gallery page and one app: only the app gets a kernel kept ready.
    served = tmp_path / "notebooks"
    served.mkdir()
    for name in ("00_gallery.ipynb", APP):
        shutil.copy(REPO / "notebooks" / name, served / name)
    port = _free_port()
    cmd, env = voila_command(served, port=port, preheat=1)
    with open(tmp_path / "voila.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    server = psutil.Process(proc.pid)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait(lambda: _ok(url), 90, "voila to answer")
        # Before any page was requested, one kernel is running (building the app on its demo).
        _wait(lambda: "Kernel pool of 04_gitt.ipynb is filled" in (tmp_path / "voila.log").read_text(), 90,
              "the app's kernel pool")
        assert len(_kernels(server)) == 1 and "00_gallery" not in (tmp_path / "voila.log").read_text()
        first = _kernels(server)[0]
        p = new_page()
        p.page.goto(url + "voila/render/" + APP, timeout=180_000)
        p.page.wait_for_selector(".battlab-status >> text=190 pulses", timeout=180_000)
        # The pool starts a fresh kernel for the next visitor; once it has built its app too,
        # the two kernels idle.
        _wait(lambda: len(_kernels(server)) == 2, 90, "the pool to refill")
        _wait(lambda: _idle(_kernels(server)), 120, "the refilled kernel to build its app")
        # The app is live, and it is the preheated kernel that answers: the pulse slider redraws
        # the zoomed pulse, and the CPU time it took is the first kernel's.
        cpu = {k.pid: _cpu_s(k) for k in _kernels(server)}
        zoom = p.page.locator(".battlab-plot").nth(1)
        before = zoom.screenshot()
        slider = p.page.locator(".widget-slider").filter(has=p.page.locator("label", has_text=re.compile(r"^Pulse$")))
        slider.locator(".noUi-handle").focus()
        p.page.keyboard.press("ArrowRight")
        assert wait_for_change(zoom, before), "the pulse view did not change in the preheated app"
        used = {k.pid: _cpu_s(k) - cpu[k.pid] for k in _kernels(server)}
        assert max(used, key=used.get) == first.pid, used
        assert not p.page.locator(".battlab-error").is_visible()
        p.assert_clean()
    finally:
        stop_process(proc)


def _cpu_s(process):
    times = process.cpu_times()
    return times.user + times.system


def _idle(kernels, window_s=2.0):
    before = [_cpu_s(k) for k in kernels]
    time.sleep(window_s)
    return all(_cpu_s(k) - b < 0.1 * window_s for k, b in zip(kernels, before, strict=True))


def _ok(url):
    # Not the app's own page: every request for it takes the preheated kernel.
    try:
        urllib.request.urlopen(url + "battlab-health-probe", timeout=2)
    except urllib.error.HTTPError:
        return True  # the server answered
    except OSError:
        return False
    return True
