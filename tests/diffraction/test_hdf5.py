"""Operando series in HDF5/NeXus files: layout discovery, q → 2θ, timestamps, refusals."""

import h5py
import numpy as np
import pandas as pd
import pytest

import battlab
from battlab.diffraction import load_series, read_hdf5_series, track_peaks
from battlab.errors import (
    BattlabError,
    CorruptFileError,
    MissingDataError,
    UnsupportedFormatError,
)

LAM = 1.540598
CENTERS = (26.40, 33.10)  # peak positions of pattern 0; pattern i is shifted by SHIFT * i
SHIFT = -0.02
TIMES = pd.date_range("2026-01-05T09:00:00Z", periods=6, freq="15min")


def _patterns(x):
    return np.array([80 + sum(1500 * np.exp(-0.5 * ((x - c - SHIFT * i) / 0.07) ** 2) for c in CENTERS)
                     for i in range(len(TIMES))])


def write_series(path, *, layout="names"):
    """A small series with known peaks; ``layout``: names, nexus_q, epoch, custom."""
    x = np.linspace(24.0, 36.0, 1201)
    y = _patterns(x)
    with h5py.File(path, "w") as f:
        if layout == "names":
            f["two_theta_deg"] = x
            f["intensity"] = y
            f["time"] = np.array([t.isoformat() for t in TIMES], dtype="S")
            f.attrs["wavelength_A"] = LAM
        elif layout == "nexus_q":
            g = f.create_group("entry/reduced")
            g.attrs["NX_class"] = "NXdata"
            g.attrs["signal"] = "counts_per_s"
            g.attrs["axes"] = ["t", "momentum"]
            g["counts_per_s"] = y
            g["momentum"] = 10 * 4 * np.pi / LAM * np.sin(np.radians(x) / 2)  # nm^-1
            g["momentum"].attrs["units"] = "1/nm"
            g["t"] = np.arange(len(TIMES)) * 900.0
            g["t"].attrs["start_time"] = TIMES[0].isoformat()
            f["entry/instrument/wavelength_A"] = LAM
        elif layout == "epoch":
            f["scan/tth"] = x
            f["scan/counts"] = y
            f["scan/timestamps"] = np.array([t.timestamp() for t in TIMES])
        elif layout == "custom":
            f["a/b"] = y
            f["a/c"] = x
            f["a/d"] = np.array([t.timestamp() for t in TIMES])
    return path


@pytest.mark.parametrize("layout", ["names", "nexus_q", "epoch"])
def test_series_is_found_peaks_tracked_and_times_kept(tmp_path, layout):
    path = write_series(tmp_path / f"series_{layout}.h5", layout=layout)
    before = path.read_bytes()
    series = load_series(path, wavelength_A=None if layout != "epoch" else LAM)
    assert path.read_bytes() == before  # raw input untouched
    assert series.sizes["time"] == len(TIMES)
    assert series.attrs["wavelength_A"] == pytest.approx(LAM)
    got = pd.to_datetime(series["time"].to_numpy()).tz_localize("UTC")
    assert (abs(got - TIMES) < pd.Timedelta(milliseconds=1)).all()
    tracked = track_peaks(series, {"a": (25.9, 26.9), "b": (32.6, 33.6)}, doublet=None)
    for name, c in zip(("a", "b"), CENTERS, strict=True):
        sub = tracked[tracked["peak"] == name].reset_index(drop=True)
        truth = c + SHIFT * np.arange(len(TIMES))
        assert np.all(np.abs(sub["two_theta_deg"] - truth) < 0.01)


def test_registry_reads_hdf5_bytes_as_xrd_series(tmp_path):
    data = write_series(tmp_path / "s.h5").read_bytes()
    series = battlab.load(data, name="upload.h5", kind="xrd")
    assert series.sizes["time"] == len(TIMES)
    assert battlab.io.registry.detect(data, name="whatever.bin").name == "xrd-hdf5"


def test_explicit_paths(tmp_path):
    path = write_series(tmp_path / "custom.h5", layout="custom")
    with pytest.raises(UnsupportedFormatError, match="paths="):
        read_hdf5_series(path)
    series = read_hdf5_series(path, paths={"intensity": "/a/b", "two_theta": "a/c", "time": "/a/d"},
                              wavelength_A=LAM)
    assert series.sizes == {"time": len(TIMES), "two_theta_deg": 1201}
    with pytest.raises(MissingDataError, match="/a/zz"):
        read_hdf5_series(path, paths={"intensity": "/a/zz", "two_theta": "a/c"})


def test_series_without_times_is_refused_unless_given(tmp_path):
    path = tmp_path / "notime.h5"
    with h5py.File(path, "w") as f:
        f["two_theta"] = np.linspace(20, 30, 50)
        f["intensity"] = np.ones((3, 50))
    with pytest.raises(MissingDataError, match="timestamps"):
        load_series(path)
    series = load_series(path, timestamps=list(TIMES[:3]), anode="Cu")
    assert series.sizes["time"] == 3 and series.attrs["wavelength_A"] == pytest.approx(LAM)


def test_truncated_and_corrupt_hdf5_raise_battlab_errors(tmp_path):
    data = write_series(tmp_path / "s.h5").read_bytes()
    for bad in (data[: len(data) // 2], data[:600], data[:8] + b"\x00" * 2000):
        with pytest.raises(BattlabError):
            read_hdf5_series(battlab.io.registry.Source(data=bad, name="bad.h5"))
        with pytest.raises(BattlabError):
            battlab.load(bad, name="bad.h5")
    path = tmp_path / "cut.h5"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptFileError):
        load_series(path)


def test_image_stack_in_hdf5_is_refused(tmp_path):
    path = tmp_path / "frames.h5"
    with h5py.File(path, "w") as f:
        f["two_theta"] = np.linspace(20, 30, 8)
        f["data"] = np.zeros((2, 4, 8))
    with pytest.raises(UnsupportedFormatError, match="PONI"):
        read_hdf5_series(path)


def test_dectris_master_with_broken_external_link_is_refused_cleanly(real_data):
    path = real_data / "hdf5-nexus" / "ncempy_au_145mm_68kx_microprobe_01_master.h5"
    for call in (lambda: battlab.load(path), lambda: load_series(path), lambda: read_hdf5_series(path)):
        with pytest.raises(UnsupportedFormatError, match="external link"):
            call()
