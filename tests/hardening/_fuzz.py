"""Deterministic mutation fuzzing of every registered cycler/EIS reader.

Seeds are the real instrument files a reader claims (by sniffing or extension) plus the
hand-made fixtures in ``tests/data`` and a generated workbook for the XLSX reader. Each
case is one mutation of one seed fed straight to the reader (``Format.read``, not
``battlab.load``, whose catch-all would hide reader bugs). A case passes when the reader
returns or raises a :class:`~battlab.errors.BattlabError` within the time limit.

Run alone for a longer campaign::

    BATTLAB_FUZZ_CASES=20000 .venv/bin/python -m tests.hardening._fuzz
"""

from __future__ import annotations

import gc
import io
import os
import random
import signal
import time
import traceback
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from battlab.errors import BattlabError, BattlabWarning
from battlab.io.registry import Format, Source, formats

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "tests" / "data"
#: Hand-written spectroscopy fixtures (JCAMP-DX, VAMAS, text spectra, SPC): seeds for the
#: spectrum readers, which have no real files except the XAS ones.
SPECTRA_DATA = REPO / "tests" / "spectra" / "data"
REAL_DATA = Path(os.environ.get("BATTLAB_REAL_DATA", REPO.parent / "shared" / "data" / "real"))

#: The time-to-verdict target, reported per reader (README table, ``python -m
#: tests.hardening._fuzz``). A campaign fails when more than :data:`MAX_OVER_TARGET` of its
#: verdicts miss it: a reader that became slow misses it on many cases, while a shared CI
#: machine's scheduling delays a rare one.
TIME_TARGET_S = 2.0
#: Share of a campaign's verdicts allowed past the target.
MAX_OVER_TARGET = 0.01
#: A verdict slower than this is a failure: the bugs the harness found ran for minutes,
#: so five times the target separates them from a busy machine.
TIME_LIMIT_S = 5 * TIME_TARGET_S
#: A case still running after this is interrupted and recorded as a hang.
HANG_S = 20
#: Seeds above this size are mutated from a prefix (full-size copies get a few cases only)
#: so that 1,000 cases per reader stay within the CI budget.
BIG_SEED = 160_000
KINDS = ("echem",)


@dataclass
class Stats:
    reader: str
    seeds: int = 0
    cases: int = 0
    failures: list = field(default_factory=list)
    max_s: float = 0.0
    max_case: str = ""
    over_target: int = 0  # verdicts slower than TIME_TARGET_S
    peak_bytes: int = 0
    peak_case: str = ""
    rejected: int = 0
    other_warnings: set = field(default_factory=set)


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def _sensor_kind(name: str) -> str:
    low = name.lower()
    for key, kind in (("eqcm", "eqcm"), ("dilat", "dilatometry"), ("ae_", "acoustic"), ("acoustic", "acoustic")):
        if key in low:
            return kind
    return "stress"


def _read_sensor(source, **_):
    from battlab.sensors import read_sensor_table

    return read_sensor_table(source, kind=_sensor_kind(source.name), name=source.name)


#: The sensor-table reader is not in the format registry (it needs to be told the
#: sensor kind), so it is fuzzed through this stand-in; the kind follows the seed's name.
SENSOR_TABLE = Format(name="sensor-table", description="a sensor table", kind="sensor",
                      extensions=(".csv", ".tsv", ".txt"), read=_read_sensor,
                      sniff=lambda head, name: 1.0 if Path(name).name.startswith("sensor_") else 0.0)


def echem_formats():
    return [f for f in formats() if f.kind in KINDS and f.available()] + [SENSOR_TABLE]


def spectrum_formats():
    """The spectroscopy readers (kind "spectrum"), fuzzed by test_fuzz_spectra_readers."""
    return [f for f in formats() if f.kind == "spectrum" and f.available()]


