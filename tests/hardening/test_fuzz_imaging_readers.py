"""Every AFM, diffraction, SAXS/reflectivity and volume reader survives 1,000 damaged inputs.

Seeds: the real files each reader claims (``afm/``, ``xrd/``, ``tem/`` EMD/HDF5 and the
TIFF stacks, for the volume readers) plus files written by the technique tests' byte
writers (Nanonis .sxm, Igor .ibw images, Bruker .brml), by battlab's demo generators
(SAXS and reflectivity tables) or by reference writers (numpy, tifffile, h5py volumes),
where no real file exists. Volume readers open a file on disk lazily, so each case is
written to a scratch file and its voxels are read (see ``_fuzz._on_disk``). volume-zarr
is a folder store: each case is a fresh v2 or v3 store whose metadata document
(``.zarray`` / ``zarr.json``) is the mutated bytes, its chunk files intact. Mutations and limits as
in ``_fuzz.py``; the whole run is capped at 6 GB of address space so a reader that tries
to allocate what a damaged size field declares fails here with MemoryError.

Longer campaign: ``BATTLAB_FUZZ_CASES=20000 .venv/bin/python -m pytest
tests/hardening/test_fuzz_imaging_readers.py -s``.
"""

import io
import time

import numpy as np
import pytest
import xarray  # noqa: F401  imported up front so the first case does not time the import

from battlab.errors import BattlabError, CorruptFileError, TooLargeError
from battlab.io.registry import Source, formats
from tests.hardening import _fuzz

FORMATS = _fuzz.imaging_formats()
ADDRESS_SPACE_BYTES = 6 * 1024**3


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS, ids=[f.name for f in FORMATS])
def test_imaging_reader_survives_mutations(fmt, tmp_path):
    n = _fuzz.cases_per_reader()
    reader = _fuzz._on_disk(fmt, tmp_path)[0] if fmt.kind == "volume" else fmt
    # Warm-up: lazy imports (igor2, tifffile, afmformats) are not the reader's time.
    for name, data in _fuzz.imaging_seeds_for(fmt)[:2]:
        try:
            reader.read(Source(data=data, name=name))
        except Exception:  # noqa: BLE001  refusals (bruker-xrd) are fine here; the fuzz run checks them
            pass
    with _fuzz.address_space_limit(ADDRESS_SPACE_BYTES):
        stats = _fuzz.fuzz_imaging_reader(fmt, n)
    _fuzz.report_and_check(stats, n, fmt.name)


def test_every_imaging_reader_is_fuzzed_and_its_seeds_read(tmp_path):
    names = {f.name for f in FORMATS}
    expected = {f.name for f in formats() if f.kind in _fuzz.IMAGING_KINDS} - {"xrd-hdf5"}
    assert names == expected
    # The generated seeds are valid files: each one reads (bruker-xrd is a refusal by design).
    for fmt in FORMATS:
        generated = _fuzz._imaging_generated_seeds(fmt.name)
        reader = _fuzz._on_disk(fmt, tmp_path)[0] if fmt.kind == "volume" else fmt
        for name, data in generated:
            if fmt.name == "bruker-xrd":
                with pytest.raises(BattlabError, match="Export"):
                    reader.read(Source(data=data, name=name))
            else:
                assert reader.read(Source(data=data, name=name)) is not None, name


# --- regressions for bugs the harness found -------------------------------------------
def _verdict(fmt_name, data, name):
    import tempfile

    fmt = {f.name: f for f in formats()}[fmt_name]
    if fmt.kind == "volume":
        scratch = tempfile.TemporaryDirectory(prefix="battlab-fuzz-")
        try:
            return _verdict_with(_fuzz._on_disk(fmt, scratch.name)[0], data, name)
        finally:
            scratch.cleanup()
    return _verdict_with(fmt, data, name)


def _verdict_with(fmt, data, name):
    start = time.perf_counter()
    try:
        verdict = fmt.read(Source(data=data, name=name))
    except Exception as exc:  # noqa: BLE001  the caller checks which exception
        verdict = exc
    return verdict, time.perf_counter() - start


def test_panalytical_csv_with_a_ragged_row_is_a_corrupt_file():
    # Previously pandas' ParserError escaped read_xy when one scan point had an extra field.
    rows = "\n".join(f"{20 + 0.01 * i:.2f},{100 + i}" for i in range(50))
    text = ("[Measurement conditions]\nAnode material,Cu\nK-Alpha1 wavelength,1.540598\n"
            f"[Scan points]\nAngle,Intensity\n{rows}\n")
    good, _ = _verdict("xrd-xy", text.encode(), "scan.csv")
    assert len(good) == 50
    damaged = text.replace("20.10,110", "20.10,110,7")
    verdict, elapsed = _verdict("xrd-xy", damaged.encode(), "scan.csv")
    assert isinstance(verdict, CorruptFileError) and "Scan points" in str(verdict)
    assert elapsed < _fuzz.TIME_TARGET_S


