"""The upload button's chunked transfer, driven with the messages the browser sends.

``UploadButton._on_message`` is what the kernel runs for each comm message of the
widget, so these tests feed it the browser's protocol (begin, chunks with their
offsets, end, finish) and crafted variants of it. The browser side (refusal before
transfer, real chunks over the websocket) is proven in
``tests/browser/test_voila_hardening.py``.
"""

import hashlib

import numpy as np
import pytest

from battlab.apps._upload_button import MAX_FILES, UploadButton
from battlab.apps.cycling import CyclingApp


def _send_file(button, data: bytes, *, name="run.mpt", index=0, chunk=65536, size=None):
    button._on_message(button, {"event": "begin", "index": index, "name": name, "size":
                                len(data) if size is None else size, "type": "", "last_modified": 0}, [])
    for offset in range(0, len(data), chunk):
        button._on_message(button, {"event": "chunk", "index": index, "offset": offset},
                           [memoryview(data[offset:offset + chunk])])
    button._on_message(button, {"event": "end", "index": index}, [])


def _finish(button, count=1):
    button._on_message(button, {"event": "finish", "count": count}, [])


def test_chunks_are_reassembled_byte_for_byte_in_fileupload_format():
    data = np.random.default_rng(0).integers(0, 256, 1_000_003, dtype=np.uint8).tobytes()
    button = UploadButton(max_bytes=2_000_000)
    _send_file(button, data, chunk=65536)
    assert button.value == ()  # nothing before the browser says the upload is finished
    _finish(button)
    (item,) = button.value
    assert set(item) == {"name", "type", "size", "last_modified", "content"}
    assert item["name"] == "run.mpt" and item["size"] == len(data)
    assert hashlib.sha256(item["content"]).hexdigest() == hashlib.sha256(data).hexdigest()
    assert button.refused == {}


def test_several_files_arrive_in_order_when_multiple():
    button = UploadButton(multiple=True, max_bytes=10_000)
    for i, payload in enumerate([b"a" * 100, b"b" * 5000, b"c"]):
        _send_file(button, payload, name=f"f{i}.tif", index=i, chunk=65536)
    _finish(button, count=3)
    assert [it["name"] for it in button.value] == ["f0.tif", "f1.tif", "f2.tif"]
    assert [bytes(it["content"]) for it in button.value] == [b"a" * 100, b"b" * 5000, b"c"]


def test_the_same_file_twice_is_two_uploads():
    button = UploadButton(max_bytes=1000)
    seen = []
    button.observe(lambda change: seen.append(change["new"]) if change["new"] else None, "value")
    for _ in range(2):
        _send_file(button, b"x" * 10)
        _finish(button)
    assert len(seen) == 2


@pytest.mark.parametrize("crafted", [
    "declared_over_limit", "chunk_beyond_declared", "offset_gap", "end_before_all_bytes",
    "second_file_without_multiple", "index_out_of_range", "finish_count_mismatch", "chunk_without_buffer",
    "size_not_a_number",
])
def test_crafted_transfers_are_refused_and_nothing_is_delivered(crafted):
    button = UploadButton(max_bytes=1000)
    data = b"y" * 600
    msg = button._on_message
    begin = {"event": "begin", "index": 0, "name": "a.csv", "size": len(data), "type": "", "last_modified": 0}
    if crafted == "declared_over_limit":
        msg(button, dict(begin, size=10**12), [])
        msg(button, {"event": "chunk", "index": 0, "offset": 0}, [data])
    elif crafted == "chunk_beyond_declared":
        msg(button, dict(begin, size=100), [])
        msg(button, {"event": "chunk", "index": 0, "offset": 0}, [data])
        msg(button, {"event": "end", "index": 0}, [])
    elif crafted == "offset_gap":
        msg(button, begin, [])
        msg(button, {"event": "chunk", "index": 0, "offset": 0}, [data[:300]])
        msg(button, {"event": "chunk", "index": 0, "offset": 400}, [data[300:]])
        msg(button, {"event": "end", "index": 0}, [])
    elif crafted == "end_before_all_bytes":
        msg(button, begin, [])
        msg(button, {"event": "chunk", "index": 0, "offset": 0}, [data[:300]])
        msg(button, {"event": "end", "index": 0}, [])
    elif crafted == "second_file_without_multiple":
        _send_file(button, data)
        _send_file(button, data, index=1)
        _finish(button, count=2)
    elif crafted == "index_out_of_range":
        button.multiple = True
        _send_file(button, data, index=MAX_FILES)
        _finish(button, count=1)
    elif crafted == "finish_count_mismatch":
        _send_file(button, data)
        _finish(button, count=2)
    elif crafted == "chunk_without_buffer":
        msg(button, begin, [])
        msg(button, {"event": "chunk", "index": 0, "offset": 0}, [])
    elif crafted == "size_not_a_number":
        msg(button, dict(begin, size="600"), [])
    _finish(button)
    assert button.value == ()
    assert button.refused and button.refused["reason"]


def test_a_browser_refusal_reaches_the_app_banner_and_the_app_keeps_working(test_data):
    app = CyclingApp(upload_limit_mb=0.001)
    app.upload._on_message(app.upload, {"event": "refused", "name": "../../big run.mpr", "size": 5_000_000}, [])
    banner = app.banner.value
    assert "big run.mpr" in banner and "upload limit" in banner and "not sent" in banner and "../" not in banner
    app.clear_error()
    app.upload._on_message(app.upload, {"event": "refused", "name": "../../big run.mpr", "size": 5_000_000}, [])
    assert "not sent" in app.banner.value and app.banner.layout.display == "block"  # the same file again
    # a valid file afterwards, sent in chunks, is analysed
    app.upload_limit_mb = 1.0
    app.upload.max_bytes = 1_000_000
    data = (test_data / "eclab_gcpl_full_header.mpt").read_bytes()
    _send_file(app.upload, data, name="eclab_gcpl_full_header.mpt", chunk=4096)
    _finish(app.upload)
    assert app.source_label.startswith("eclab_gcpl_full_header.mpt")
    assert app.banner.layout.display == "none"
    assert app.upload.value == ()  # cleared by the app, ready for the next file