def _workbook_seed() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "record"
    ws.append(["Total Time", "Current(mA)", "Voltage(V)", "Date"])
    for i in range(40):
        ws.append([f"0:00:{i:02d}", 1.5 if i < 20 else -1.5, 3.0 + 0.01 * i, f"2024-03-12 10:00:{i:02d}"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _bdf_seed() -> bytes:
    """A Battery Data Format table written by battlab's own writer (no BDF file ships)."""
    import tempfile

    from battlab.datasets import make_cycling
    from battlab.io import write_bdf_csv

    df = make_cycling().data.iloc[:300]
    with tempfile.TemporaryDirectory() as tmp:
        return Path(write_bdf_csv(df, Path(tmp) / "seed.csv")).read_bytes()


def _hdf5_series_seed() -> bytes:
    """A small NeXus-style XRD series in HDF5 (2θ, intensity, ISO times), written with h5py."""
    import h5py
    import numpy as np

    buf = io.BytesIO()
    x = np.linspace(20, 30, 200)
    with h5py.File(buf, "w") as f:
        g = f.create_group("entry/data")
        g.attrs["NX_class"] = "NXdata"
        g.attrs["signal"] = "intensity"
        g.attrs["axes"] = ["time", "two_theta_deg"]
        g["two_theta_deg"] = x
        g["intensity"] = np.array([100 + 500 * np.exp(-0.5 * ((x - 25 - 0.1 * i) / 0.1) ** 2) for i in range(4)])
        g["time"] = np.array([f"2026-01-05T09:{10 * i:02d}:00Z" for i in range(4)], dtype="S")
        f.attrs["wavelength_A"] = 1.540598
    return buf.getvalue()


def xrd_hdf5_format():
    """The HDF5 diffraction-series reader (kind "xrd"), fuzzed by test_fuzz_all_readers."""
    return next(f for f in formats() if f.name == "xrd-hdf5")


def seeds_for(fmt) -> list[tuple[str, bytes]]:
    """Every real and fixture file this reader claims, by its sniffer or its extensions."""
    paths = sorted(TEST_DATA.glob("*"))
    if fmt.kind == "spectrum":
        paths += sorted(SPECTRA_DATA.glob("*"))
    if (REAL_DATA / "MANIFEST.md").is_file():
        paths += sorted(p for p in REAL_DATA.rglob("*") if p.is_file() and p.name != "MANIFEST.md")
    out = []
    for p in paths:
        data = p.read_bytes()
        try:
            score = fmt.sniff(data[:65536], p.name)
        except Exception:  # noqa: BLE001  a crashing sniffer just does not claim the file
            score = 0.0
        if score > 0 or (fmt.extensions and p.suffix.lower() in fmt.extensions and score > 0):
            out.append((p.name, data))
    if fmt.name == "cycler-xlsx":
        out.append(("generated_record.xlsx", _workbook_seed()))
    if fmt.name == "bdf-csv":
        out.append(("generated_bdf.csv", _bdf_seed()))
    if fmt.name == "xrd-hdf5":
        out.append(("generated_series.h5", _hdf5_series_seed()))
    return out


# --------------------------------------------------------------------------- mutations
MUTATIONS = ("truncate", "flip_head", "ffff", "random_after_magic", "empty", "huge_line",
             "zero_run", "duplicate_block", "stack")


def mutate(data: bytes, kind: str, rng: random.Random) -> bytes:
    n = len(data)
    if kind == "empty" or n == 0:
        return b""
    if kind == "truncate":
        return data[: rng.randrange(n)]
    if kind == "flip_head":
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(min(n, 4096))
            buf[pos] ^= rng.randint(1, 255)
        return bytes(buf)
    if kind == "ffff":
        # Length-looking fields: 4 aligned-or-not bytes of the header set to 0xFFFFFFFF.
        buf = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(max(min(n, 4096) - 4, 1))
            if rng.random() < 0.5:
                pos -= pos % 4
            buf[pos:pos + 4] = b"\xff\xff\xff\xff"
        return bytes(buf)
    if kind == "random_after_magic":
        keep = min(n, rng.choice((4, 8, 16, 64, 256)))
        return data[:keep] + rng.randbytes(rng.randrange(1, 8192))
    if kind == "huge_line":
        pos = rng.randrange(n)
        filler = rng.choice((b"9", b"a", b",", b"\t", b";", b"1.5e300,"))
        return data[:pos] + filler * (2_000_000 // len(filler)) + data[pos:]
    if kind == "zero_run":
        pos = rng.randrange(n)
        return data[:pos] + b"\x00" * rng.randrange(1, 4096) + data[pos + rng.randrange(64):]
    if kind == "duplicate_block":
        a = rng.randrange(n)
        b = min(n, a + rng.randrange(1, 4096))
        return data[:b] + data[a:b] * rng.randint(1, 5) + data[b:]
    # stack: two or three of the above on top of each other
    for sub in rng.sample(("truncate", "flip_head", "ffff", "zero_run", "duplicate_block"), rng.randint(2, 3)):
        data = mutate(data, sub, rng)
        if not data:
            break
    return data


def run_case(fmt, name: str, data: bytes, stats: Stats, label: str, *, measure_memory: bool):
    """One reader call; records failures (non-battlab exceptions, slow verdicts, hangs)."""
    if measure_memory:
        tracemalloc.start()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    start = time.perf_counter()
    outcome = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fmt.read(Source(data=data, name=name))
        for wrn in caught:
            if not issubclass(wrn.category, BattlabWarning):
                stats.other_warnings.add(wrn.category.__name__)
    except BattlabError:
        stats.rejected += 1
    except _Hang:
        outcome = f"hang > {HANG_S} s"
    except Exception as exc:  # noqa: BLE001  exactly what the harness is looking for
        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb) if "battlab" in f.filename), "?")
        outcome = f"{type(exc).__name__} at {where}: {str(exc)[:120]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        elapsed = time.perf_counter() - start
        if measure_memory:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            if peak > stats.peak_bytes:
                stats.peak_bytes, stats.peak_case = peak, label
    stats.cases += 1
    if elapsed > stats.max_s:
        stats.max_s, stats.max_case = elapsed, label
    stats.over_target += elapsed > TIME_TARGET_S
    if outcome is None and elapsed > TIME_LIMIT_S:
        outcome = f"verdict took {elapsed:.2f} s (limit {TIME_LIMIT_S} s)"
    if outcome is not None:
        stats.failures.append(f"{label}: {outcome}")


