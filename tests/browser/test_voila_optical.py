"""The side-view optical app in real Voila and headless Chromium, offline: one page load."""

import re

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "05_operando_optical.ipynb"


def test_frame_slider_moves_frame_and_voltage_cursor_offline(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "100 frames")
    page = p.page
    plots = page.locator(".battlab-plot")
    assert plots.count() == 5
    # frame, voltage, kymograph, expansion and stage fractions all drew data, not only axes
    for k in range(5):
        assert colored_pixels(plots.nth(k).screenshot()) > 1500, f"plot {k} shows no data"
    assert "front n" in page.locator(".battlab-table").inner_text()

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
    assert "Traceback" not in page.content()
    p.assert_clean()
