"""Browser-side latency of the Voila apps: cold start and slider round trip.

For every app notebook a fresh headless Chromium page opens the app on a real Voila server
(no cache of a previous page), and the time until the demo is analysed and drawn is the
cold start. Then a control a user tunes on that demo (``APPS``) is moved back and forth
``--changes`` times; the round trip runs from the key press (or Enter, or option choice) to
the moment every changed figure is on the page (new figures change a plot's DOM, figures
updated in place change their Bokeh document) plus one animation frame.
Results go to ``benchmarks/BROWSER_LATENCY.md``.

Needs Debian's ``chromium`` (as the browser tests). Run from the repository root::

    .venv/bin/python benchmarks/browser_latency.py
"""

from __future__ import annotations

import argparse
import datetime as _dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser.conftest import serve_voila  # noqa: E402  one way to start Voila

#: (notebook, status text once the demo is analysed, control moved) per app. The control is
#: one a user tunes on that demo and that changes a figure: a slider moved one step with the
#: keyboard, or a number field retyped (value × 1.2 and back) and confirmed with Enter.
APPS = {
    "CyclingApp": ("01_galvanostatic_cycling.ipynb", "100 cycles", "Cycles"),
    "CVApp": ("02_cyclic_voltammetry.ipynb", "24 sweeps", "T (K)"),
    "EISApp": ("03_impedance.ipynb", "1 spectrum", "KK threshold (%)"),
    "GITTApp": ("04_gitt.ipynb", "190 pulses", "Fit window (fraction of pulse)"),
    "OpticalApp": ("05_operando_optical.ipynb", "100 frames", "ROI rows (px)"),
    "XRDApp": ("09_operando_xrd.ipynb", "80 patterns", "Pattern"),
    "SpectraApp": ("10_spectroscopy.ipynb", "60 spectra", "ALS log10 λ"),
    "SensorsApp": ("11_operando_sensors.ipynb", "2,384 samples", "Crystal f₀ (MHz)"),
    "CorrelationApp": ("12_correlation.ipynb", "4 maps", "Cursor (h)"),
    "TEMApp": ("06_in_situ_tem.ipynb", "60 frames", "Frame"),
    "AFMApp": ("07_afm.ipynb", "256×256 px", "Levelling"),
    "XRMApp": ("08_xray_microscopy.ipynb", "48×48×48 voxels", "Phases"),
    "ScatteringApp": ("13_scattering.ipynb", "reflectivity: 10 curves", "Curve"),
    "DepthProfileApp": ("14_depth_profiling.ipynb", "NDP: 1 spectrum", "Stopping × (density / table density)"),
    "ProbesApp": ("15_probes_and_element_maps.ipynb", "5 approach curve(s)", "tip radius a (µm)"),
}
TARGET_BUSY_MS = 200.0
TARGET_COLD_S = 10.0
TARGET_ROUND_TRIP_MS = 300.0

#: Resolves with [all figures updated, busy shown, first figure changed] in ms after the move
#: (-1 where it did not happen). A new figure changes a plot's DOM; a figure updated in place
#: changes its Bokeh document. The kernel hides the busy indicator after it sent every figure
#: of the move, so "busy hidden, plus one animation frame" is when the page shows them all.
_WATCH = """() => {
  window.__battlabLatency = new Promise((resolve) => {
    const t0 = performance.now();
    let busyMs = -1, firstMs = -1;
    const busy = document.querySelector('.battlab-busy');
    const changed = () => { if (firstMs < 0) firstMs = performance.now() - t0; };
    const plots = new MutationObserver(changed);
    document.querySelectorAll('.battlab-plot').forEach(
      (el) => plots.observe(el, {childList: true, subtree: true}));
    const docs = window.Bokeh ? Array.from(window.Bokeh.documents) : [];
    docs.forEach((doc) => doc.on_change(changed));
    let busyObs = null;
    const done = (ms) => {
      plots.disconnect(); if (busyObs) busyObs.disconnect();
      docs.forEach((doc) => doc.remove_on_change(changed));
      resolve([ms, busyMs, firstMs]);
    };
    busyObs = new MutationObserver(() => {
      const shown = busy.offsetParent !== null;
      if (shown && busyMs < 0) busyMs = performance.now() - t0;
      if (!shown && busyMs >= 0) requestAnimationFrame(() => done(performance.now() - t0));
    });
    busyObs.observe(busy, {attributes: true, attributeFilter: ['style']});
    setTimeout(() => done(-1), 60000);
  });
}"""


def _control(page, label):
    """The visible slider, number field or dropdown whose label reads ``label``."""
    import re

    exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
    for kind in (".widget-slider", ".widget-text", ".widget-dropdown"):
        boxes = page.locator(f".battlab-app {kind}:visible").filter(
            has=page.locator(".widget-label", has_text=exact))
        if boxes.count():
            return kind, boxes.first
    return None, None


def _move(page, kind, box, k, start):
    """Move the control once: right/left for a slider, × 1.2 and back for a number, next/first option."""
    if kind == ".widget-slider":
        box.locator(".noUi-handle").first.focus()
        page.evaluate(_WATCH)
        page.keyboard.press("ArrowRight" if k % 2 == 0 else "ArrowLeft")
    elif kind == ".widget-text":
        field = box.locator("input").first
        page.evaluate(_WATCH)
        field.fill(f"{float(start) * 1.2:.6g}" if k % 2 == 0 else start)
        field.press("Enter")
    else:
        # start is the option selected at first: alternate between the next option and it
        # (selecting the option already selected changes nothing and answers nothing).
        select = box.locator("select").first
        page.evaluate(_WATCH)
        n_options = select.locator("option").count()
        select.select_option(index=(int(start) + 1) % n_options if k % 2 == 0 else int(start))