@pytest.mark.parametrize("line", ["ElementSpacing = 0.\xff\xff0.002", "ElementSpacing = 0.001",
                                  "HeaderSize = \xff0", "ElementSpacing = 0 0 0"])
def test_metaimage_header_with_a_damaged_number_is_a_corrupt_file(line):
    # Previously float()/int() ValueErrors (or an unpacking error) escaped open_volume.
    name, header = _fuzz._volume_seeds("volume-mhd")[0]
    key = line.split(" =")[0]
    lines = [ln if not ln.startswith(key) else line for ln in header.decode().splitlines()]
    if not any(ln.startswith(key) for ln in header.decode().splitlines()):
        lines.append(line)
    verdict, elapsed = _verdict("volume-mhd", "\n".join(lines).encode("latin-1"), name)
    assert isinstance(verdict, CorruptFileError), verdict
    assert elapsed < _fuzz.TIME_TARGET_S


def test_metaimage_seed_reads_the_cube():
    name, header = _fuzz._volume_seeds("volume-mhd")[0]
    vol, _ = _verdict("volume-mhd", header, name)
    np.testing.assert_array_equal(vol.values, _fuzz._cube())
    # The harness gives voxel_size_um=1; the header's ElementSpacing (x, y, z in mm) is noted.
    assert any("declares a voxel size of (2.0, 1.0, 1.0)" in n for n in vol.attrs["notes"]), vol.attrs["notes"]


