"""Native readers in a child process: a crash, a memory bomb or a hang costs the child only.

The misbehaving readers live in ``tests/hardening/_bad_readers.py`` (the child imports
them by name). Every case checks that the parent gets battlab's own error with a plain
message and is still able to read afterwards.
"""

import datetime
import hashlib
import os
import time

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import battlab
from battlab.errors import BattlabWarning, CorruptFileError, ResourceLimitError, TooLargeError
from battlab.io.isolate import run_isolated
from tests.hardening import _bad_readers as bad


def _still_works():
    assert run_isolated(bad.echo, 41) == 41


@pytest.mark.parametrize("reader", [bad.segfault, bad.null_pointer], ids=["SIGSEGV", "null-pointer"])
def test_crashing_reader_is_a_battlab_error_and_the_parent_lives(reader):
    pid = os.getpid()
    with pytest.raises(CorruptFileError, match=r"damaged\.dm3 could not be read: the file reader crashed \(SIG"):
        run_isolated(reader, b"\x00" * 16, name="/some/folder/damaged.dm3")
    assert os.getpid() == pid
    _still_works()


def test_memory_bomb_is_refused_within_the_budget():
    started = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="300 MB memory budget") as info:
        run_isolated(bad.allocate_gb, 2.0, name="bomb.tif", memory_mb=300)
    assert isinstance(info.value, TooLargeError)  # callers that catch TooLargeError keep working
    assert time.perf_counter() - started < 5
    _still_works()


def test_hanging_reader_is_stopped_at_the_timeout():
    started = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="longer than 1.5 s"):
        run_isolated(bad.sleep, 60, name="slow.h5", timeout_s=1.5)
    elapsed = time.perf_counter() - started
    assert 1.5 <= elapsed < 4.0, elapsed  # stopped at the limit, not when the sleep ends
    _still_works()


def test_reader_errors_keep_their_battlab_class_others_become_corrupt_file():
    with pytest.raises(CorruptFileError, match="^the header says 7 frames but holds 3.$"):
        run_isolated(bad.battlab_error, name="a.dm4")
    with pytest.raises(CorruptFileError, match=r"a\.dm4 could not be read \(KeyError: 'Root'\)"):
        run_isolated(bad.library_error, name="a.dm4")


def test_warnings_cross_back_with_their_category():
    with pytest.warns(BattlabWarning, match="two frames were dropped"):
        assert run_isolated(bad.warn_and_return, 3) == 3


def test_results_round_trip_without_pickles():
    frame = pd.DataFrame({"time_s": [0.0, 1.5, np.nan], "label": ["a", None, "c"], "n": [1, 2, 3],
                          "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"])})
    frame.attrs["battlab"] = {"sha256": "ab" * 32, "start": pd.Timestamp("2024-01-01 10:00"),
                              "gain": np.float32(2.5), "shape": (3, 4), "inf": float("inf")}
    image = xr.DataArray(np.arange(12, dtype=np.uint16).reshape(3, 4), dims=("y", "x"),
                         coords={"y": ("y", np.arange(3) * 0.5, {"units": "nm"}), "x": np.arange(4) * 0.25},
                         name="intensity", attrs={"units": "counts", "meta": {"voltage_kV": 300.0}})
    payload = {"table": frame, "image": image, "list": [1, "two", None], "raw": b"\x00\x01",
               "day": datetime.date(2024, 5, 6), "array": np.linspace(0, 1, 5)}
    back = run_isolated(bad.echo, payload)
    pd.testing.assert_frame_equal(back["table"], frame)
    assert back["table"].attrs["battlab"]["start"] == frame.attrs["battlab"]["start"]
    assert back["table"].attrs["battlab"]["shape"] == (3, 4) and back["table"].attrs["battlab"]["inf"] == np.inf
    xr.testing.assert_identical(back["image"], image)
    assert back["list"] == [1, "two", None] and back["raw"] == b"\x00\x01" and back["day"] == payload["day"]
    np.testing.assert_array_equal(back["array"], payload["array"])


