"""The in situ TEM app in real Voila and headless Chromium, offline."""

import re

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "06_in_situ_tem.ipynb"


def _tab(page, name):
    page.locator(".lm-TabBar-tab", has_text=name).first.click()


def test_tabs_frame_slider_and_diffraction_offline(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "60 frames")
    page = p.page
    visible = page.locator(".battlab-plot:visible")
    assert visible.count() == 2  # frame and expansion on the first tab
    # the expansion curve (green) and the kymograph line over the frame (yellow) are drawn
    assert colored_pixels(visible.nth(1).screenshot()) > 800, "the expansion plot shows no data"
    assert "expansion (%)" in page.locator(".battlab-table").inner_text()

    frame_plot = visible.nth(0)
    before = frame_plot.screenshot()
    slider = page.locator(".widget-slider").filter(has=page.locator("label", has_text=re.compile(r"^Frame$")))
    slider.locator(".noUi-handle").focus()
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    assert wait_for_change(frame_plot, before), "frame plot did not change after moving the frame slider"
    assert slider.locator(".widget-readout").inner_text().strip() == "30"

    _tab(page, "Fronts & kinetics")
    page.wait_for_selector(".battlab-table:has-text('ΔAIC')", timeout=90_000)
    plots = page.locator(".battlab-plot:visible")
    assert plots.count() == 2
    for k in range(2):
        assert colored_pixels(plots.nth(k).screenshot()) > 800, f"fronts plot {k} shows no data"
    assert "Two regimes" in page.locator(".battlab-table").inner_text()

    _tab(page, "Diffraction")
    page.wait_for_selector(".battlab-table:has-text('Li2O')", timeout=60_000)
    plots = page.locator(".battlab-plot:visible")
    assert colored_pixels(plots.nth(0).screenshot()) > 5000  # the pattern (inferno colour map)
    assert colored_pixels(plots.nth(1).screenshot()) > 500  # reference sticks of the top phases
    table = page.locator(".battlab-table").inner_text()
    assert "LiF" in table and "Li2O" in table
    # the 4D-STEM virtual detector: its mean pattern (inferno) is drawn further down the tab
    plots = page.locator(".battlab-plot:visible")
    stem = plots.nth(plots.count() - 2)  # the tab's last two plots: mean pattern + detector, virtual image
    stem.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    assert colored_pixels(stem.screenshot()) > 2000, "the 4D-STEM mean pattern is not drawn"

    _tab(page, "Spectroscopy")
    page.locator(".widget-toggle-button", has_text=re.compile(r"^EDS$")).first.click()
    page.wait_for_selector(".battlab-table:has-text('at.%')", timeout=60_000)
    assert "Ni" in page.locator(".battlab-table").inner_text()
    assert not page.locator(".battlab-error").is_visible()

    _tab(page, "Dose")
    page.wait_for_selector(".battlab-table:has-text('e⁻/Å² per frame')", timeout=30_000)
    assert "0.1001" in page.locator(".battlab-table").inner_text()
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