def test_jpk_force_curve_with_damaged_channel_data_is_a_corrupt_file(real_data):
    # Previously zipfile's BadZipFile (bad CRC) escaped: afmformats reads a channel only
    # when its column is first used, after battlab's guarded load_data call.
    import zipfile

    data = bytearray((real_data / "afm" / "afmformats_fmt-jpk-fd_spot3-0192.jpk-force").read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("segments/0/channels/height.dat")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # local header, then data
    data[start + info.compress_size // 2] ^= 0x55
    verdict, elapsed = _verdict("afm-force", bytes(data), "spot.jpk-force")
    assert isinstance(verdict, CorruptFileError), verdict
    assert elapsed < _fuzz.TIME_TARGET_S


@pytest.mark.parametrize("field", ["sections", "points"])
def test_igor_force_wave_declaring_huge_sizes_is_refused_unread(field):
    # Previously a damaged size field made igor2 allocate ~480 MB for a 1.7 kB file.
    import struct
    import tracemalloc

    from tests.afm.test_sxm_ibw import write_ibw5

    curve = np.random.default_rng(4).normal(0, 1e-9, (300, 1))
    data = bytearray(write_ibw5(curve, dim_units=("s", "", "")))
    if field == "sections":
        data[8:12] = struct.pack("<i", 0x7FFFFFFF)  # wfmSize, the first section size
    else:
        data[64 + 12:64 + 16] = struct.pack("<i", 0x7FFFFFFF)  # npnts in the wave header
    tracemalloc.start()
    try:
        verdict, elapsed = _verdict("afm-force", bytes(data), "curve.ibw")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(verdict, CorruptFileError) and ("damaged" in str(verdict) or "do not fit" in str(verdict))
    assert peak < 20e6 and elapsed < _fuzz.TIME_TARGET_S


def test_metaimage_with_an_overlong_data_file_name_is_a_corrupt_file():
    # Previously the OS error "File name too long" escaped open_volume.
    name, header = _fuzz._volume_seeds("volume-mhd")[0]
    damaged = header.replace(b"ElementDataFile = generated", b"ElementDataFile = " + b"a" * 5000)
    verdict, elapsed = _verdict("volume-mhd", damaged, name)
    assert isinstance(verdict, CorruptFileError) and "ElementDataFile" in str(verdict)
    assert elapsed < _fuzz.TIME_TARGET_S


def _set_tiff_size(data: bytes, value: int, *, pages: int = 1) -> bytes:
    """ImageWidth and ImageLength of the first ``pages`` IFDs set to ``value`` (as LONG)."""
    import struct

    order = "<" if data[:2] == b"II" else ">"
    out = bytearray(data)
    offset = struct.unpack(order + "I", data[4:8])[0]
    for _ in range(pages):
        n = struct.unpack(order + "H", data[offset:offset + 2])[0]
        for i in range(n):
            entry = offset + 2 + 12 * i
            tag, typ = struct.unpack(order + "HH", data[entry:entry + 4])
            if tag in (256, 257):
                out[entry + 2:entry + 4] = struct.pack(order + "H", 4)
                out[entry + 8:entry + 12] = struct.pack(order + "I", value)
        offset = struct.unpack(order + "I", data[offset + 2 + 12 * n:offset + 6 + 12 * n])[0]
        if not offset:
            break
    return bytes(out)


@pytest.mark.parametrize("dims", [(2**40, 16, 16), (6, 2**31, 2**31), (6, 16, 2**20), (2**24, 2**12, 16)])
def test_hdf5_volume_declaring_absurd_dimensions_is_refused_unread(dims):
    # Previously a chunked dataset whose dataspace was damaged ran out of memory building
    # one dask task per declared chunk, or spent minutes walking a million absent chunks.
    import struct
    import tracemalloc

    name, data = _fuzz._volume_seeds("volume-hdf5")[1]
    assert "chunked" in name and data.count(struct.pack("<QQQ", *_fuzz.RAW_SHAPE)) >= 1
    damaged = data.replace(struct.pack("<QQQ", *_fuzz.RAW_SHAPE), struct.pack("<QQQ", *dims))
    tracemalloc.start()
    try:
        with _fuzz.address_space_limit(ADDRESS_SPACE_BYTES):
            verdict, elapsed = _verdict("volume-hdf5", damaged, name)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(verdict, (CorruptFileError, TooLargeError)), verdict
    assert elapsed < _fuzz.TIME_TARGET_S and peak < 50e6


@pytest.mark.parametrize("size", [65535, 2**31])
def test_tiff_volume_and_jpk_image_declaring_absurd_pages_are_refused_unread(size, real_data):
    # Previously open_movie built coordinate arrays (16 GB) from a damaged ImageWidth, and
    # the JPK reader asked tifffile for a 17 GB page.
    name, data = _fuzz._volume_seeds("volume-tiff")[0]
    with _fuzz.address_space_limit(ADDRESS_SPACE_BYTES):
        verdict, elapsed = _verdict("volume-tiff", _set_tiff_size(data, size), name)
    assert isinstance(verdict, TooLargeError) and elapsed < _fuzz.TIME_TARGET_S
    jpk = (real_data / "afm" / "AFMReader_sample_0.jpk").read_bytes()
    with _fuzz.address_space_limit(ADDRESS_SPACE_BYTES):
        verdict, elapsed = _verdict("afm-jpk-image", _set_tiff_size(jpk, size, pages=20), "sample.jpk")
    assert isinstance(verdict, CorruptFileError) and "declares" in str(verdict)
    assert elapsed < _fuzz.TIME_TARGET_S


@pytest.mark.parametrize("shape, chunks", [([2**24, 4096, 16], [1, 1, 1]), ([6, 16, 2**20], [1, 1, 1]),
                                           ([2**40, 16, 16], [2, 8, 8])])
def test_zarr_store_declaring_absurd_shape_is_refused_unread(shape, chunks):
    # Previously dask was asked for one task per declared chunk (10^12 of them: MemoryError
    # after ~50 s), and zarr's own stored-chunk count walks every declared chunk key.
    import json

    meta = json.loads(_fuzz._zarr_store(3)[0])
    meta["shape"] = shape
    meta["chunk_grid"]["configuration"]["chunk_shape"] = chunks
    with _fuzz.address_space_limit(ADDRESS_SPACE_BYTES):
        verdict, elapsed = _verdict("volume-zarr", json.dumps(meta).encode(), "generated_v3.zarr")
    assert isinstance(verdict, (CorruptFileError, TooLargeError)), verdict
    assert elapsed < _fuzz.TIME_TARGET_S


def test_zarr_store_with_a_damaged_chunk_is_a_corrupt_file():
    # Previously the codec's ValueError escaped when the voxels were computed.
    import json

    meta = json.loads(_fuzz._zarr_store(2)[0])
    meta["dtype"] = "<u4"  # chunks hold half the bytes this dtype needs
    verdict, elapsed = _verdict("volume-zarr", json.dumps(meta).encode(), "generated_v2.zarr")
    assert isinstance(verdict, CorruptFileError), verdict
    assert elapsed < _fuzz.TIME_TARGET_S


def test_tiff_volume_whose_image_length_has_many_values_is_a_corrupt_file():
    # Previously tifffile's TypeError (a tuple compared with an int) escaped open_volume when
    # the ImageLength entry's count was damaged.
    import struct

    name, data = _fuzz._volume_seeds("volume-tiff")[0]
    out = bytearray(data)
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry:entry + 2])[0] == 257:
            out[entry + 4:entry + 8] = struct.pack("<I", 79)
    verdict, elapsed = _verdict("volume-tiff", bytes(out), name)
    assert isinstance(verdict, CorruptFileError), verdict
    assert elapsed < _fuzz.TIME_TARGET_S
