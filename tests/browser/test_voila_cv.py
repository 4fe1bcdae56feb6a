"""The CV app in real Voila and headless Chromium, offline: one page load."""

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "02_cyclic_voltammetry.ipynb"


def test_cv_app_renders_and_answers_the_scan_rate_selector(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "24 sweeps")
    page = p.page
    plots = page.locator(".battlab-plot")
    assert plots.count() == 5
    assert "D (Randles–Ševčík" in page.locator(".battlab-table").inner_text()

    # Scan-rate multi-select: keep two rates, the voltammogram overlay must redraw.
    overlay = plots.nth(0)
    before = overlay.screenshot()
    # The curves themselves are drawn (not only axes and legend): a blank WebGL canvas
    # leaves ~500 coloured pixels, six voltammograms ~10,000.
    assert colored_pixels(before) > 4000
    rates = page.locator(".widget-select-multiple select")
    rates.select_option(["0.1", "2"])
    assert wait_for_change(overlay, before), "CV overlay did not change after choosing scan rates"
    assert colored_pixels(overlay.screenshot()) > 2000  # two voltammograms still drawn

    # One rate: the rate analyses switch off with an explanation, not an error banner.
    dunn = plots.nth(3)
    before = dunn.screenshot()
    rates.select_option(["1"])
    page.wait_for_selector(".battlab-status >> text=need two or more", timeout=60_000)
    assert wait_for_change(dunn, before), "Dunn plot did not switch to its explanation"
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
