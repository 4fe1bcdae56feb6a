"""An EC-AFM series from files: demo frames written as text maps and as a TIFF stack, read
back, stacked, given potentials from a table or a cycling record, registered and measured."""

import numpy as np
import pandas as pd
import pytest
import tifffile

from battlab.afm import frame_potentials, read_afm_frames, region_mask, stack_frames
from battlab.afm.ecafm import line_step_series, register_series, thickness_series
from battlab.datasets.afm import make_ecafm_series
from battlab.errors import BattlabError
from tests.hardening._fuzz import TIME_LIMIT_S


def write_text_frames(series, folder):
    """Each frame as a Gwyddion-style ASCII export (its header carries width and unit)."""
    paths = []
    width = series.attrs["scan_size_um"][0]
    for i, frame in enumerate(series.values):
        path = folder / f"frame_{i:02d}.txt"
        header = f"# Channel: Height\n# Width: {width:.6f} µm\n# Height: {width:.6f} µm\n# Value units: nm\n"
        np.savetxt(path, frame, fmt="%.6f", header=header.replace("# ", "").rstrip("\n"), comments="# ")
        paths.append(path)
    return paths


def reference_regions(frame):
    """The demo's bare strip (x 2.15–2.97 µm) as a typed rectangle, the film well outside it."""
    reference = region_mask(frame, x_um=(2.3, 2.8))
    film = ~region_mask(frame, x_um=(1.95, 3.15))
    return film, reference


@pytest.fixture(scope="module")
def demo():
    return make_ecafm_series()


def test_text_frames_and_tiff_stack_give_the_same_series(demo, tmp_path):
    paths = write_text_frames(demo.data, tmp_path)
    frames = [f for p in paths for f in read_afm_frames(p)]
    assert len(frames) == 12 and frames[0].attrs["pixel_size_um"] == pytest.approx(0.04, rel=1e-6)
    stack_path = tmp_path / "series.tif"
    tifffile.imwrite(stack_path, demo.data.values.astype(np.float32))
    pages = read_afm_frames(stack_path, pixel_size_um=0.04, z_unit="nm")
    assert len(pages) == 12 and pages[3].attrs["frame_source"] == "series.tif page 4"
    np.testing.assert_allclose(pages[5].values, frames[5].values, atol=1e-5)
    with pytest.raises(BattlabError, match="pixel_size_um"):
        read_afm_frames(stack_path)


def test_series_from_files_thickness_and_potentials(demo, tmp_path):
    paths = write_text_frames(demo.data, tmp_path)
    series = stack_frames([f for p in paths for f in read_afm_frames(p)], time_s=np.arange(12) * 60.0)
    # Potentials from a cycling record: a linear sweep 1.6 -> 0.05 V over the 660 s of frames,
    # the cycler clock started 30 s before the first frame.
    t = np.arange(0.0, 720.0, 1.0)
    echem = pd.DataFrame({"test_time_s": t, "voltage_V": 1.6 - (1.55 / 660.0) * (t - 30.0),
                          "current_A": np.full(t.size, -1e-6)})
    with_v = frame_potentials(series, echem=echem, clock_offset_s=30.0)
    # Within 1 mV of the demo's frame potentials.
    np.testing.assert_allclose(with_v["potential_V"].values, demo.truth["potential_V"], atol=1e-3)
    table = pd.DataFrame({"time_s": [0.0, 660.0], "potential_V": [1.6, 0.05]})
    np.testing.assert_allclose(frame_potentials(series, table=table)["potential_V"].values,
                               demo.truth["potential_V"], atol=1e-9)
    by_frame = pd.DataFrame({"frame": np.arange(12), "potential_V": demo.truth["potential_V"]})
    np.testing.assert_allclose(frame_potentials(series, table=by_frame)["potential_V"].values,
                               demo.truth["potential_V"])
    with pytest.raises(BattlabError, match="one potential source"):
        frame_potentials(series)
    with pytest.raises(BattlabError, match="beyond"):
        frame_potentials(series, table=table.assign(time_s=[0.0, 100.0]))
    registered, drift = register_series(with_v)
    film, reference = reference_regions(registered.isel(time=0))
    result = thickness_series(registered, film=film, reference=reference)
    # SEI thickness within 0.5 nm of the truth with typed rectangle regions (no demo masks).
    assert np.abs(result["thickness_nm"] - demo.truth["sei_thickness_nm"]).max() < 0.5
    assert "potential_V" in result and result["potential_V"].iloc[-1] == pytest.approx(0.05, abs=1e-3)


def test_step_swelling_along_a_line_from_files(demo, tmp_path):
    series = stack_frames([f for p in write_text_frames(demo.data, tmp_path) for f in read_afm_frames(p)])
    registered, _ = register_series(series)
    # A wide line (1.8 µm) across the graphite step (at y = 2.56 µm), all on the film side of the strip.
    table = line_step_series(registered, (1.0, 0.6), (1.0, 4.5), width_um=1.8)
    # Row 0 is the bottom line and the demo's upper terrace holds the low rows, so the profile falls.
    # A line sees the surface texture along it (the whole-terrace masks reach 1 point): step within
    # 0.15 nm, swelling within 1.5 percentage points of the truth (0–17 %).
    assert np.abs(-table["step_height_nm"] - demo.truth["step_height_nm"]).max() < 0.15
    assert np.abs(table["swelling_pct"] - demo.truth["swelling_pct"]).max() < 1.5


def test_tiff_stack_declaring_an_absurd_page_is_refused_unread(tmp_path):
    import struct
    import time

    from battlab.errors import CorruptFileError

    path = tmp_path / "frames.tif"
    tifffile.imwrite(path, np.zeros((3, 16, 16), np.float32))
    data = bytearray(path.read_bytes())
    ifd = struct.unpack("<I", data[4:8])[0]
    for k in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):  # ImageWidth -> 65,535 pixels
        entry = ifd + 2 + 12 * k
        if struct.unpack("<H", data[entry:entry + 2])[0] == 256:
            data[entry + 2:entry + 4] = struct.pack("<H", 3)
            data[entry + 8:entry + 10] = struct.pack("<H", 65535)
    start = time.perf_counter()
    with pytest.raises(CorruptFileError, match="damaged"):
        read_afm_frames(bytes(data), name="frames.tif", pixel_size_um=0.04, z_unit="nm")
    assert time.perf_counter() - start < TIME_LIMIT_S
