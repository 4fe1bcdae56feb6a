"""Corrupt, oversized, then valid uploads in real Voila: message, message, result.

This module starts its own Voila server with a small upload limit
(``BATTLAB_UPLOAD_LIMIT_MB=0.25``) so that "oversized" is a 0.3 MB file rather than a
100 MB one; the shared gallery server of the other browser tests is left as it is. The
page must never show a traceback or a server file path, and no request may leave
localhost.
"""

import pytest

from tests.browser.conftest import (
    banner_text,
    open_app,
    serve_voila,
    upload_file,
    wait_for_change,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LIMIT_MB = 0.25


@pytest.fixture(scope="module")
def small_limit_url(chromium_path, tmp_path_factory):
    with serve_voila(tmp_path_factory.mktemp("voila-small-limit"),
                     env_extra={"BATTLAB_UPLOAD_LIMIT_MB": str(LIMIT_MB),
                                # 64 kB chunks: the valid files travel in several acknowledged pieces
                                "BATTLAB_UPLOAD_CHUNK_KB": "64"}) as url:
        yield url


def _assert_no_leak(p, tmp_path):
    html = p.page.content()
    for bad in ("Traceback", "/work/", str(tmp_path), 'File "/', "/tmp/"):
        assert bad not in html, f"page shows {bad!r}"
    p.assert_clean()


# (notebook, text shown once the demo is analysed, real instrument file that is valid).
# The sensors app has its own bad-upload browser test: after a valid sensor file it asks
# for the electrode area of the new sample, so it does not end on "analysed".
CASES = {
    "cycling": ("01_galvanostatic_cycling.ipynb", "100 cycles", "biologic/yadg_gcpl.issue_149.mpr"),
    "cv": ("02_cyclic_voltammetry.ipynb", "24 sweeps", "biologic/yadg_cv.mpr"),
    "eis": ("03_impedance.ipynb", "1 spectrum", "biologic/impedancepy_exampleDataBioLogic.mpr"),
    "xrd": ("09_operando_xrd.ipynb", "80 patterns", "xrd/yadg_210520step1_30min.xrdml"),
    "spectra": ("10_spectroscopy.ipynb", "60 spectra", "xas/xraylarch_fe2o3_rt1.xmu"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_corrupt_then_oversized_then_valid_upload(new_page, small_limit_url, tmp_path, real_data, case):
    notebook, ready, valid = CASES[case]
    real = real_data / valid
    result_text = real.name
    suffix = real.suffix
    assert real.stat().st_size < LIMIT_MB * 1e6
    p = open_app(new_page, small_limit_url, notebook, ready)
    page = p.page
    sent = p.sent_frames
    assert f"max {LIMIT_MB:g} MB per file" in page.content()  # the limit is shown before uploading

    corrupt = tmp_path / f"corrupt{suffix}"
    data = real.read_bytes()
    corrupt.write_bytes(data[:min(6000, len(data) // 3)] + b"\xff\x00" * 64)
    upload_file(page, corrupt)
    first = banner_text(page, corrupt.name)
    _assert_no_leak(p, tmp_path)

    oversized = tmp_path / f"oversized{suffix}"
    oversized.write_bytes(data[:64] + b"\0" * int(LIMIT_MB * 1e6 * 1.2))
    sent.clear()
    upload_file(page, oversized)
    # refused in the browser at once, next to the button, and in the app's banner
    page.wait_for_selector(".battlab-upload-note[data-kind=refused]", timeout=5_000)
    second = banner_text(page, "upload limit")
    assert second != first and oversized.name in second and "not sent" in second
    assert max(sent, default=0) < 10_000, f"the oversized file was sent ({max(sent)} bytes in one message)"
    _assert_no_leak(p, tmp_path)

    plot = page.locator(".battlab-plot").first
    before = plot.screenshot()
    sent.clear()
    upload_file(page, real)
    # "<name> — <summary> (analysed in …)" is set only after a successful analysis.
    page.wait_for_selector(f".battlab-status:has-text('{result_text}'):has-text('analysed in')", timeout=90_000)
    page.locator(".battlab-error").first.wait_for(state="hidden", timeout=10_000)
    assert wait_for_change(plot, before), "the plot did not show the valid file"
    # the valid file crossed in 64 kB chunks: every byte sent, no message much above a chunk
    assert sum(sent) >= real.stat().st_size and max(sent) < 70 * 1024, (sum(sent), max(sent))
    if real.stat().st_size > 64 * 1024:
        assert sum(n > 32 * 1024 for n in sent) >= 2
    _assert_no_leak(p, tmp_path)
