"""The impedance app in real Voila, in headless Chromium, offline (one page load)."""

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "03_impedance.ipynb"


def _set_circuit(page, text):
    box = page.locator(".widget-text", has_text="Circuit").locator("input")
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_circuit_change_refits_and_bad_circuit_is_reported(new_page, gallery_url):
    p = open_app(new_page, gallery_url, APP, "1 spectrum")
    page = p.page
    plots = page.locator(".battlab-plot")
    assert plots.count() == 6  # Nyquist, Bode, DRT, KK, fit residuals, series trend (hidden for one spectrum)
    assert colored_pixels(plots.nth(0).screenshot()) > 1500  # the Nyquist points and fit drew
    table = page.locator(".battlab-table")
    assert "Lin-KK passes" in table.inner_text()

    # A simpler circuit: the fit (and the Nyquist overlay) changes.
    nyquist = plots.nth(0)
    before = nyquist.screenshot()
    _set_circuit(page, "R0-p(R1,C1)")
    assert wait_for_change(nyquist, before), "Nyquist plot did not change after a new circuit"
    page.wait_for_selector(".battlab-table >> text=C1", timeout=60_000)

    # The frequency marker moves on the Bode plot too (the two views are linked by it).
    bode = plots.nth(1)
    before = bode.screenshot()
    marker = page.locator(".widget-slider", has_text="mark f")
    marker.locator(".noUi-handle, .slider-handle, [role=slider]").first.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert wait_for_change(bode, before), "Bode plot did not follow the frequency marker"

    # A broken circuit string: a banner that says how to write one, no traceback.
    _set_circuit(page, "R0-p(R1,C1")
    banner = page.wait_for_selector(".battlab-error >> text=p(a,b)", timeout=60_000)
    assert banner.is_visible()

    # The app still answers.
    before = nyquist.screenshot()
    _set_circuit(page, "R0-p(R1,CPE1)-W1")
    assert wait_for_change(nyquist, before), "app stopped answering after a bad circuit"
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
