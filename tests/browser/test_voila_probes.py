"""The scanning-probes and element-maps app in real Voila and headless Chromium, offline."""

import re

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "15_probes_and_element_maps.ipynb"


def test_approach_model_and_element_ratio_offline(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "5 approach curve(s)")
    page = p.page
    plots = page.locator(".battlab-plot")
    assert plots.count() == 3
    # The approach curves with their fits and the residuals drew data, not only axes.
    for k in range(2):
        assert colored_pixels(plots.nth(k).screenshot()) > (800 if k == 1 else 1500), f"plot {k} shows no data"
    assert "κ" in page.locator(".battlab-table").inner_text()

    # Forcing the conductor model redraws the fitted curves.
    curves = plots.nth(0)
    before = curves.screenshot()
    model = page.locator(".widget-dropdown").filter(has=page.locator("label", has_text=re.compile(r"^Model$")))
    model.locator("select").select_option(label="conductor")
    assert wait_for_change(curves, before), "approach curves did not change after forcing the conductor model"

    # The EDS demo: ratio map with its uncertainty; another denominator redraws it.
    page.locator(".widget-dropdown select").first.select_option(
        label="EDS maps: NMC Ni-rich core / Mn-rich shell + shifted SEM")
    page.get_by_role("button", name="Load demo").click()
    page.wait_for_selector(".battlab-status:has-text('6 element map(s)')", timeout=120_000)
    page.wait_for_selector(".battlab-table:has-text('Ni/Mn')", timeout=30_000)
    ratio = plots.nth(0)
    assert colored_pixels(ratio.screenshot()) > 1500, "the ratio map is empty"
    before = ratio.screenshot()
    den = page.locator(".widget-dropdown").filter(has=page.locator("label", has_text=re.compile(r"^/$")))
    den.locator("select").select_option(label="Co")
    assert wait_for_change(ratio, before), "ratio map did not change after choosing another denominator"
    page.wait_for_selector(".battlab-table:has-text('Ni/Co')", timeout=30_000)
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