def _open(page, url, notebook, ready):
    """Seconds from the page request until the app's demo is analysed and drawn."""
    t0 = time.perf_counter()
    page.goto(url + "voila/render/" + notebook, timeout=180_000)
    page.wait_for_selector(".battlab-plot canvas", timeout=180_000)
    page.wait_for_selector(f".battlab-status >> text={ready}", timeout=180_000)
    return time.perf_counter() - t0


def measure(browser, url, notebook, ready, label, n_changes):
    page = browser.new_page()
    try:
        cold_s = _open(page, url, notebook, ready)
        kind, box = _control(page, label)
        times, busy, firsts = [], [], []
        if box is not None:
            start = (box.locator("input").first.input_value() if kind == ".widget-text"
                     else box.locator("select").first.evaluate("s => s.selectedIndex")
                     if kind == ".widget-dropdown" else None)
            for k in range(n_changes):
                _move(page, kind, box, k, start)
                ms, busy_ms, first_ms = page.evaluate("window.__battlabLatency")
                if ms < 0:
                    break
                if first_ms >= 0:  # a move that changed no figure is not a round trip
                    times.append(ms)
                    firsts.append(first_ms)
                if busy_ms >= 0:
                    busy.append(busy_ms)
                time.sleep(0.2)  # let the kernel settle so moves are measured one at a time
        else:
            label = f"{label} (not found on the page)"
        return cold_s, label, times, busy, firsts
    finally:
        page.close()


def _open_s(browser, url, notebook, ready):
    page = browser.new_page()
    try:
        return _open(page, url, notebook, ready)
    finally:
        page.close()


def _wait_until_idle(*, busy_pct=15.0, timeout_s=900):
    """Until the machine's CPUs idle (preheated kernels done building their apps)."""
    import psutil

    deadline = time.time() + timeout_s
    while psutil.cpu_percent(interval=3) > busy_pct and time.time() < deadline:
        pass


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--output", type=Path, default=HERE / "BROWSER_LATENCY.md")
    ap.add_argument("--no-preheat", dest="preheat", action="store_false",
                    help="skip the second pass, which opens each app from `battlab gallery --preheat 1`")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    rows = []
    with tempfile.TemporaryDirectory() as log_dir, serve_voila(log_dir) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        for name, (notebook, ready, control) in APPS.items():
            print(f"[{name}] ...", flush=True)
            rows.append((name, *measure(browser, url, notebook, ready, control, args.changes)))
        browser.close()
    preheated = {}
    if args.preheat:
        with tempfile.TemporaryDirectory() as log_dir, serve_voila(log_dir, preheat=1) as url, \
                sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            for name, (notebook, ready, _) in APPS.items():
                _wait_until_idle()  # every app's kernel built (and the last visit's pool refilled)
                print(f"[{name}] preheated ...", flush=True)
                preheated[name] = _open_s(browser, url, notebook, ready)
            browser.close()
    lines = ["# battlab app latency in the browser", "",
             f"Generated by `benchmarks/browser_latency.py` on {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} "
             "UTC: real Voila, headless Chromium, demo data. Cold start: page request until the demo is analysed "
             f"and drawn (target < {TARGET_COLD_S:g} s). Round trip: one move of the app's control (below) until "
             "every figure it changes is on the page (the kernel's busy indicator hides after the last one is "
             f"sent), plus one animation frame (target p95 < {TARGET_ROUND_TRIP_MS:g} ms); first figure: until the "
             f"first plot changes. {args.changes} moves; figures unchanged by the move are updated in place or "
             "not at all, changed ones are patched in place where their layout allows.", "",
             "Moves measured counts the moves that changed a figure (a move may change none, e.g. a window "
             "already at its bound); a move with no answer within 60 s stops the measuring.", "",
             "Busy indicator: key press until the app's \"updating…\" indicator is visible; target "
             f"< {TARGET_BUSY_MS:g} ms.", "",
             "Preheated: the same page opened from `battlab gallery --preheat 1` (a second Voila server whose "
             "kernel for each app has already built it on its demo), once the machine is idle.", "",
             "| App | cold start (s) | preheated (s) | control | moves measured | p50 (ms) | p95 (ms) "
             "| first figure p50 (ms) | busy shown p50 / p95 (ms) |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for name, cold_s, label, times, busy, firsts in rows:
        shown = f"{np.percentile(busy, 50):.0f} / {np.percentile(busy, 95):.0f} ({len(busy)})" if busy else "—"
        warm = f"{preheated[name]:.1f}" if name in preheated else "—"
        if times:
            p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
            lines.append(f"| {name} | {cold_s:.1f} | {warm} | {label} | {len(times)} | {p50:.0f} | {p95:.0f} "
                         f"| {np.percentile(firsts, 50):.0f} | {shown} |")
        else:
            lines.append(f"| {name} | {cold_s:.1f} | {warm} | {label or '—'} | 0 | — | — | — | {shown} |")
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
