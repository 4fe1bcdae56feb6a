"""The gallery and the cycling app in real Voila, in headless Chromium, offline.

Every page load blocks requests that leave localhost and fails if any was made, so the
apps are proven to render with no internet access.
"""

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "01_galvanostatic_cycling.ipynb"


def _open_app(new_page, gallery_url):
    return open_app(new_page, gallery_url, APP, "100 cycles")


def _upload(page, path):
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").click()
    chooser.value.set_files(str(path))


def test_gallery_lists_the_apps_and_opens_offline(new_page, gallery_url):
    p = new_page()
    p.page.goto(gallery_url, timeout=120_000)  # the root redirects to the gallery notebook
    link = p.page.wait_for_selector("a[href*='01_galvanostatic_cycling.ipynb']", timeout=120_000)
    assert "Galvanostatic cycling" in link.inner_text()
    p.assert_clean()


def test_sliders_update_plots_and_bad_upload_is_reported(new_page, gallery_url, tmp_path):
    p = _open_app(new_page, gallery_url)
    page = p.page
    plots = page.locator(".battlab-plot")
    assert plots.count() == 5
    # Every plot shows data, not only axes (lines and markers must draw without WebGL).
    for k in range(5):
        assert colored_pixels(plots.nth(k).screenshot()) > 1500, f"plot {k} shows no data"

    # Smoothing window: type a new value into the slider's readout.
    dqdv = plots.nth(1)
    before = dqdv.screenshot()
    readout = page.locator(".widget-slider", has_text="window (mV)").locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("40")
    page.keyboard.press("Enter")
    assert wait_for_change(dqdv, before), "dQ/dV plot did not change after moving the smoothing slider"

    # Cycle selector: move the upper handle one step with the keyboard.
    profiles = plots.nth(0)
    before = profiles.screenshot()
    cycles = page.locator(".widget-slider", has_text="Cycles")
    cycles.locator(".noUi-handle-upper").focus()
    page.keyboard.press("ArrowRight")
    assert wait_for_change(profiles, before), "voltage profiles did not change after moving the cycle selector"
    assert cycles.locator(".widget-readout").inner_text().replace(" ", "") == "1–11"

    # A garbage file: a visible message, then the app still answers.
    garbage = tmp_path / "garbage.mpr"
    garbage.write_bytes(b"\x00\x01 not an instrument file " * 40)
    _upload(page, garbage)
    banner = page.wait_for_selector(".battlab-error >> text=garbage.mpr", timeout=60_000)
    assert banner.is_visible()
    before = dqdv.screenshot()
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("10")
    page.keyboard.press("Enter")
    assert wait_for_change(dqdv, before), "app stopped answering after a bad upload"
    p.assert_clean()


def test_real_file_upload_and_download(new_page, gallery_url, real_data):
    p = _open_app(new_page, gallery_url)
    page = p.page
    real = real_data / "biologic" / "yadg_gcpl.pr_182.1.mpr"
    table = page.locator(".battlab-table")
    before = table.inner_text()
    _upload(page, real)
    page.wait_for_selector(f".battlab-status >> text={real.name}", timeout=90_000)
    page.wait_for_function("(b) => document.querySelector('.battlab-table').innerText !== b", arg=before,
                           timeout=60_000)
    assert not page.locator(".battlab-error").is_visible()
    assert "CE (%)" in table.inner_text()
    page.get_by_role("button", name="Prepare download").click()
    link = page.wait_for_selector("a.battlab-download", timeout=120_000)
    assert link.get_attribute("href").startswith("data:application/zip;base64,")
    p.assert_clean()
