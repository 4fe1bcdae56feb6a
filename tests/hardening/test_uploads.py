"""Uploads and widget state are untrusted: names, contents and values are re-checked.

Driven through real app objects: a FileUpload value set as the browser would, and widget
state changed with ``set_state`` (what the kernel does with a comm message).
"""

import datetime
import logging
import re

import pytest

from battlab.apps._uploads import MAX_NAME_CHARS, safe_display_name
from battlab.apps.cycling import CyclingApp
from battlab.apps.eis import EISApp


def _upload(widget, name, content, size=None):
    widget.value = ({"name": name, "type": "", "size": len(content) if size is None else size,
                     "content": memoryview(content) if isinstance(content, bytes) else content,
                     "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return CyclingApp()


@pytest.fixture(scope="module")
def valid_mpt(test_data):
    return (test_data / "eclab_gcpl_full_header.mpt").read_bytes()


@pytest.mark.parametrize("raw, expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\x", "x"),
    ("..\\..\\x.csv", "x.csv"),
    ("/abs/x.tif", "x.tif"),
    ("C:\\Users\\me\\run.mpt", "run.mpt"),
    ("", "upload"),
    (None, "upload"),
    (".", "upload"),
    ("..", "upload"),
    ("a\x00b.csv", "ab.csv"),
    ("\x00", "upload"),
    (".bashrc", "bashrc"),
    ("con.csv", "con.csv"),  # harmless: display only, never a path
])
def test_display_names_are_harmless(raw, expected):
    assert safe_display_name(raw) == expected


def test_very_long_names_are_cut_keeping_the_extension():
    name = safe_display_name("é" * 300 + ".mpt")
    assert len(name) <= MAX_NAME_CHARS and name.endswith(".mpt")
    assert len(safe_display_name("x" * 10_000)) <= MAX_NAME_CHARS


def test_traversal_name_is_shown_sanitised_and_nothing_is_written(app, tmp_path, monkeypatch, valid_mpt):
    monkeypatch.chdir(tmp_path)
    _upload(app.upload, "../../etc/passwd.mpt", b"\x00\x01garbage" * 50)
    assert app.banner.layout.display == "block"
    assert "passwd.mpt" in app.banner.value and "../" not in app.banner.value and "etc" not in app.banner.value
    _upload(app.upload, "..\\..\\sub\\cell\x00.mpt", valid_mpt)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.source_label == "cell.mpt"
    assert list(tmp_path.iterdir()) == []
    assert app.upload.value == ()  # cleared, so the same file can be chosen again


def test_declared_size_is_not_trusted(app, valid_mpt):
    # A crafted message claims a terabyte: the real length decides.
    _upload(app.upload, "claims_huge.mpt", valid_mpt, size=10**12)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.source_label == "claims_huge.mpt"


def test_content_of_the_wrong_type_gets_a_message(app):
    _upload(app.upload, "odd.mpt", "not bytes at all")
    assert "did not arrive intact" in app.banner.value


def test_unexpected_error_shows_an_id_that_is_in_the_server_log(app, caplog, monkeypatch):
    def broken():
        raise RuntimeError("secret internal detail /work/x")

    with caplog.at_level(logging.ERROR, logger="battlab.apps"):
        app._guard("updating the summary", broken)
    match = re.search(r"error id ([0-9a-f]{8})", app.banner.value)
    assert match, app.banner.value
    assert "Traceback" not in app.banner.value and "secret internal detail" not in app.banner.value
    records = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert records and records[0].exc_info is not None  # the traceback is on the server only
    # Each failure gets its own id.
    app._guard("updating the summary", broken)
    assert re.search(r"error id ([0-9a-f]{8})", app.banner.value).group(1) != match.group(1)
    # And the app still works afterwards.
    app._load_demo(app.demo_picker.value)
    assert app.banner.layout.display == "none"


def test_crafted_out_of_range_slider_value_is_clamped(app):
    app.window_mV.set_state({"value": 1e9})
    assert app.window_mV.value == app.window_mV.max
    app.cycle_stride.set_state({"value": -5})
    assert app.cycle_stride.value == app.cycle_stride.min


