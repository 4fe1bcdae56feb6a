"""The GITT app in real Voila and headless Chromium, offline: controls, then a corrupt → valid upload."""

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


def test_corrupt_then_valid_upload(new_page, gallery_url, tmp_path, real_data):
    """A damaged EC-Lab file gets a message naming it; the sound file then replaces the demo."""
    real = real_data / "biologic" / "cellpy_biol.mpr"
    p = open_app(new_page, gallery_url, APP, "190 pulses")
    page = p.page
    corrupt = tmp_path / "corrupt_gitt.mpr"
    data = real.read_bytes()
    corrupt.write_bytes(data[:6000] + b"\xff\x00" * 64)
    for path, wait in ((corrupt, ".battlab-error >> text=corrupt_gitt.mpr"),
                       (real, ".battlab-status:has-text('cellpy_biol.mpr'):has-text('analysed in')")):
        with page.expect_file_chooser() as chooser:
            page.locator(".widget-upload").first.click()
        chooser.value.set_files(str(path))
        page.wait_for_selector(wait, timeout=90_000)
        html = page.content()
        assert "Traceback" not in html and str(tmp_path) not in html and "/work/" not in html
    page.locator(".battlab-error").first.wait_for(state="hidden", timeout=10_000)
    assert "4 pulses" in page.locator(".battlab-status").inner_text()
    p.assert_clean()
