"""Corrupt, oversized, then valid uploads in real Voila, for the apps not in test_voila_hardening.py.

Each app gets one page and three uploads through its main upload button (the first
``.widget-upload``): a corrupt file with an accepted suffix (a battlab message naming the
file), a file just above the upload limit (refused in the browser, nothing sent over the
websocket) and a valid file (analysed: its name in the status line, banner hidden, the
plots redrawn). The page never shows a traceback or a server path and no request leaves
localhost. Valid files are real instrument files where one of the app's kind exists
below the limit, else small files written from battlab's own demo generators.

The module has its own Voila server: the limit (4 MB) fits the largest valid file, the real
3.6 MB BioLogic GITT run, and 64 kB chunks make every valid file travel in acknowledged pieces.
"""

import time

import numpy as np
import pandas as pd
import pytest

from tests.browser.conftest import banner_text, open_app, serve_voila, upload_file

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LIMIT_MB = 4.0
CHUNK_KB = 64


@pytest.fixture(scope="module")
def limit_url(chromium_path, tmp_path_factory):
    with serve_voila(tmp_path_factory.mktemp("voila-upload-sequences"),
                     env_extra={"BATTLAB_UPLOAD_LIMIT_MB": str(LIMIT_MB), "BATTLAB_UPLOAD_CHUNK_KB": str(CHUNK_KB)}) as url:
        yield url


# --- valid files written from battlab's demo generators (no real file of the kind exists) --------
def _optical_movie(tmp_path):
    from battlab.datasets.optical import make_graphite_movie, write_movie

    demo = make_graphite_movie(n_frames=24, lithiation_frames=16)
    return write_movie(demo.data["movie"], tmp_path / "cell_ij.tif", format="imagej-tiff", frame_interval_s=60.0)


def _eqcm_table(tmp_path):
    """An EQCM export with its own potential and current columns (sampled on the cycler's clock)."""
    from battlab.datasets import make_eqcm

    demo = make_eqcm()
    sensor, echem = demo.data.sensor, demo.data.echem
    t = sensor["unix_time_s"].to_numpy()
    table = pd.DataFrame({"Time (s)": sensor["sensor_time_s"], "Δf3 (Hz)": sensor["frequency_shift_Hz"],
                          "ΔD3": sensor["dissipation_shift"],
                          "Potential (V)": np.interp(t, echem["unix_time_s"], echem["voltage_V"]),
                          "Current (mA)": 1e3 * np.interp(t, echem["unix_time_s"], echem["current_A"])})
    path = tmp_path / "my_eqcm.csv"
    table.to_csv(path, index=False)
    return path


def _xrd_table(tmp_path):
    from battlab.apps.correlation import _multimodal

    path = tmp_path / "xrd_rerun.csv"
    _multimodal().data.tables["xrd"].to_csv(path, index=False)
    return path


def _reflectivity_curve(tmp_path):
    from battlab.datasets.scattering import make_reflectivity_series

    curve = make_reflectivity_series(n_curves=2).data.isel(time=1)
    rows = zip(curve["q_inv_A"].values, curve.values, curve["sigma"].values, curve["dq_inv_A"].values, strict=True)
    path = tmp_path / "cell.ort"
    path.write_text("# # ORSO reflectivity data file\n# Qz R sR sQz\n"
                    + "\n".join(f"{q:.8g} {r:.8g} {s:.8g} {d:.8g}" for q, r, s, d in rows))
    return path


def _ndp_spectrum(tmp_path):
    from battlab.datasets.depth import make_ndp_profile

    ndp = make_ndp_profile(rng=3).data["spectrum"]
    path = tmp_path / "my_ndp.csv"
    pd.DataFrame({"channel": ndp["channel"].to_numpy(), "counts": ndp.to_numpy()}).to_csv(path, index=False)
    return path


def _approach_curve(tmp_path):
    from battlab.datasets.probes import make_approach_curve

    d = make_approach_curve(kind="kinetic", kappa=1.0)
    path = tmp_path / "curve.csv"
    path.write_text("Distance (nm),Current (pA)\n" + "\n".join(
        f"{a * 1e3},{b * 1e3}" for a, b in zip(d.data["distance_um"], d.data["current_nA"], strict=True)))
    return path


# (notebook, status text once the demo is analysed, corrupt file, valid file).
# A corrupt file is a real file's head plus garbage ("real:<path>" with the suffix it keeps)
# or binary junk under a text suffix ("junk:<suffix>"). A valid file is "real:<path>" or a
# writer above.
CASES = {
    "gitt": ("04_gitt.ipynb", "190 pulses", "real:biologic/cellpy_biol.mpr", "real:biologic/cellpy_biol.mpr"),
    # the corrupt movie is a cut QuickTime file: ffmpeg's own report must not reach the page
    "optical": ("05_operando_optical.ipynb", "100 frames", "real:optical-video/pims_bulk-water.mov", _optical_movie),
    # a real Velox image: it replaces the movie on the tab the app opens on (an EELS .dm3 would
    # land on the EELS tab, which the app does not switch to)
    "tem": ("06_in_situ_tem.ipynb", "60 frames", "real:tem/ncempy_08_carbon.dm3",
            "real:tem/ncempy_Camera_Ceta_Imaging_Micro.emd"),
    "afm": ("07_afm.ipynb", "256×256 px", "real:afm/nanoscope_full_multiple_images.spm",
            "real:afm/nanoscope_full_multiple_images.spm"),
    "xrm": ("08_xray_microscopy.ipynb", "48×48×48 voxels", "real:tiff-stack/pims_stuck.tif",
            "real:tiff-stack/pims_stuck.tif"),
    "sensors": ("11_operando_sensors.ipynb", "2,384 samples", "junk:.csv", _eqcm_table),
    "correlation": ("12_correlation.ipynb", "4 maps", "junk:.csv", _xrd_table),
    "scattering": ("13_scattering.ipynb", "reflectivity: 10 curves", "junk:.ort", _reflectivity_curve),
    "depth": ("14_depth_profiling.ipynb", "NDP: 1 spectrum", "junk:.csv", _ndp_spectrum),
    "probes": ("15_probes_and_element_maps.ipynb", "5 approach curve(s)", "junk:.csv", _approach_curve),
}


