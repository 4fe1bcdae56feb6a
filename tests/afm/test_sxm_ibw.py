"""Nanonis .sxm and Asylum .ibw image readers on files written here from the documented layouts.

No real .sxm or Asylum image file is available: these tests check battlab's readers against
files built byte by byte from the published layouts (Nanonis SXM description; Igor binary
wave v5, Technical Note PTN003), not against an instrument's output.
"""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import battlab
from battlab.afm import read_afm, read_force_curves
from battlab.afm.io import is_force_file
from battlab.errors import BattlabError, CorruptFileError, UnsupportedFormatError


def write_sxm(channels, *, nx, ny, range_m, scan_dir="up", lsb=False):
    """channels: list of (name, unit, direction, frames in acquisition order)."""
    rows = "\n".join(f"\t{k}\t{name}\t{unit}\t{direction}\t1.000E+0\t0.000E+0"
                     for k, (name, unit, direction, _) in enumerate(channels))
    header = (":NANONIS_VERSION:\n2\n:SCANIT_TYPE:\n              FLOAT            "
              f"{'LSBFIRST' if lsb else 'MSBFIRST'}\n:REC_DATE:\n 07.12.2026\n:SCAN_PIXELS:\n       {nx}       {ny}\n"
              f":SCAN_RANGE:\n           {range_m[0]:.6E}           {range_m[1]:.6E}\n:SCAN_ANGLE:\n            "
              f"0.000E+0\n:SCAN_DIR:\n{scan_dir}\n:DATA_INFO:\n\tChannel\tName\tUnit\tDirection\tCalibration\tOffset\n"
              f"{rows}\n\n:SCANIT_END:\n\n\n")
    body = b"".join(np.asarray(f, dtype="<f4" if lsb else ">f4").tobytes() for *_, frames in channels
                    for f in frames)
    return header.encode("latin-1") + b"\x1a\x04" + body


@pytest.fixture(scope="module")
def sxm_case():
    rng = np.random.default_rng(1)
    ny, nx = 24, 32
    z = rng.normal(0, 1e-9, (ny, nx)) + np.linspace(0, 5e-9, nx)[None, :]  # m, row 0 = first line acquired
    current = rng.normal(0, 1e-10, (ny, nx))
    # The backward frame is stored as acquired: each line right to left.
    data = write_sxm([("Z", "m", "both", [z, z[:, ::-1] + 1e-10]), ("Current", "A", "forward", [current])],
                     nx=nx, ny=ny, range_m=(320e-9, 240e-9))
    return data, z, current


def test_sxm_channels_scales_and_directions(sxm_case):
    data, z, current = sxm_case
    ch = read_afm(data, name="scan_001.sxm")
    assert list(ch) == ["Z (forward)", "Z (backward)", "Current (forward)"]
    fwd = ch["Z (forward)"]
    assert fwd.shape == (24, 32) and fwd.attrs["units"] == "nm"
    assert fwd.attrs["pixel_size_um"] == pytest.approx(0.32 / 32, rel=1e-12)
    assert fwd.attrs["pixel_size_y_um"] == pytest.approx(0.24 / 24, rel=1e-12)
    # Values exact to float32: metres -> nm.
    np.testing.assert_allclose(fwd.values, z.astype(np.float32).astype(float) * 1e9, rtol=1e-6)
    # Backward mirrored back onto the forward frame (plus the 0.1 nm offset written above).
    np.testing.assert_allclose(ch["Z (backward)"].values - fwd.values, 0.1, atol=1e-5)
    assert ch["Current (forward)"].attrs["units"] == "nA"
    assert fwd.attrs["battlab"]["format"] == "nanonis-sxm"
    # A downward scan is flipped so that row 0 is still the bottom line.
    down = write_sxm([("Z", "m", "forward", [z])], nx=32, ny=24, range_m=(320e-9, 240e-9), scan_dir="down")
    np.testing.assert_allclose(read_afm(down, name="d.sxm")["Z (forward)"].values, z[::-1] * 1e9, rtol=1e-6)
    lsb = write_sxm([("Z", "m", "forward", [z])], nx=32, ny=24, range_m=(320e-9, 240e-9), lsb=True)
    np.testing.assert_allclose(read_afm(lsb, name="l.sxm")["Z (forward)"].values, z * 1e9, rtol=1e-6)
    # The registry knows the format from its first line.
    assert battlab.io.registry.detect(data, name="anything.dat").name == "afm-nanonis"


