"""The X-ray microscopy app in real Voila and headless Chromium, offline."""

import re

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "08_xray_microscopy.ipynb"


def test_slice_slider_and_xanes_demo_offline(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "48×48×48 voxels")
    page = p.page
    plots = page.locator(".battlab-plot:visible")
    assert plots.count() == 4
    # Slice with its segmentation overlay, porosity profile, pore sizes and tortuosity all drew data.
    for k in range(4):
        assert colored_pixels(plots.nth(k).screenshot()) > 1500, f"plot {k} shows no data"
    assert "τ z" in page.locator(".battlab-table").inner_text()
    # The progress bar of the analysis reached its end on the page.
    assert page.locator(".widget-html:has-text('100 %')").first.is_visible()
    assert page.locator(".progress-bar-success").first.is_visible()

    slice_plot = plots.nth(0)
    before = slice_plot.screenshot()
    slider = page.locator(".widget-slider:visible").filter(has=page.locator("label", has_text=re.compile(r"^Slice$")))
    readout = slider.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    assert wait_for_change(slice_plot, before), "slice image did not change after moving the slice slider"
    assert readout.inner_text().strip() == "5"

    # The XANES demo switches to the map tab: SOC map, pixel fit and histogram.
    page.locator(".widget-dropdown select").first.select_option(label="XANES: LiFePO4/FePO4 particles, known SOC map")
    page.get_by_role("button", name="Load demo").click()
    page.wait_for_selector(".battlab-status:has-text('XANES stack: 46 energies')", timeout=90_000)
    page.wait_for_selector(".battlab-table:has-text('mean SOC')", timeout=30_000)
    maps = page.locator(".battlab-plot:visible")
    assert maps.count() == 3
    for k in range(3):
        assert colored_pixels(maps.nth(k).screenshot()) > 1000, f"XANES plot {k} shows no data"
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