def _assert_no_leak(p, *folders):
    html = p.page.content()
    for bad in ("Traceback", 'File "/', "/work/", "/tmp/", "/root/", "/.cache/", *map(str, folders)):
        assert bad not in html, f"page shows {bad!r}"
    p.assert_clean()


def _visible_plot_shots(page) -> dict:
    plots = page.locator(".battlab-plot")
    return {k: plots.nth(k).screenshot() for k in range(plots.count()) if plots.nth(k).is_visible()}


def _wait_for_redraw(page, before: dict, timeout_s: float = 60.0) -> bool:
    """Poll until a visible plot differs from its picture in ``before`` (or a plot that was hidden shows)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        plots = page.locator(".battlab-plot")
        for k in range(plots.count()):
            if plots.nth(k).is_visible() and (k not in before or plots.nth(k).screenshot() != before[k]):
                return True
        time.sleep(0.3)
    return False


def _corrupt_file(spec, tmp_path, real_data):
    if spec.startswith("junk:"):
        path = tmp_path / f"corrupt{spec[5:]}"
        path.write_bytes(b"\x00\x01\x02garbage" * 100)
        return path
    real = real_data / spec[5:]
    data = real.read_bytes()
    path = tmp_path / f"corrupt{real.suffix}"
    path.write_bytes(data[:min(6000, len(data) // 3)] + b"\xff\x00" * 64)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_corrupt_then_oversized_then_valid_upload(new_page, limit_url, tmp_path, request, case):
    notebook, ready, corrupt_spec, valid_spec = CASES[case]
    needs_real = isinstance(valid_spec, str) or corrupt_spec.startswith("real:")
    real_data = request.getfixturevalue("real_data") if needs_real else tmp_path
    valid = real_data / valid_spec[5:] if isinstance(valid_spec, str) else valid_spec(tmp_path)
    assert 0 < valid.stat().st_size < LIMIT_MB * 1e6
    corrupt = _corrupt_file(corrupt_spec, tmp_path, real_data)

    p = open_app(new_page, limit_url, notebook, ready)
    page, sent = p.page, p.sent_frames
    assert f"max {LIMIT_MB:g} MB per file" in page.content()  # the limit is shown before uploading

    # 1. corrupt: battlab's message naming the file, and nothing more
    upload_file(page, corrupt)
    first = banner_text(page, corrupt.name, timeout_ms=90_000)
    assert "unexpected" not in first, first
    _assert_no_leak(p, tmp_path, real_data)

    # 2. oversized: refused in the browser at once, nothing sent
    oversized = tmp_path / f"oversized{valid.suffix}"
    oversized.write_bytes(valid.read_bytes()[:64] + b"\0" * int(LIMIT_MB * 1e6 * 1.05))
    sent.clear()
    upload_file(page, oversized)
    page.wait_for_selector(".battlab-upload-note[data-kind=refused]", timeout=5_000)
    second = banner_text(page, "upload limit")
    assert second != first and oversized.name in second and "not sent" in second, second
    assert max(sent, default=0) < 10_000, f"the oversized file was sent ({max(sent)} bytes in one message)"
    _assert_no_leak(p, tmp_path, real_data)

    # 3. valid: analysed, banner gone, plots redrawn
    before = _visible_plot_shots(page)
    sent.clear()
    upload_file(page, valid)
    if case == "sensors":
        # A new sample never inherits the demo's crystal area: the app asks for it by name,
        # and the analysis (status without "analysed in", set by the parameter callback) follows the entry.
        banner_text(page, f"{valid.name}: enter the electrode area", timeout_ms=90_000)
        area = page.locator(".widget-inline-hbox", has_text="Electrode area").locator("input")
        area.fill("1.37")
        area.press("Enter")
        page.wait_for_selector(f".battlab-status:has-text('{valid.name} — EQCM')", timeout=90_000)
    else:
        # "<name> — <summary> (analysed in …)" is set only after a successful analysis (BaseApp._accept_data).
        page.wait_for_selector(f".battlab-status:has-text('{valid.name}'):has-text('analysed in')", timeout=90_000)
    page.locator(".battlab-error").first.wait_for(state="hidden", timeout=30_000)
    assert _wait_for_redraw(page, before), "no plot showed the valid file"
    # every byte crossed, in acknowledged chunks no bigger than one chunk (plus framing)
    assert sum(sent) >= valid.stat().st_size and max(sent) < (CHUNK_KB + 6) * 1024, (sum(sent), max(sent))
    _assert_no_leak(p, tmp_path, real_data)