def fuzz_reader(fmt, n_cases: int, *, seed: int = 12, memory_every: int = 10, seeds=None) -> Stats:
    """``n_cases`` deterministic mutations spread over the reader's seeds (``seeds_for``
    unless a list of (name, bytes) is given)."""
    rng = random.Random(f"{seed}-{fmt.name}")
    stats = Stats(fmt.name)
    seeds = seeds_for(fmt) if seeds is None else seeds
    stats.seeds = len(seeds)
    if not seeds:
        return stats
    # Full-size big seeds get a handful of cases; the bulk mutates prefixes of them.
    bases = []
    for name, data in seeds:
        bases.append((name, data[:BIG_SEED], "prefix" if len(data) > BIG_SEED else "full"))
    fixed = []
    for name, data in seeds:
        fixed.append((name, data, "unmutated"))
        fixed.append((name, b"", "empty"))
        if len(data) > BIG_SEED:
            for rel in (0.1, 0.5, 0.99):
                fixed.append((name, data[: int(len(data) * rel)], f"truncate@{rel:.0%} (full size)"))
    # The test process holds everything earlier tests built (apps, figures); a full garbage
    # collection over that heap can stall for seconds and would be timed as a reader's verdict.
    # Frozen objects are not scanned, so the collections here see only this run's garbage.
    gc.collect()
    gc.freeze()
    try:
        for i, (name, data, kind) in enumerate(fixed[:n_cases]):
            run_case(fmt, name, data, stats, f"{name} [{kind}]", measure_memory=i % memory_every == 0)
        for i in range(max(n_cases - len(fixed), 0)):
            name, data, _ = bases[i % len(bases)]
            kind = MUTATIONS[rng.randrange(len(MUTATIONS))]
            case_seed = rng.randrange(2**32)
            mutated = mutate(data, kind, random.Random(case_seed))
            run_case(fmt, name, mutated, stats, f"{name} [{kind} seed={case_seed}]",
                     measure_memory=i % memory_every == 0)
    finally:
        gc.unfreeze()
    return stats


