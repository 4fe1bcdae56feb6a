"""The spectroscopy app in real Voila and headless Chromium, offline."""

import re

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "10_spectroscopy.ipynb"


def test_spectrum_slider_and_demo_switch_offline(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "60 spectra")
    page = p.page
    plots = page.locator(".battlab-plot")
    assert plots.count() == 3
    # The map, the spectrum with its bands and the tracked quantity drew data, not only axes.
    for k in range(3):
        # The spectrum itself is drawn grey; its fitted bands are the coloured pixels there.
        assert colored_pixels(plots.nth(k).screenshot()) > (800 if k == 1 else 1500), f"plot {k} shows no data"
    assert "position" in page.locator(".battlab-table").inner_text()

    spectrum = plots.nth(1)
    before = spectrum.screenshot()
    slider = page.locator(".widget-slider").filter(has=page.locator("label", has_text=re.compile(r"^Spectrum$")))
    slider.locator(".noUi-handle").focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    assert wait_for_change(spectrum, before), "spectrum plot did not change after moving the spectrum slider"
    assert slider.locator(".widget-readout").inner_text().strip() == "20"

    # SOC as the shared axis of the map and of the tracked band positions.
    tracking = plots.nth(2)
    before = tracking.screenshot()
    axis = page.locator(".widget-dropdown").filter(has=page.locator("label", has_text=re.compile(r"^x axis$")))
    axis.locator("select").select_option(label="SOC")
    assert wait_for_change(tracking, before), "the tracked quantity did not redraw against SOC"

    # Another technique from the demo menu: the XAS edge table replaces the band table.
    page.locator(".widget-dropdown select").first.select_option(label="XAS: Mn edge, two-state mixture over time")
    page.get_by_role("button", name="Load demo").click()
    page.wait_for_selector(".battlab-status:has-text('XAS (XANES): 40 spectra')", timeout=90_000)
    page.wait_for_selector(".battlab-table:has-text('E0 (eV)')", timeout=30_000)
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()


def test_mossbauer_demo_shows_site_table(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "60 spectra")
    page = p.page
    page.locator(".widget-dropdown select").first.select_option(
        label="Mössbauer: LiFePO4 → FePO4 doublets along charge")
    page.get_by_role("button", name="Load demo").click()
    page.wait_for_selector(".battlab-status:has-text('Mössbauer: 12 spectra')", timeout=90_000)
    page.wait_for_selector(".battlab-table:has-text('δ vs α-Fe')", timeout=30_000)
    assert "Fe3+ FePO4" in page.locator(".battlab-table").inner_text()
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
