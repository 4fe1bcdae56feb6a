"""Movie readers: every input path on synthetic files with a known source, the real files."""

import warnings
import zipfile

import dask
import numpy as np
import pytest
import tifffile

from battlab.datasets.optical import make_electrode_movie, write_movie
from battlab.errors import (
    BattlabError,
    CorruptFileError,
    InvalidParameterError,
    MissingDataError,
    UnsupportedFormatError,
)
from battlab.imaging import frame_times_from_csv, open_movie
from battlab.provenance import sha256_of
from tests.hardening._fuzz import TIME_LIMIT_S

N = 12  # > 10 so that natural sort (frame_2 before frame_10) matters


@pytest.fixture(scope="module")
def demo():
    return make_electrode_movie(n_frames=N, shape=(48, 64), seed=3)


@pytest.fixture(scope="module")
def rgb_demo():
    return make_electrode_movie(n_frames=N, shape=(48, 64), seed=4, rgb=True, dtype="uint8")


def _reads_one_frame(movie, n):
    """The dask graph behind frame n holds a single read task."""
    graph = dict(dask.optimize(movie.data[n])[0].__dask_graph__())
    return len(graph) <= 2  # the read task (+ at most the getitem that selects it)


@pytest.mark.parametrize("fmt,name", [("tiff", "m.tif"), ("imagej-tiff", "m.tif"), ("ome-tiff", "m.ome.tif"),
                                      ("png-folder", "frames"), ("tiff-folder", "frames"), ("zip", "m.zip")])
def test_lossless_formats_round_trip_exactly(tmp_path, demo, fmt, name):
    path = write_movie(demo.data, tmp_path / name, format=fmt, frame_interval_s=10.0, pixel_size_um=0.5)
    movie = open_movie(path, pixel_size_um=0.5)
    assert movie.dims == ("time", "y", "x", "channel")
    assert movie.shape == (N, 48, 64, 1) and movie.dtype == np.uint16
    assert movie.data.chunks[0] == (1,) * N  # one chunk per frame
    assert _reads_one_frame(movie, 7)
    # Lazy frame n equals the source frame and the eager full read.
    assert np.array_equal(movie.isel(time=7).values, demo.data.values[7])
    assert np.array_equal(movie.values, demo.data.values)
    np.testing.assert_allclose(movie["x_um"].values, np.arange(64) * 0.5)
    assert movie["time_s"].attrs["units"] == "s" and movie.attrs["pixel_size_um"] == 0.5
    assert len(movie.attrs["source_sha256"]) == 64


def test_rgb_tiff_keeps_channels(tmp_path, rgb_demo):
    path = write_movie(rgb_demo.data, tmp_path / "rgb.tif", format="tiff")
    movie = open_movie(path, pixel_size_um=1.0)
    assert movie.shape == (N, 48, 64, 3) and movie.dtype == np.uint8
    assert np.array_equal(movie.isel(time=N - 1).values, rgb_demo.data.values[N - 1])


def test_ome_and_imagej_times_and_pixel_size_from_metadata(tmp_path, demo):
    for fmt, name, source in (("imagej-tiff", "ij.tif", "ImageJ"), ("ome-tiff", "m.ome.tif", "OME")):
        path = write_movie(demo.data, tmp_path / name, format=fmt, frame_interval_s=2.5, pixel_size_um=0.5)
        movie = open_movie(path, pixel_size_um=0.5)
        np.testing.assert_allclose(movie["time_s"].values, np.arange(N) * 2.5)
        assert movie.attrs["time_known"] and source in movie.attrs["time_source"]
        assert movie.attrs["metadata_pixel_size_um"] == pytest.approx(0.5)
        # A caller's pixel size that disagrees with the file is used, and noted.
        other = open_movie(path, pixel_size_um=0.8)
        assert other["x_um"].values[1] == pytest.approx(0.8)
        assert any("declares 0.5" in n for n in other.attrs["notes"])