def markdown_table(all_stats) -> str:
    rows = ["| reader | seed files | cases | rejected with a battlab error | failures | max time to verdict | peak memory (traced) |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for s in all_stats:
        rows.append(f"| {s.reader} | {s.seeds} | {s.cases} | {s.rejected} | {len(s.failures)} | "
                    f"{s.max_s * 1000:.0f} ms | {s.peak_bytes / 1e6:.1f} MB |")
    return "\n".join(rows)



def report_and_check(stats: Stats, n_cases: int, label: str) -> None:
    """Print one reader's fuzz summary and table row, then assert the run was clean:
    seeds found, every case run, no failure, the slowest verdict within the limit."""
    print(f"\n{label}: {stats.seeds} seeds, {stats.cases} cases, {stats.rejected} rejected, "
          f"{len(stats.failures)} failures, max {stats.max_s * 1000:.0f} ms ({stats.max_case}), "
          f"{stats.over_target} over {TIME_TARGET_S:g} s, "
          f"peak {stats.peak_bytes / 1e6:.1f} MB ({stats.peak_case})")
    print(markdown_table([stats]).splitlines()[-1])
    assert stats.seeds > 0, f"no seed file for {label}"
    assert stats.cases >= n_cases
    assert not stats.failures, "\n".join(stats.failures[:20])
    assert stats.max_s < TIME_LIMIT_S, stats.max_case
    assert stats.over_target <= MAX_OVER_TARGET * stats.cases, (
        f"{stats.over_target} of {stats.cases} verdicts took over {TIME_TARGET_S:g} s (slowest: {stats.max_case})")


def cases_per_reader(default: int = 1000) -> int:
    return int(os.environ.get("BATTLAB_FUZZ_CASES", default))


if __name__ == "__main__":
    results = []
    for fmt in echem_formats():
        t0 = time.perf_counter()
        st = fuzz_reader(fmt, cases_per_reader())
        results.append(st)
        print(f"{fmt.name}: {st.cases} cases in {time.perf_counter() - t0:.1f} s, {len(st.failures)} failures",
              flush=True)
        for f in st.failures[:20]:
            print("   ", f)
    print(markdown_table(results))
    for st in results:
        print(f"{st.reader}: slowest {st.max_case}; peak memory {st.peak_case}")


# --------------------------------------------------------------------------- imaging readers
#: Registry kinds fuzzed by test_fuzz_imaging_readers: AFM images and force curves,
#: diffraction scans, SAXS/reflectivity curves and tomography volumes.
IMAGING_KINDS = ("afm", "xrd", "saxs", "reflectivity", "volume")
#: Volume readers open files lazily from disk; the fuzz case then reads the voxels, all of
#: them when the volume declares at most this many bytes, else its first and last slice.
VOLUME_READ_ALL_BYTES = 64 * 1024**2
#: One raw volume with a fixed layout: the raw reader needs shape and dtype from the caller.
RAW_SHAPE, RAW_DTYPE = (6, 16, 16), "<u2"


def _cube():
    import numpy as np

    z, y, x = np.indices(RAW_SHAPE)
    return ((z * 37 + y * 11 + x * 5) % 997).astype(RAW_DTYPE)


def _volume_seeds(fmt_name: str) -> list[tuple[str, bytes]]:
    """Small volumes written by reference writers (numpy, tifffile, h5py): no real ones ship."""
    import numpy as np

    cube = _cube()
    if fmt_name == "volume-npy":
        buf = io.BytesIO()
        np.save(buf, cube)
        return [("generated_volume.npy", buf.getvalue())]
    if fmt_name == "volume-raw":
        return [("generated_volume.raw", cube.tobytes())]
    if fmt_name == "volume-mhd":
        # The header is what is fuzzed; its data file is written intact beside it each case.
        nz, ny, nx = cube.shape
        header = (f"ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
                  f"ElementSpacing = 0.001 0.001 0.002\nDimSize = {nx} {ny} {nz}\nElementType = MET_USHORT\n"
                  "HeaderSize = 0\nElementDataFile = generated_volume.raw\n")
        return [("generated_volume.mhd", header.encode())]
    if fmt_name == "volume-tiff":
        import tifffile

        buf = io.BytesIO()
        tifffile.imwrite(buf, cube, photometric="minisblack")
        return [("generated_volume.tif", buf.getvalue())]
    if fmt_name == "volume-zarr":
        # A zarr store is a folder: its metadata document is fuzzed, the chunks stay intact.
        return [(f"generated_v{v}.zarr", _zarr_store(v)[0]) for v in (2, 3)]
    if fmt_name == "volume-hdf5":
        import h5py

        out = []
        for label, kwargs in (("contiguous", {}), ("chunked", {"chunks": (2, 8, 8), "compression": "gzip"})):
            buf = io.BytesIO()
            with h5py.File(buf, "w") as fh:
                fh.create_dataset("entry/volume", data=cube, **kwargs).attrs["voxel_size_um"] = [1.0, 0.5, 0.5]
            out.append((f"generated_volume_{label}.h5", buf.getvalue()))
        return out
    return []


def _zarr_store(version: int) -> tuple[bytes, dict]:
    """(metadata document, {relative path: bytes} of every other file) of a small zarr store."""
    import tempfile

    import zarr

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "v.zarr"
        arr = zarr.open_array(str(store), mode="w", shape=RAW_SHAPE, chunks=(2, 8, 8), dtype=RAW_DTYPE,
                              zarr_format=version)
        arr[:] = _cube()
        meta = "zarr.json" if version == 3 else ".zarray"
        files = {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*") if p.is_file()}
    return files.pop(meta), {**files, "_metadata_name": meta.encode()}


def _text_table(header: str, cols) -> bytes:
    rows = "\n".join(" ".join(f"{v:.8g}" for v in row) for row in zip(*cols, strict=True))
    return (header + "\n" + rows + "\n").encode()


def _imaging_generated_seeds(fmt_name: str) -> list[tuple[str, bytes]]:
    """Seeds for readers with no real file: the byte writers the technique tests use, or
    battlab's demo generators written as the text tables the readers take."""
    import numpy as np

    if fmt_name.startswith("volume-"):
        return _volume_seeds(fmt_name)
    if fmt_name == "afm-nanonis":
        from tests.afm.test_sxm_ibw import write_sxm

        rng = np.random.default_rng(1)
        z = rng.normal(0, 1e-9, (24, 32))
        channels = [("Z", "m", "both", [z, z[:, ::-1]]), ("Current", "A", "forward", [z])]
        return [("generated_scan.sxm", write_sxm(channels, nx=32, ny=24, range_m=(320e-9, 240e-9))),
                ("generated_scan_lsb.sxm", write_sxm([("Z", "m", "forward", [z])], nx=32, ny=24,
                                                     range_m=(320e-9, 240e-9), lsb=True))]
    if fmt_name == "afm-asylum-image":
        from tests.afm.test_sxm_ibw import write_ibw5

        stack = np.random.default_rng(3).normal(0, 1e-9, (16, 12, 2))
        return [("generated_image.ibw", write_ibw5(stack, sf_a=(1e-8, 1e-8, 1.0), dim_units=("m", "m", ""),
                                                   labels=[b"HeightTrace", b"PhaseTrace"],
                                                   note=b"ScanSize: 1.6e-07\rScanRate: 1\r"))]
    if fmt_name == "brml":
        import zipfile

        from tests.diffraction.test_brml import SINGLE, TT1, _brml, _counts, _raw_xml

        # The stored (uncompressed) copy lets byte damage reach the XML inside the archive.
        stored = _brml({"Experiment0/RawData0.xml": _raw_xml(TT1[:300], _counts(TT1[:300])),
                        "Experiment0/RawData1.xml": _raw_xml(TT1[300:600], _counts(TT1[300:600]),
                                                             tt_column=False)}, compression=zipfile.ZIP_STORED)
        return [("generated_scan.brml", SINGLE), ("generated_two_ranges.brml", stored)]
    if fmt_name == "bruker-xrd":
        # battlab refuses Bruker binary .raw (export .xy); a RAW4.00 header is enough to claim it.
        return [("generated_scan.raw", b"RAW4.00\x00" + bytes(range(256)) * 8)]
    if fmt_name in ("saxs-text", "reflectivity-text"):
        from battlab.datasets import make_reflectivity_series, make_saxs_series

        if fmt_name == "saxs-text":
            curve = make_saxs_series(n_curves=2, n_q=120).data.isel(time=0)
            q, value = curve["q_inv_A"].values, curve.values
            return [("generated_saxs.dat", _text_table("# q (1/A)  I (1/cm)  dI", [q, value, 0.02 * value])),
                    ("generated_saxs.csv", _text_table("q_nm-1,I,sigma", [10 * q, value, 0.02 * value])
                     .replace(b" ", b","))]
        curve = make_reflectivity_series(n_curves=2, n_q=120).data.isel(time=0)
        q, value = curve["q_inv_A"].values, curve.values
        orso = ("# # ORSO reflectivity data file | 1.0 standard | YAML encoding | https://www.reflectometry.org/\n"
                "# columns:\n#   - {name: Qz, unit: 1/angstrom}\n#   - {name: R}\n#   - {name: sR}\n"
                "#   - {name: sQz}\n# Qz R sR sQz")
        return [("generated_reflectivity.ort", _text_table(orso, [q, value, 0.05 * value, 0.02 * q])),
                ("generated_reflectivity.dat", _text_table("# q (1/A) R dR", [q, value, 0.05 * value]))]
    return []


def _on_disk(fmt, scratch=None):
    """A stand-in Format whose read writes the bytes to a file in ``scratch`` (volumes open
    lazily from a path), opens it and reads the voxels, so decoding is part of the case.
    Returns (format, scratch folder); a new temporary folder unless one is given."""
    import dataclasses
    import tempfile

    scratch = Path(scratch) if scratch is not None else Path(tempfile.mkdtemp(prefix="battlab-fuzz-"))
    beside = {"generated_volume.raw": _cube().tobytes()} if fmt.name == "volume-mhd" else {}
    options = {"voxel_size_um": 1.0}
    if fmt.name == "volume-raw":
        options.update(shape=RAW_SHAPE, dtype=RAW_DTYPE)

    stores = {f"generated_v{v}.zarr": _zarr_store(v)[1] for v in (2, 3)} if fmt.name == "volume-zarr" else {}

    def read(source, **_):
        path = scratch / Path(source.name).name
        for name, data in beside.items():
            (scratch / name).write_bytes(data)
        if path.name in stores:
            import shutil

            shutil.rmtree(path, ignore_errors=True)
            files = dict(stores[path.name])
            for rel, data in files.items():
                if rel != "_metadata_name":
                    (path / rel).parent.mkdir(parents=True, exist_ok=True)
                    (path / rel).write_bytes(data)
            (path / files["_metadata_name"].decode()).write_bytes(source.data)
        else:
            path.write_bytes(source.data)
        vol = fmt.read(Source(data=source.data, name=str(path)), **options)
        if vol.nbytes <= VOLUME_READ_ALL_BYTES:
            vol.values
        else:
            vol.isel(z=0).values, vol.isel(z=-1).values
        return vol

    return dataclasses.replace(fmt, read=read), scratch


def imaging_formats():
    """Every reader of IMAGING_KINDS except xrd-hdf5 (fuzzed in test_fuzz_all_readers).
    volume-zarr is a folder store: its metadata document is what is mutated."""
    out = []
    for fmt in formats():
        if fmt.kind not in IMAGING_KINDS or not fmt.available() or fmt.name == "xrd-hdf5":
            continue
        out.append(fmt)
    return out


def imaging_seeds_for(fmt) -> list[tuple[str, bytes]]:
    """The real and fixture files the reader claims (seeds_for) plus generated ones."""
    return seeds_for(fmt) + _imaging_generated_seeds(fmt.name)


def fuzz_imaging_reader(fmt, n_cases: int, **kwargs) -> Stats:
    """Fuzz one imaging reader; volume readers go through a scratch file (see _on_disk)."""
    import shutil

    seeds = imaging_seeds_for(fmt)
    if fmt.kind != "volume":
        return fuzz_reader(fmt, n_cases, seeds=seeds, **kwargs)
    wrapped, scratch = _on_disk(fmt)
    try:
        return fuzz_reader(wrapped, n_cases, seeds=seeds, **kwargs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class address_space_limit:
    """Cap this process's address space (RLIMIT_AS soft limit) inside a ``with`` block, so
    that a reader asked to allocate terabytes fails with MemoryError (a recorded failure)
    instead of swapping the shared machine; the previous limit is restored on exit.

    The cap is at least 4 GiB above what the process already maps, so that a long test
    session (thread pools, earlier tests' arenas) is not mistaken for a reader's bomb."""

    def __init__(self, limit_bytes: int):
        self.limit = limit_bytes

    def __enter__(self):
        import resource

        try:
            status = Path("/proc/self/status").read_text()
            mapped = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmSize:"))) * 1024
            self.limit = max(self.limit, mapped + 4 * 1024**3)
        except (OSError, StopIteration, ValueError):
            pass
        self.old = resource.getrlimit(resource.RLIMIT_AS)
        hard = self.old[1]
        resource.setrlimit(resource.RLIMIT_AS, (self.limit if hard == resource.RLIM_INFINITY else min(self.limit, hard),
                                                hard))
        return self

    def __exit__(self, *exc):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, self.old)
        return False
