"""The operando sensors app in real Voila and headless Chromium, offline: controls, then upload sequences."""

import struct
import zlib

import pytest

from tests.browser.conftest import colored_pixels, open_app, wait_for_change
from tests.conftest import TEST_DATA

pytestmark = [pytest.mark.slow, pytest.mark.browser]

APP = "11_operando_sensors.ipynb"


def test_sensor_app_renders_reacts_and_reports_bad_upload(new_page, gallery_url, tmp_path):
    p = open_app(new_page, gallery_url, APP, "2,384 samples")
    page = p.page
    plots = page.locator(".battlab-plot")
    assert plots.count() == 4
    # Lines and markers drew (the pulse train / sensor trace), not only the axes.
    assert colored_pixels(plots.nth(0).screenshot()) > 1500
    assert "Li⁺" in page.locator(".battlab-table").inner_text()

    # Crystal area: type a new value; the mass (top plot) rescales.
    top = plots.nth(0)
    before = top.screenshot()
    area = page.locator(".widget-inline-hbox", has_text="Electrode area").locator("input")
    area.fill("0.5")
    area.press("Enter")
    assert wait_for_change(top, before), "mass plot did not change after editing the electrode area"

    # Switch sensor: the MOSS demo opens with its stress plot.
    before = top.screenshot()
    page.get_by_role("button", name="MOSS stress").click()
    page.wait_for_selector(".battlab-status >> text=MOSS stress", timeout=60_000)
    assert wait_for_change(top, before), "plot did not change after switching to MOSS"

    # A garbage sensor file: a visible message, and the app still answers.
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x00\x01 not a sensor table " * 40)
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").first.click()
    chooser.value.set_files(str(garbage))
    banner = page.wait_for_selector(".battlab-error >> text=garbage.csv", timeout=60_000)
    assert banner.is_visible()
    before = top.screenshot()
    film = page.locator(".widget-inline-hbox", has_text="Film thickness").locator("input")
    film.fill("300")
    film.press("Enter")
    assert wait_for_change(top, before), "app stopped answering after a bad upload"
    p.assert_clean()


def _tiff_bomb(side=60000):
    """A 1 kB TIFF that declares one deflate strip of side × side 8-bit pixels (3.6 GB)."""
    data = zlib.compress(b"\0" * 1_000_000)
    entries = [(256, 4, side), (257, 4, side), (258, 3, 8), (259, 3, 8), (262, 3, 1), (273, 4, 8 + 2 + 9 * 12 + 4),
               (277, 3, 1), (278, 4, side), (279, 4, len(data))]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        for tag, kind, value in entries) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + data


def test_corrupt_then_valid_sensor_and_cycling_uploads(new_page, gallery_url, tmp_path, real_data):
    """A TIFF bomb, then sensor table and cycling file, each first damaged then sound: messages, then a result.

    The sensors app reads uploads with its own reader in the kernel, so a native file (the
    bomb) is first decoded in a child process with the memory budget: in real Voila that
    child, not the kernel, runs out of memory, and the page says the file could not be read.
    """
    p = open_app(new_page, gallery_url, APP, "2,384 samples")
    page = p.page
    page.get_by_role("button", name="MOSS stress").click()
    page.wait_for_selector(".battlab-status >> text=MOSS stress", timeout=60_000)
    cycling = real_data / "biologic" / "yadg_gcpl.issue_149.mpr"
    corrupt_sensor = tmp_path / "corrupt_moss.csv"
    corrupt_sensor.write_bytes(b"\x00\x01\xff" * 300)
    corrupt_cycling = tmp_path / "corrupt_cycling.mpr"
    corrupt_cycling.write_bytes(cycling.read_bytes()[:5000])
    sensor_upload = page.locator(".widget-upload").first
    cycling_upload = page.locator(".widget-upload", has_text="Cycling file")
    bomb = tmp_path / "bomb.tif"
    bomb.write_bytes(_tiff_bomb())
    steps = [
        (sensor_upload, bomb, ".battlab-error >> text=bomb.tif could not be read within the"),
        (sensor_upload, corrupt_sensor, ".battlab-error >> text=corrupt_moss.csv is a binary file"),
        (sensor_upload, TEST_DATA / "sensor_moss.csv", ".battlab-error >> text=now upload the cycling file"),
        (cycling_upload, corrupt_cycling, ".battlab-error >> text=corrupt_cycling.mpr"),
        (cycling_upload, cycling, ".battlab-status:has-text('sensor_moss.csv + yadg_gcpl.issue_149.mpr'):"
                                  "has-text('analysed in')"),
    ]
    for widget, path, wait in steps:
        with page.expect_file_chooser() as chooser:
            widget.click()
        chooser.value.set_files(str(path))
        page.wait_for_selector(wait, timeout=90_000)
        html = page.content()
        assert "Traceback" not in html and str(tmp_path) not in html and "/work/" not in html
    page.locator(".battlab-error").first.wait_for(state="hidden", timeout=10_000)
    p.assert_clean()
