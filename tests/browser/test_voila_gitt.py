"""The GITT app in real Voila and headless Chromium, offline: one page load."""

import re

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "04_gitt.ipynb"


def test_pulse_selector_updates_the_zoom_offline(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "190 pulses")
    page = p.page
    plots = page.locator(".battlab-plot")
    assert plots.count() == 4
    # Lines and markers drew (the pulse train / sensor trace), not only the axes.
    assert colored_pixels(plots.nth(0).screenshot()) > 1500
    # The geometry inputs are on the page, filled from the demo.
    assert page.locator(".widget-text", has_text="Molar volume V_M").count() == 1
    assert "D WH (cm²/s)" in page.locator(".battlab-table").inner_text()

    zoom = plots.nth(1)
    before = zoom.screenshot()
    slider = page.locator(".widget-slider").filter(has=page.locator("label", has_text=re.compile(r"^Pulse$")))
    slider.locator(".noUi-handle").focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert wait_for_change(zoom, before), "pulse zoom did not change after moving the pulse selector"
    assert slider.locator(".widget-readout").inner_text().strip() == "6"
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