def test_time_precedence_and_unknown_time(tmp_path, demo):
    path = write_movie(demo.data, tmp_path / "plain.tif", format="tiff")
    plain = open_movie(path, pixel_size_um=1.0)
    assert not plain.attrs["time_known"]
    np.testing.assert_array_equal(plain["time_s"].values, np.arange(N))
    assert any("frame_rate_fps" in n for n in plain.attrs["notes"])
    by_fps = open_movie(path, pixel_size_um=1.0, frame_rate_fps=4.0)
    np.testing.assert_allclose(by_fps["time_s"].values, np.arange(N) / 4.0)
    stamps = np.cumsum(np.r_[0.0, np.full(N - 1, 0.7)])
    by_array = open_movie(path, pixel_size_um=1.0, timestamps=stamps, frame_rate_fps=4.0)
    np.testing.assert_allclose(by_array["time_s"].values, stamps)  # timestamps beat the frame rate
    # An explicit rate overrides the file's own timing, with a note saying so.
    ij = write_movie(demo.data, tmp_path / "ij.tif", format="imagej-tiff", frame_interval_s=10.0)
    over = open_movie(ij, pixel_size_um=1.0, frame_rate_fps=1.0)
    np.testing.assert_allclose(over["time_s"].values, np.arange(N))
    assert any("ImageJ" in n for n in over.attrs["notes"])


def test_timestamps_from_csv(tmp_path, demo):
    path = write_movie(demo.data, tmp_path / "plain.tif", format="tiff")
    numeric = tmp_path / "t.csv"
    numeric.write_text("frame,elapsed_time_s\n" + "".join(f"{i},{1.5 * i}\n" for i in range(N)))
    movie = open_movie(path, pixel_size_um=1.0, timestamps=numeric)
    np.testing.assert_allclose(movie["time_s"].values, 1.5 * np.arange(N))
    assert "t.csv" in movie.attrs["time_source"]
    stamped = tmp_path / "stamps.csv"
    stamped.write_text("timestamp\n" + "".join(f"2024-05-01 10:00:{2 * i:02d}\n" for i in range(N)))
    np.testing.assert_allclose(frame_times_from_csv(stamped), 2.0 * np.arange(N))
    short = tmp_path / "short.csv"
    short.write_text("time_s\n0\n1\n")
    with pytest.raises(InvalidParameterError, match="2 timestamps"):
        open_movie(path, pixel_size_um=1.0, timestamps=short)
    with pytest.raises(InvalidParameterError, match="non-decreasing"):
        open_movie(path, pixel_size_um=1.0, timestamps=np.arange(N)[::-1])


@pytest.mark.parametrize("bad", [None, 0, -1.0, float("nan"), "abc"])
def test_pixel_size_is_required_and_positive(tmp_path, demo, bad):
    path = write_movie(demo.data, tmp_path / "m.tif", format="tiff")
    with pytest.raises(InvalidParameterError, match="pixel_size_um"):
        open_movie(path, pixel_size_um=bad)


def test_bad_frame_rate(tmp_path, demo):
    path = write_movie(demo.data, tmp_path / "m.tif", format="tiff")
    with pytest.raises(InvalidParameterError, match="frame_rate_fps"):
        open_movie(path, pixel_size_um=1.0, frame_rate_fps=0)


def test_natural_sort_of_a_list_and_folder(tmp_path, demo):
    folder = write_movie(demo.data, tmp_path / "seq", format="png-folder")
    files = list(folder.glob("*.png"))
    np.random.default_rng(0).shuffle(files)
    movie = open_movie(files, pixel_size_um=1.0)
    for i in (2, 10, 11):  # lexical order would put frame_10 before frame_2
        assert np.array_equal(movie.isel(time=i).values, demo.data.values[i])


