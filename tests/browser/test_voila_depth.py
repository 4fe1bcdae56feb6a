"""The depth-profiling app in real Voila and headless Chromium, offline."""

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "14_depth_profiling.ipynb"


def _tab(page, name):
    page.locator(".lm-TabBar-tab", has_text=name).first.click()


def test_ndp_bin_and_sims_tab_offline(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "NDP: 1 spectrum")
    page = p.page
    plots = page.locator(".battlab-plot:visible")
    assert plots.count() == 3  # spectrum, Li profile, time series placeholder
    # the spectrum's marked line and window, and the blue Li profile with its truth, drew data
    assert colored_pixels(plots.nth(0).screenshot()) > 800, "the NDP spectrum shows no data"
    assert colored_pixels(plots.nth(1).screenshot()) > 800, "the Li profile shows no data"
    assert "Li (atoms/cm²)" in page.locator(".battlab-table").inner_text()

    profile = plots.nth(1)
    before = profile.screenshot()
    box = page.locator(".widget-inline-hbox", has_text="Depth bin (µm)").locator("input")
    box.fill("1")
    box.press("Enter")
    assert wait_for_change(profile, before), "the Li profile did not redraw after changing the depth bin"

    _tab(page, "ToF-SIMS")
    page.wait_for_selector(".battlab-table:has-text('thickness')", timeout=60_000)
    plots = page.locator(".battlab-plot:visible")
    assert plots.count() == 4  # profile, ratio, ion map, ratio map
    for k in range(4):
        assert colored_pixels(plots.nth(k).screenshot()) > 800, f"SIMS plot {k} shows no data"
    assert "LiF-rich (inner)" in page.locator(".battlab-table").inner_text()

    _tab(page, "XPS depth")
    page.wait_for_selector(".battlab-table:has-text('Li at.%')", timeout=60_000)
    assert colored_pixels(page.locator(".battlab-plot:visible").nth(0).screenshot()) > 800
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
