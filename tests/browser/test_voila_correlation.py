"""The correlation app in real Voila and headless Chromium, offline."""

import pytest

from battlab.apps.correlation import _multimodal
from tests.browser.conftest import colored_pixels, open_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "12_correlation.ipynb"


def _upload(page, path):
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").first.click()
    chooser.value.set_files(str(path))


def test_timeline_offsets_maps_and_an_uploaded_table_offline(new_page, gallery_url, tmp_path):
    p = open_app(new_page, gallery_url, APP, "4 maps")
    page = p.page
    timeline = page.locator(".battlab-plot").first
    assert colored_pixels(timeline.screenshot()) > 1500, "the linked timeline panels show no data"
    assert "At the cursor" in page.content()

    page.get_by_role("button", name="Estimate offsets").click()
    page.wait_for_selector(".battlab-status:has-text('Estimated clock offsets')", timeout=90_000)
    assert "xrd: -420 s" in page.locator(".battlab-status").inner_text()

    page.get_by_role("tab", name="Reality check").click()
    page.wait_for_selector("text=consistent with the charge passed", timeout=30_000)

    page.get_by_role("tab", name="Maps").click()
    page.wait_for_selector(".battlab-status:has-text('Registered afm_height in xray_absorption')", timeout=120_000)
    assert "rotation 17.0" in page.locator(".battlab-status").inner_text()
    page.wait_for_selector("text=Per-particle correlation", timeout=30_000)

    # Landmarks picked by clicking: three clicks on the map to place, three on the reference.
    page.get_by_role("button", name="Pick by clicking").click()
    page.wait_for_selector(".battlab-status:has-text('Click a feature')", timeout=30_000)
    visible = [page.locator(".battlab-plot").nth(k) for k in range(page.locator(".battlab-plot").count())]
    reference_plot, moving_plot = [p for p in visible if p.is_visible()][:2]
    for plot in (moving_plot, reference_plot):
        box = plot.locator("canvas").first.bounding_box()
        for fx, fy in ((0.35, 0.4), (0.55, 0.55), (0.45, 0.7)):
            page.mouse.click(box["x"] + fx * box["width"] * 0.8, box["y"] + fy * box["height"])
            page.wait_for_timeout(400)
    page.wait_for_function("() => [...document.querySelectorAll('textarea')].some("
                           "t => t.value.trim().split('\\n').length === 3)", timeout=30_000)
    page.get_by_role("button", name="Fit landmarks").click()
    page.wait_for_selector(".battlab-status:has-text('from 3 landmarks')", timeout=60_000)

    # The scatter matrix (linked brushing in BokehJS) draws its points.
    page.get_by_role("tab", name="Statistics").click()
    page.wait_for_selector("text=common time points", timeout=30_000)
    stats_plots = [k for k in range(page.locator(".battlab-plot").count())
                   if page.locator(".battlab-plot").nth(k).is_visible()]
    assert stats_plots, "no plot visible on the Statistics tab"
    assert max(colored_pixels(page.locator(".battlab-plot").nth(k).screenshot()) for k in stats_plots) > 1500

    # A corrupt table is refused with a message; then an exported results table joins the timeline.
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"\x00\x01\x02garbage" * 100)
    _upload(page, bad)
    page.wait_for_selector(".battlab-error >> text=not a text table", timeout=60_000)
    good = tmp_path / "xrd_rerun.csv"
    _multimodal().data.tables["xrd"].to_csv(good, index=False)
    _upload(page, good)
    page.wait_for_selector(".battlab-status:has-text('xrd_rerun (42 rows)')", timeout=90_000)
    assert not page.locator(".battlab-error").is_visible()
    p.assert_clean()
