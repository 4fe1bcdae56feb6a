"""The AFM app in real Voila and headless Chromium, offline."""

import re

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "07_afm.ipynb"


def test_levelling_force_map_and_series_offline(new_page, gallery_url, tmp_path):
    p = open_app(new_page, gallery_url, APP, "256×256 px")
    page = p.page
    plots = page.locator(".battlab-plot")
    assert plots.count() == 3
    # Before/after maps, the histogram + PSD and the profile line drew data, not only axes.
    for k in range(3):
        assert colored_pixels(plots.nth(k).screenshot()) > (800 if k == 2 else 1500), f"plot {k} shows no data"
    assert "Sq" in page.locator(".battlab-table").inner_text()

    # Another levelling: the "levelled" map and the roughness table change.
    maps = plots.nth(0)
    before = maps.screenshot()
    table_before = page.locator(".battlab-table").inner_text()
    levelling = page.locator(".widget-dropdown").filter(has=page.locator("label", has_text=re.compile("^Levelling$")))
    levelling.locator("select").select_option(label="none")
    assert wait_for_change(maps, before), "maps did not change after switching the levelling off"
    page.wait_for_function("t => document.querySelector('.battlab-table').innerText !== t", arg=table_before,
                           timeout=30_000)

    # Two clicks on the map draw a new profile line (Bokeh Tap events reach Python over the comm).
    profile_plot = plots.nth(2)
    before = profile_plot.screenshot()
    table_before = page.locator(".battlab-table").inner_text()
    box = maps.locator("canvas").first.bounding_box()
    for fx, fy in ((0.25, 0.3), (0.45, 0.65)):  # inside the first map (about 0.17–0.52 of the canvas width)
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        page.wait_for_timeout(400)
    page.wait_for_function("t => document.querySelector('.battlab-table').innerText !== t", arg=table_before,
                           timeout=30_000)
    assert wait_for_change(profile_plot, before), "the profile did not change after clicking two points"
    assert "Profile (" in page.locator(".battlab-table").inner_text()

    # The force-volume demo: a modulus map and a force curve with its fit.
    page.locator(".widget-dropdown select").first.select_option(label="Force-volume map: two phases (1.5 and 20 GPa)")
    page.get_by_role("button", name="Load demo").click()
    page.wait_for_selector(".battlab-status:has-text('256 force curve(s)')", timeout=120_000)
    page.wait_for_selector(".battlab-table:has-text('E (GPa)')", timeout=30_000)
    assert colored_pixels(plots.nth(0).screenshot()) > 1500, "the modulus map is empty"
    curve_plot = plots.nth(1)
    before = curve_plot.screenshot()
    slider = page.locator(".widget-slider").filter(has=page.locator("label", has_text=re.compile(r"^Curve$")))
    slider.locator(".noUi-handle").focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert wait_for_change(curve_plot, before), "force-curve plot did not change after moving the curve slider"

    # The EC-AFM series: moving the frame slider redraws the registered frame.
    page.locator(".widget-dropdown select").first.select_option(label="EC-AFM: SEI growth and graphite step swelling")
    page.get_by_role("button", name="Load demo").click()
    page.wait_for_selector(".battlab-status:has-text('EC-AFM series of 12 frames')", timeout=120_000)
    page.wait_for_selector(".battlab-table:has-text('SEI (nm)')", timeout=30_000)
    frame_plot = plots.nth(0)
    before = frame_plot.screenshot()
    slider = page.locator(".widget-slider").filter(has=page.locator("label", has_text=re.compile(r"^Frame$")))
    slider.locator(".noUi-handle").focus()
    for _ in range(11):
        page.keyboard.press("ArrowRight")
    assert wait_for_change(frame_plot, before), "frame did not change after moving the frame slider"
    assert not page.locator(".battlab-error").is_visible()

    # The same series uploaded as 12 text files at once through the "Series frames" button.
    import numpy as np

    from battlab.datasets.afm import make_ecafm_series

    paths = []
    for i, frame in enumerate(make_ecafm_series().data.values):
        path = tmp_path / f"ecafm_{i + 1}.txt"
        np.savetxt(path, frame, fmt="%.4f", header="Channel: Height\nWidth: 5.12 µm\nValue units: nm", comments="# ")
        paths.append(str(path))
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").filter(has_text="Series frames").first.click()
    chooser.value.set_files(paths)
    page.wait_for_selector(".battlab-status:has-text('EC-AFM series of 12 frames from 12 files')", timeout=120_000)
    page.wait_for_selector(".battlab-table:has-text('SEI (nm)')", timeout=30_000)
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