def test_an_object_that_would_need_pickling_is_refused():
    with pytest.raises(CorruptFileError, match="returned a Opaque, which battlab cannot pass between processes"):
        run_isolated(bad.opaque, name="x.emd")


@pytest.mark.slow
def test_real_tem_files_read_isolated_equal_the_in_process_read(real_data):
    pytest.importorskip("rsciio")
    from battlab.tem.io import open_tem

    files = sorted((real_data / "tem").glob("*.dm[34]"))
    assert files, "the real TEM folder holds dm3/dm4 files"
    for path in files:
        xr.testing.assert_identical(run_isolated(open_tem, path, name=path.name), open_tem(path))


def test_real_native_files_through_battlab_load_isolate(real_data):
    for rel, options in (("afm/AFMReader_sample_0.jpk", {}), ("tiff-stack/pims_stuck.tif", {"voxel_size_um": 0.5})):
        path = real_data / rel
        _assert_same(battlab.load(path, isolate=True, **options), battlab.load(path, **options))


def _assert_same(there, here):
    assert type(there) is type(here)
    if isinstance(here, dict):
        assert list(there) == list(here)
        for key in here:
            _assert_same(there[key], here[key])
    elif isinstance(here, (xr.DataArray, xr.Dataset)):
        xr.testing.assert_identical(there, here)
    elif isinstance(here, pd.DataFrame):
        pd.testing.assert_frame_equal(there, here)
        _assert_same(there.attrs, here.attrs)
    elif isinstance(here, np.ndarray):
        np.testing.assert_array_equal(there, here)
    else:
        assert there == here


# --- in an app: the banner says so and the app keeps working ------------------------------
def _upload(app, name, content: bytes):
    app.upload.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                         "last_modified": datetime.datetime.now()},)


def _demo_still_works(app):
    app._load_demo(app.demo_picker.value)
    assert app.banner.layout.display == "none" and "demo" in app.status.value


def _tiff_bytes(shape):
    import io

    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros(shape, np.uint8), compression="zlib")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server-files")
    (folder / "bomb.tif").write_bytes(_tiff_bytes((16000, 16000)))  # 256 MB from ~0.3 MB
    (folder / "sound.tif").write_bytes(_tiff_bytes((300, 400)))
    return folder


@pytest.fixture(scope="module")
def app(server_dir):
    from battlab.apps import CyclingApp

    class OwnReadersApp(CyclingApp):
        """An app with its own readers: DM read through ``_read_isolated`` (as a technique app
        can opt in to), TIFF decoded in the kernel (so uploads get a trial decode first)."""

        kernel_reads = 0

        def _load_bytes(self, data, name):
            if name.endswith(".dm3"):
                self._accept_data(self._read_isolated(bad.segfault, data, name=name), name)
                return
            import tifffile

            type(self).kernel_reads += 1
            image = tifffile.imread(self.stored_uploads[hashlib.sha256(data).hexdigest()])
            self.set_status(f"{name}: {image.shape[1]} × {image.shape[0]} px")

        def _load_server_file(self, path):  # as the technique apps do: confine, then their own reader
            import tifffile

            resolved = self._confined_path(path)
            if resolved is not None:
                type(self).kernel_reads += 1
                image = tifffile.imread(resolved)
                self.set_status(f"{resolved.name}: {image.shape[1]} × {image.shape[0]} px")

    return OwnReadersApp(data_dirs=[server_dir])


@pytest.mark.slow
def test_app_upload_whose_reader_crashes_shows_the_banner_and_the_app_works(app):
    _upload(app, "../../secret/frame.dm3", b"DM3 damaged" * 100)
    assert app.banner.layout.display == "block"
    assert "frame.dm3 could not be read: the file reader crashed (SIGSEGV)" in app.banner.value
    assert "Traceback" not in app.banner.value and "secret" not in app.banner.value
    _demo_still_works(app)


