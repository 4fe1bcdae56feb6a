"""The scattering app in real Voila and headless Chromium, offline."""

import re

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "13_scattering.ipynb"


def test_saxs_curve_slider_and_reflectometry_tab_offline(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "reflectivity: 10 curves")
    page = p.page
    plots = page.locator(".battlab-plot")
    # The I(q) with its Eq. (1) fit and components drew data, not only axes.
    iq = plots.nth(0)
    assert colored_pixels(iq.screenshot()) > 1500, "the I(q) plot shows no data"
    assert "R_g (Å)" in page.locator(".battlab-table").inner_text()

    before = iq.screenshot()
    slider = page.locator(".widget-slider").filter(has=page.locator("label", has_text=re.compile(r"^Curve$"))).first
    slider.locator(".noUi-handle").focus()
    for _ in range(15):
        page.keyboard.press("ArrowRight")
    assert wait_for_change(iq, before), "the I(q) plot did not change after moving the curve slider"
    assert slider.locator(".widget-readout").inner_text().strip() == "15"

    # The reflectometry tab: R·q⁴ with the layer model and the SLD profile are drawn there.
    page.get_by_text("Reflectometry", exact=True).click()
    page.wait_for_selector(".battlab-table:has-text('SEI:thickness_A')", timeout=60_000)
    rq = page.locator(".battlab-plot:visible").nth(0)
    rq.locator("canvas").first.wait_for(timeout=60_000)  # Bokeh draws into a shadow root; locators pierce it
    assert colored_pixels(rq.screenshot()) > 1500, "the reflectivity plot shows no data"
    before = rq.screenshot()
    page.get_by_role("button", name="Fit this curve").click()
    page.wait_for_selector("text=χ²_red", timeout=60_000)
    # Visible number inputs: the clock offset, then the layer table row by row (SEI thickness is the 8th).
    thickness = page.locator(".widget-text:visible input[type='number']").nth(7)
    thickness.fill("40")
    thickness.press("Enter")
    assert wait_for_change(rq, before), "the reflectivity plot did not redraw for an edited layer"
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