def test_zip_is_sorted_and_read_per_frame(tmp_path, demo):
    path = write_movie(demo.data, tmp_path / "m.zip", format="zip")
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist()[0].endswith(f"frame_{N - 1}.png")  # stored out of order
    movie = open_movie(path, pixel_size_um=1.0)
    assert movie.attrs["source_format"] == "zipped image sequence"
    assert np.array_equal(movie.isel(time=10).values, demo.data.values[10])


@pytest.mark.parametrize("fmt,name", [("mp4", "m.mp4"), ("avi", "m.avi"), ("jpeg-folder", "jpg")])
def test_lossy_formats(tmp_path, rgb_demo, fmt, name):
    import imageio.v3 as iio

    path = write_movie(rgb_demo.data, tmp_path / name, format=fmt, fps=5.0)
    movie = open_movie(path, pixel_size_um=1.0)
    assert movie.shape == (N, 48, 64, 3) and movie.dtype == np.uint8
    assert _reads_one_frame(movie, 9)
    if fmt != "jpeg-folder":
        np.testing.assert_allclose(movie["time_s"].values, np.arange(N) / 5.0)
        eager = np.stack(list(iio.imiter(path, plugin="FFMPEG")))
        assert eager.shape[0] == N
        for i in (0, 9, N - 1):  # lazy random access == the eager sequential decode
            assert np.array_equal(movie.isel(time=i).values, eager[i])
    # Lossy, but the picture is the source picture (mean error < 4 % of full scale).
    err = np.abs(movie.isel(time=9).values.astype(float) - rgb_demo.data.values[9]).mean()
    assert err < 10


def test_channel_axis_for_unlabelled_tiff(tmp_path):
    rng = np.random.default_rng(1)
    stack = rng.integers(0, 4000, size=(4, 2, 20, 24), dtype=np.uint16)  # (t, c, y, x), no axis labels
    path = tmp_path / "tc.tif"
    tifffile.imwrite(path, stack)
    flat = open_movie(path, pixel_size_um=1.0)
    assert flat.shape == (8, 20, 24, 1)
    assert any("flattened" in n for n in flat.attrs["notes"])
    movie = open_movie(path, pixel_size_um=1.0, channel_axis=1)
    assert movie.shape == (4, 20, 24, 2)
    assert np.array_equal(movie.isel(time=3).values, np.moveaxis(stack[3], 0, -1))
    with pytest.raises(InvalidParameterError, match="image axis"):
        open_movie(path, pixel_size_um=1.0, channel_axis=-1)
    with pytest.raises(InvalidParameterError, match="axes"):
        open_movie(path, pixel_size_um=1.0, channel_axis=7)


def test_bad_inputs_raise_battlab_errors(tmp_path, demo):
    good = write_movie(demo.data, tmp_path / "m.tif", format="tiff")
    data = good.read_bytes()
    truncated = tmp_path / "trunc.tif"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="truncated|damaged|not a readable"):
        open_movie(truncated, pixel_size_um=1.0)
    garbage = tmp_path / "garbage.tif"
    garbage.write_bytes(b"II*\x00" + bytes(range(256)) * 4)
    with pytest.raises(CorruptFileError):
        open_movie(garbage, pixel_size_um=1.0)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty"):
        open_movie(empty, pixel_size_um=1.0)
    text = tmp_path / "notes.txt"
    text.write_text("not a movie")
    with pytest.raises(UnsupportedFormatError, match="export"):
        open_movie(text, pixel_size_um=1.0)
    with pytest.raises(MissingDataError):
        open_movie(tmp_path / "nope.tif", pixel_size_um=1.0)
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(MissingDataError, match="no PNG"):
        open_movie(tmp_path / "emptydir", pixel_size_um=1.0)
    badzip = tmp_path / "bad.zip"
    badzip.write_bytes(b"PK\x03\x04" + b"\x00" * 50)
    with pytest.raises(CorruptFileError):
        open_movie(badzip, pixel_size_um=1.0)