@pytest.mark.slow
def test_app_refuses_a_decompression_bomb_before_its_in_kernel_reader_sees_it(app, server_dir, monkeypatch):
    monkeypatch.setenv("BATTLAB_READER_MEMORY_MB", "100")
    reads = type(app).kernel_reads
    _upload(app, "bomb.tif", (server_dir / "bomb.tif").read_bytes())
    assert "bomb.tif could not be read within the 100 MB memory budget" in app.banner.value
    assert type(app).kernel_reads == reads, "the kernel never decoded the bomb"
    _demo_still_works(app)
    _upload(app, "sound.tif", (server_dir / "sound.tif").read_bytes())  # passes the trial decode, then read here
    assert type(app).kernel_reads == reads + 1 and "sound.tif: 400 × 300 px" in app.status.value


@pytest.mark.slow
def test_app_refuses_a_server_file_bomb_before_its_in_kernel_reader_sees_it(app, server_dir, monkeypatch):
    monkeypatch.setenv("BATTLAB_READER_MEMORY_MB", "100")
    reads = type(app).kernel_reads
    app._load_server_file(str(server_dir / "bomb.tif"))
    assert "bomb.tif could not be read within the 100 MB memory budget" in app.banner.value
    assert type(app).kernel_reads == reads
    app._load_server_file(str(server_dir / "sound.tif"))
    assert type(app).kernel_reads == reads + 1 and "sound.tif: 400 × 300 px" in app.status.value


# --- native content under another name is recognised by its bytes --------------------------
def test_native_content_is_recognised_by_its_magic_whatever_the_name(tmp_path):
    import zipfile

    from battlab.io.isolate import is_native

    tiff, csv = _tiff_bytes((4, 4)), b"time_s,value\n0,1\n"
    assert is_native("map.txt", head=tiff[:8]) and not is_native("map.txt", head=csv[:8])
    assert is_native("scan.dat", head=b"\x89HDF\r\n\x1a\n")
    assert is_native("pattern.cbf") and is_native("pattern.edf")  # fabio decodes these in C
    frames = tmp_path / "frames.zip"
    with zipfile.ZipFile(frames, "w") as archive:
        archive.writestr("frame_000.png.bak", tiff)  # a TIFF by content, whatever its name
        archive.writestr("notes.csv", csv)
    tables = tmp_path / "tables.zip"
    with zipfile.ZipFile(tables, "w") as archive:
        archive.writestr("a.csv", csv)
    head = frames.read_bytes()[:8]
    assert is_native("frames.zip", head=head, path=frames)
    assert not is_native("tables.zip", head=tables.read_bytes()[:8], path=tables)
    assert not is_native("broken.zip", head=b"PK\x03\x04broken", path=tmp_path / "missing.zip")


@pytest.mark.slow
def test_a_tiff_bomb_named_txt_is_refused_by_a_real_app_that_reads_tiff_by_magic(server_dir, monkeypatch):
    """The probes app recognises TIFF maps by their bytes: the trial decode must too."""
    from battlab.apps import ProbesApp

    monkeypatch.setenv("BATTLAB_READER_MEMORY_MB", "100")
    app = ProbesApp()
    _upload(app, "map.txt", (server_dir / "bomb.tif").read_bytes())
    assert "map.txt could not be read within the 100 MB memory budget" in app.banner.value
    assert "Traceback" not in app.banner.value
    _demo_still_works(app)


@pytest.mark.slow
def test_a_zip_of_frames_holding_a_tiff_bomb_is_refused_by_the_optical_app(server_dir, tmp_path, monkeypatch):
    import zipfile

    from battlab.apps import OpticalApp

    monkeypatch.setenv("BATTLAB_READER_MEMORY_MB", "100")
    frames = tmp_path / "frames.zip"
    with zipfile.ZipFile(frames, "w") as archive:
        archive.writestr("frame_000.tif", (server_dir / "sound.tif").read_bytes())
        archive.writestr("frame_001.tif", (server_dir / "bomb.tif").read_bytes())
    app = OpticalApp()
    _upload(app, "frames.zip", frames.read_bytes())
    assert "frames.zip could not be read within the 100 MB memory budget" in app.banner.value
    _demo_still_works(app)