def test_sxm_truncated_and_damaged(sxm_case):
    data, *_ = sxm_case
    with pytest.raises(CorruptFileError, match="truncated"):
        read_afm(data[:-100], name="t.sxm")
    with pytest.raises(CorruptFileError, match="SCANIT_END"):
        read_afm(data.replace(b":SCANIT_END:", b":SCANIT_XXX:"), name="t.sxm")
    with pytest.raises(BattlabError):
        read_afm(data.replace(b"       32       24", b"    99999999  24"), name="t.sxm")


def test_sxm_fuzz_only_battlab_errors(sxm_case):
    original, *_ = sxm_case
    header_end = original.index(b"\x1a\x04") + 2

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(positions=st.lists(st.integers(0, header_end + 64), min_size=1, max_size=12), value=st.integers(0, 255),
           cut=st.sampled_from([1.0, 0.9, 0.3, 0.05]))
    def check(positions, value, cut):
        raw = bytearray(original)
        for pos in positions:
            raw[pos % len(raw)] = value
        try:
            channels = read_afm(bytes(raw[: max(16, int(len(raw) * cut))]), name="f.sxm")
        except BattlabError:
            return
        for image in channels.values():
            assert image.dims == ("y", "x") and np.isfinite(image.attrs["pixel_size_um"])

    check()


# --- Igor binary wave v5 ----------------------------------------------------------------------
def write_ibw5(values, *, sf_a=(1.0, 1.0, 1.0), dim_units=("", "", ""), labels=None, note=b"", name=b"wave0"):
    """A version-5 binary wave (little-endian, float32) from an array indexed like Igor
    (dimension 0 = rows = x points, dimension 1 = columns = y lines, dimension 2 = layers)."""
    values = np.asarray(values, np.float32)
    n_dim = list(values.shape) + [0] * (4 - values.ndim)
    payload = values.ravel(order="F").tobytes()
    label_blocks = [b""] * 4
    if labels is not None:
        # One 32-byte label for the dimension itself, then one per element.
        label_blocks[2] = b"".join(lbl.ljust(32, b"\0") for lbl in [b""] + list(labels))
    wave_header = b"".join([
        struct.pack("<iIIihh", 0, 0, 0, values.size, 2, 0), b"\0" * 6, struct.pack("<h", 1),
        name.ljust(32, b"\0"), struct.pack("<ii", 0, 0), struct.pack("<4i", *n_dim),
        struct.pack("<4d", *(list(sf_a) + [1.0] * (4 - len(sf_a)))), struct.pack("<4d", 0, 0, 0, 0),
        b"\0" * 4, b"".join(u.encode().ljust(4, b"\0") for u in list(dim_units) + [""] * (4 - len(dim_units))),
        struct.pack("<hhdd", 0, 0, 0.0, 0.0), b"\0" * (4 + 16 + 16 + 4 + 64),
        struct.pack("<hhhcc", 0, 0, 0, b"\0", b"\0"), b"\0" * (4 + 4 + 2 + 2 + 4 + 4)])
    assert len(wave_header) == 320
    sizes = [320 + len(payload), 0, len(note), 0, 0, 0, 0, 0] + [len(b) for b in label_blocks] + [0, 0, 0]
    bin_header = struct.pack("<h h 15i", 5, 0, *sizes)
    # Checksum: the 16-bit sum of both headers is zero.
    total = sum(struct.unpack("<192h", bin_header + wave_header)) & 0xFFFF
    bin_header = struct.pack("<h h 15i", 5, struct.unpack("<h", struct.pack("<H", (-total) & 0xFFFF))[0], *sizes)
    return bin_header + wave_header + payload + note + b"".join(label_blocks)