def test_truncated_video_raises_corrupt(tmp_path, rgb_demo):
    path = write_movie(rgb_demo.data, tmp_path / "m.mp4", format="mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[:600])
    with pytest.raises(CorruptFileError, match="cannot be decoded"):
        open_movie(cut, pixel_size_um=1.0)


def test_mismatched_frame_in_a_sequence_raises_when_read(tmp_path, demo):
    folder = write_movie(demo.data, tmp_path / "seq", format="tiff-folder")
    tifffile.imwrite(folder / "frame_5.tif", np.zeros((10, 10), np.uint16))
    movie = open_movie(folder, pixel_size_um=1.0)
    assert np.array_equal(movie.isel(time=4).values, demo.data.values[4])  # other frames still read
    with pytest.raises(CorruptFileError, match="same size"):
        _ = movie.isel(time=5).values
    (folder / "frame_6.tif").write_bytes(b"II*\x00broken")
    with pytest.raises(BattlabError):
        _ = open_movie(folder, pixel_size_um=1.0).isel(time=6).values


# --------------------------------------------------------------------------- real files
def test_real_tiff_stack(real_data):
    path = real_data / "tiff-stack" / "pims_stuck.tif"
    movie = open_movie(path, pixel_size_um=0.65)
    eager = tifffile.imread(path)
    assert eager.shape == (5, 512, 512)  # MANIFEST: 5 frames 512x512 uint16
    assert movie.shape == (5, 512, 512, 1) and movie.dtype == np.uint16
    for n in range(5):
        assert np.array_equal(movie.isel(time=n).values[..., 0], eager[n])
    assert movie.attrs["source_sha256"] == sha256_of(path)
    assert not movie.attrs["time_known"]  # no timing in the file
    np.testing.assert_allclose(movie["y_um"].values[-1], 511 * 0.65)


def test_real_quicktime_movie(real_data):
    import imageio

    path = real_data / "optical-video" / "pims_bulk-water.mov"
    movie = open_movie(path, pixel_size_um=1.0)
    rdr = imageio.get_reader(str(path), "ffmpeg")
    eager = [np.asarray(f) for f in rdr]
    rdr.close()
    assert len(eager) == 480  # counted by decoding every frame
    assert movie.shape == (480, 424, 640, 3) and movie.dtype == np.uint8
    assert movie.attrs["time_known"] and "23.98" in movie.attrs["time_source"]
    np.testing.assert_allclose(movie["time_s"].values[-1], 479 / 23.98)
    for n in (0, 123, 479):
        assert np.array_equal(movie.isel(time=n).values, eager[n])


def test_real_norpix_seq_is_refused_with_advice(real_data):
    with pytest.raises(UnsupportedFormatError, match="StreamPix.*export"):
        open_movie(real_data / "optical-video" / "pims_sample_norpix6.seq", pixel_size_um=1.0)


def test_no_raw_warnings_on_a_normal_open(tmp_path, demo):
    path = write_movie(demo.data, tmp_path / "m.ome.tif", format="ome-tiff", frame_interval_s=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = open_movie(path, pixel_size_um=1.0).isel(time=0).values
    assert np.array_equal(frame, demo.data.values[0])


def test_planar_rgb_pages(tmp_path):
    rng = np.random.default_rng(2)
    stack = rng.integers(0, 255, size=(2, 3, 20, 24), dtype=np.uint8)  # (t, samples, y, x) planar
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, stack, photometric="rgb", planarconfig="separate")
    movie = open_movie(path, pixel_size_um=1.0)
    assert movie.shape == (2, 20, 24, 3)
    assert np.array_equal(movie.isel(time=1).values, np.moveaxis(stack[1], 0, -1))


def test_two_movies_in_one_graph_stay_distinct(tmp_path, demo):
    import xarray as xr

    a = open_movie(write_movie(demo.data, tmp_path / "a.tif", format="tiff"), pixel_size_um=1.0)
    flipped = demo.data.copy(data=demo.data.values[::-1].copy())
    b = open_movie(write_movie(flipped, tmp_path / "b.tif", format="tiff"), pixel_size_um=1.0)
    both = xr.concat([a.isel(time=0), b.isel(time=0)], dim="movie").values
    assert np.array_equal(both[0], demo.data.values[0]) and np.array_equal(both[1], demo.data.values[-1])


def test_write_movie_rejects_bad_requests(tmp_path, demo):
    with pytest.raises(InvalidParameterError, match="format"):
        write_movie(demo.data, tmp_path / "x.gif", format="gif")
    with pytest.raises(InvalidParameterError):
        write_movie(np.zeros((4, 4)), tmp_path / "x.tif")
    with pytest.raises(InvalidParameterError):
        make_electrode_movie(n_frames=0)


def test_damaged_video_message_names_no_server_folder_or_ffmpeg_build(real_data, tmp_path):
    # ffmpeg's own report holds its build configuration and the file's full path on the server
    data = (real_data / "optical-video" / "pims_bulk-water.mov").read_bytes()
    damaged = tmp_path / "deep" / "folder" / "cut.mov"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(data[: len(data) // 50])
    with pytest.raises(CorruptFileError) as info:
        open_movie(damaged, pixel_size_um=1.0)
    message = str(info.value)
    assert "cut.mov" in message and str(tmp_path) not in message and "deep/folder" not in message
    assert "configuration" not in message and "ffmpeg version" not in message


def test_tiff_declaring_an_absurd_width_is_refused_before_anything_is_built(tmp_path):
    import struct
    import time

    path = tmp_path / "m.tif"
    tifffile.imwrite(path, np.zeros((3, 16, 16), np.uint8))
    data = bytearray(path.read_bytes())
    ifd = struct.unpack("<I", data[4:8])[0]
    for k in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):  # ImageWidth -> 2**31 pixels (LONG)
        entry = ifd + 2 + 12 * k
        if struct.unpack("<H", data[entry:entry + 2])[0] == 256:
            data[entry + 2:entry + 4] = struct.pack("<H", 4)
            data[entry + 8:entry + 12] = struct.pack("<I", 2**31)
    damaged = tmp_path / "wide.tif"
    damaged.write_bytes(bytes(data))
    start = time.perf_counter()
    with pytest.raises(CorruptFileError, match="2,147,483,648"):
        open_movie(damaged, pixel_size_um=1.0)
    assert time.perf_counter() - start < TIME_LIMIT_S


@pytest.mark.parametrize("interval", [-2.5, float("nan")], ids=["backwards", "nan"])
def test_metadata_times_that_run_backwards_or_are_not_numbers_are_not_used(tmp_path, demo, interval):
    from battlab.errors import BattlabWarning

    path = write_movie(demo.data, tmp_path / "bad.tif", format="imagej-tiff", frame_interval_s=1.0)
    # The same movie with a damaged ImageJ frame interval in its description.
    with tifffile.TiffFile(path) as tif:
        frames = tif.asarray()
        description = tif.pages[0].description
    assert "finterval=1.0" in description
    damaged = tmp_path / "damaged.tif"
    tifffile.imwrite(damaged, frames, description=description.replace("finterval=1.0", f"finterval={interval}"),
                     metadata=None)
    with pytest.warns(BattlabWarning, match="not finite or run backwards"):
        movie = open_movie(damaged, pixel_size_um=1.0)
    assert not movie.attrs["time_known"]
    np.testing.assert_array_equal(movie["time_s"].values, np.arange(movie.sizes["time"]))
    timed = open_movie(damaged, pixel_size_um=1.0, frame_rate_fps=2.0)  # the caller's rate then decides
    np.testing.assert_allclose(timed["time_s"].values, np.arange(movie.sizes["time"]) / 2.0)