def test_crafted_non_finite_value_is_refused_and_restored(app):
    app._load_demo(app.demo_picker.value)
    before = app.mass.value
    summary_before = app.table.value
    app.mass.set_state({"value": float("nan")})  # traitlets' range check lets NaN through
    assert app.mass.value == before
    assert "not a finite number" in app.banner.value
    assert app.table.value == summary_before  # the analysis never saw the NaN
    app.mass.value = before + 1.0  # and the control works again
    assert app.banner.layout.display == "none"


def test_validation_is_generic_across_apps():
    eis = EISApp()
    eis.kk_threshold.set_state({"value": float("inf")})
    assert eis.kk_threshold.value != float("inf")
    # A log slider's bounds are exponents: a legal value must not be "clamped".
    eis.marker_f.value = 1e4  # 10^4 with max exponent 5
    assert eis._validate_controls() and eis.marker_f.value == pytest.approx(1e4)


def test_a_file_of_another_kind_is_named_not_forced_through(app, valid_mpt):
    from battlab.apps.diffraction import XRDApp

    # A diffraction pattern in the cycling app: the message says what the file holds
    # and the cycling data already shown stays.
    app._load_demo(app.demo_picker.value)
    shown = app.source_label
    pattern = "\n".join(f"{10 + 0.02 * k:.2f} {100 + (k % 7)}" for k in range(500)).encode()
    _upload(app.upload, "scan.xy", pattern)
    assert "diffraction" in app.banner.value and "electrochemistry" in app.banner.value, app.banner.value
    assert app.source_label == shown
    # And a cycling file in the diffraction app.
    xrd = XRDApp()
    _upload(xrd.upload, "cell.mpt", valid_mpt)
    assert xrd.banner.layout.display == "block"
    assert "diffraction" in xrd.banner.value.lower(), xrd.banner.value


def test_uploads_are_kept_read_only_under_their_content_hash(tmp_path):
    import hashlib
    import os
    import stat

    from battlab.apps._uploads import store_upload

    content = b"time/s\tEwe/V\n0\t3.1\n"
    first = store_upload(content, "../../etc/run.mpt", root=tmp_path)
    # The same bytes under another name land in the same folder; nothing escapes the store.
    second = store_upload(content, "C:\\other\\copy.mpt", root=tmp_path)
    digest = hashlib.sha256(content).hexdigest()
    assert first == tmp_path / digest / "run.mpt" and second == tmp_path / digest / "copy.mpt"
    assert first.read_bytes() == content
    assert not os.stat(first).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)  # raw input, read-only
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted([digest, "run.mpt", "copy.mpt"])


def test_the_store_drops_the_oldest_uploads_beyond_its_cap(tmp_path):
    import os

    from battlab.apps._uploads import store_upload

    paths = []
    for k in range(4):
        paths.append(store_upload(bytes([k]) * 400_000, f"f{k}.csv", root=tmp_path, cap_mb=1.0))
        os.utime(paths[-1].parent, (1_000 + k, 1_000 + k))  # distinct ages on coarse clocks
    # 4 × 0.4 MB with a 1 MB cap: only the two newest remain, the latest always among them.
    assert [p.exists() for p in paths] == [False, False, True, True]


def test_an_upload_is_kept_even_when_it_cannot_be_read(app, upload_store_in_tmp, valid_mpt, tmp_path):
    import hashlib
    import json

    broken = b"BIO-LOGIC MODULAR FILE" + b"\xff" * 100
    _upload(app.upload, "broken.mpr", broken)
    assert app.banner.layout.display == "block"
    kept = upload_store_in_tmp / hashlib.sha256(broken).hexdigest() / "broken.mpr"
    assert kept.read_bytes() == broken
    # A good upload's export says where its raw file is kept.
    _upload(app.upload, "cell.mpt", valid_mpt)
    assert app.banner.layout.display == "none", app.banner.value
    record = json.loads(next(p for p in app.export(tmp_path / "out") if p.name == "provenance.json").read_text())
    stored = record["inputs"][0]["stored_at"]
    assert stored.startswith(str(upload_store_in_tmp)) and open(stored, "rb").read() == valid_mpt