def test_asylum_image_wave_channels_and_scales(real_data):
    rng = np.random.default_rng(2)
    nx, ny = 40, 30
    height = rng.normal(0, 2e-9, (nx, ny))  # Igor order: [x, y]
    phase = rng.normal(90, 5, (nx, ny))
    amplitude = rng.normal(20e-9, 1e-9, (nx, ny))
    stack = np.stack([height, amplitude, phase], axis=2)
    note = b"ScanSize: 2e-06\rFastScanSize: 2e-06\rSlowScanSize: 1.5e-06\rScanAngle: 0\rScanPoints: 40\rScanLines: 30"
    data = write_ibw5(stack, sf_a=(5e-8, 5e-8, 1.0), dim_units=("m", "m", ""),
                      labels=[b"HeightRetrace", b"AmplitudeRetrace", b"PhaseRetrace"], note=note, name=b"Image0001")
    assert not is_force_file("Image0001.ibw", data) and is_force_file("Image0001.ibw")
    ch = read_afm(data, name="Image0001.ibw")
    assert list(ch) == ["HeightRetrace", "AmplitudeRetrace", "PhaseRetrace"]
    h = ch["HeightRetrace"]
    # (y, x) map of Igor's [x, y] layer: transposed; metres -> nm; 50 nm pixels.
    assert h.shape == (30, 40) and h.attrs["units"] == "nm"
    np.testing.assert_allclose(h.values, height.T.astype(np.float32) * 1e9, rtol=1e-6)
    assert h.attrs["pixel_size_um"] == pytest.approx(0.05) and h.attrs["scan_size_um"] == pytest.approx([2.0, 1.5])
    assert ch["PhaseRetrace"].attrs["units"] == "deg"
    np.testing.assert_allclose(ch["PhaseRetrace"].values, phase.T.astype(np.float32), rtol=1e-6)
    assert ch["AmplitudeRetrace"].attrs["units"] == "nm"
    assert battlab.io.registry.detect(data, name="Image0001.ibw").name == "afm-asylum-image"
    with pytest.raises(UnsupportedFormatError, match="image"):
        read_force_curves(data, name="Image0001.ibw")
    # Without dimension units the note's scan sizes give the pixels.
    plain = write_ibw5(height, note=note, name=b"Height")
    only = read_afm(plain, name="h.ibw")
    assert list(only) == ["Height"] and only["Height"].attrs["pixel_size_y_um"] == pytest.approx(1.5 / 30)
    with pytest.raises(CorruptFileError):
        read_afm(data[:-200], name="Image0001.ibw")
    # The real force-curve wave (2016 points × Raw/Defl/ZSnsr) stays a force curve.
    real = (real_data / "afm" / "afmformats_fmt-igor-fd_SiN_FD_plot.ibw").read_bytes()
    assert is_force_file("x.ibw", real)
    assert battlab.io.registry.detect(real, name="SiN_FD_plot.ibw").name == "afm-force"
    with pytest.raises(UnsupportedFormatError, match="force curves"):
        read_afm(real, name="SiN_FD_plot.ibw")


def test_ibw_image_fuzz_only_battlab_errors():
    stack = np.random.default_rng(3).normal(0, 1e-9, (16, 12, 2))
    original = write_ibw5(stack, sf_a=(1e-8, 1e-8, 1.0), dim_units=("m", "m", ""),
                          labels=[b"HeightTrace", b"PhaseTrace"], note=b"ScanSize: 1.6e-07")

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(positions=st.lists(st.integers(0, 400), min_size=1, max_size=12), value=st.integers(0, 255),
           cut=st.sampled_from([1.0, 0.9, 0.3, 0.05]))
    def check(positions, value, cut):
        raw = bytearray(original)
        for pos in positions:  # the two headers: sizes, dimensions, scales, units
            raw[pos % len(raw)] = value
        try:
            channels = read_afm(bytes(raw[: max(16, int(len(raw) * cut))]), name="f.ibw", pixel_size_um=0.01)
        except BattlabError:
            return
        for image in channels.values():
            assert image.dims == ("y", "x") and np.isfinite(image.attrs["pixel_size_um"])

    check()
