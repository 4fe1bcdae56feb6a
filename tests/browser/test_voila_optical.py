"""The side-view optical app in real Voila and headless Chromium, offline: one page load.

The frame slider moves the frame and the voltage cursor; then a movie is uploaded through
the page's file chooser and analysed.
"""

import re
import time

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "05_operando_optical.ipynb"


def test_frame_slider_and_movie_upload_offline(new_page, gallery_url, tmp_path):
    from battlab.datasets.optical import make_graphite_movie, write_movie

    p = open_app(new_page, gallery_url, APP, "100 frames")
    page = p.page
    plots = page.locator(".battlab-plot")
    assert plots.count() == 6
    # frame, voltage, kymograph, expansion, stage fractions and the cycle comparison all drew data
    for k in range(6):
        assert colored_pixels(plots.nth(k).screenshot()) > 1500, f"plot {k} shows no data"
    assert "front n" in page.locator(".battlab-table").inner_text()
    assert "no shorts" in page.locator(".battlab-events").inner_text()

    frame_plot, voltage = plots.nth(0), plots.nth(1)
    before_frame, before_voltage = frame_plot.screenshot(), voltage.screenshot()
    slider = page.locator(".widget-slider").filter(has=page.locator("label", has_text=re.compile(r"^Frame$")))
    readout = slider.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("45")
    page.keyboard.press("Enter")
    assert wait_for_change(frame_plot, before_frame), "frame image did not change after moving the frame slider"
    assert wait_for_change(voltage, before_voltage), "voltage cursor did not move with the frame slider"
    assert readout.inner_text().strip() == "45"
    assert not page.locator(".battlab-error").is_visible()

    # The re-analysis a clock offset starts (the whole 100-frame movie, about a second) runs off
    # the kernel's thread: the kernel reports itself idle, ready for the page's next message,
    # while the busy indicator still shows the analysis under way.
    busy = page.locator(".battlab-busy")
    offset = page.locator(".widget-text").filter(
        has=page.locator("label", has_text=re.compile(r"^Clock offset \(s\)$"))).locator("input")
    page.wait_for_timeout(1500)  # the page is quiet: every earlier message was answered
    before_voltage = voltage.screenshot()
    offset.fill("240")
    moved = time.perf_counter()
    offset.press("Enter")
    busy.wait_for(state="visible", timeout=10_000)
    busy.wait_for(state="hidden", timeout=180_000)
    analysed = time.perf_counter()
    idle_while_busy = [t - moved for t in p.idle_at if moved < t < analysed - 0.2]
    assert idle_while_busy, (f"the kernel answered nothing during the {analysed - moved:.1f} s analysis: it ran on the "
                             "kernel's own thread")
    assert wait_for_change(voltage, before_voltage), "the clock offset did not move the frames on the voltage curve"
    assert not page.locator(".battlab-error").is_visible()

    # a 24-frame ImageJ TIFF with its frame interval, uploaded through the real file chooser
    demo = make_graphite_movie(n_frames=24, lithiation_frames=16)
    movie = write_movie(demo.data["movie"], tmp_path / "cell.tif", format="imagej-tiff", frame_interval_s=60.0,
                        pixel_size_um=0.5)
    kymo = plots.nth(2)
    before_kymo = kymo.screenshot()
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").first.click()
    chooser.value.set_files(str(movie))
    page.wait_for_selector(".battlab-status >> text=24 frames", timeout=180_000)
    assert "cell.tif" in page.locator(".battlab-status").inner_text()
    assert wait_for_change(kymo, before_kymo), "the kymograph did not show the uploaded movie"
    assert not page.locator(".battlab-error").is_visible()
    assert "peak ε (%)" in page.locator(".battlab-table").inner_text()
    assert "Traceback" not in page.content()
    p.assert_clean()
