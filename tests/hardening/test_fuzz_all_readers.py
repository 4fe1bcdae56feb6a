"""Every cycler/EIS reader survives 1,000 damaged inputs with only battlab errors, fast.

See ``_fuzz.py`` for the mutations and seeds. Longer campaign:
``BATTLAB_FUZZ_CASES=20000 .venv/bin/python -m tests.hardening._fuzz``.
"""

import time
import warnings

import pytest

from battlab.errors import CorruptFileError, MissingDataError
from battlab.io.registry import Source, formats
from tests.hardening import _fuzz

FORMATS = _fuzz.echem_formats()
RESULTS = {}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS, ids=[f.name for f in FORMATS])
def test_reader_survives_mutations(fmt):
    n = _fuzz.cases_per_reader()
    stats = _fuzz.fuzz_reader(fmt, n)
    RESULTS[fmt.name] = stats
    _fuzz.report_and_check(stats, n, fmt.name)


@pytest.mark.slow
def test_hdf5_xrd_series_reader_survives_mutations():
    fmt = _fuzz.xrd_hdf5_format()
    seeds = _fuzz.seeds_for(fmt)
    assert "generated_series.h5" in {name for name, _ in seeds}
    fmt.read(Source(data=dict(seeds)["generated_series.h5"], name="generated_series.h5"))  # the seed reads
    n = _fuzz.cases_per_reader()
    _fuzz.report_and_check(_fuzz.fuzz_reader(fmt, n), n, fmt.name)


def test_every_echem_reader_is_fuzzed():
    names = {f.name for f in FORMATS}
    assert {"biologic-mpr", "biologic-mpt", "gamry-dta", "cycler-csv", "eis-csv"} <= names
    for fmt in FORMATS:
        assert _fuzz.seeds_for(fmt), fmt.name


def test_mutations_are_deterministic():
    import random

    data = bytes(range(256)) * 20
    for kind in _fuzz.MUTATIONS:
        assert _fuzz.mutate(data, kind, random.Random(5)) == _fuzz.mutate(data, kind, random.Random(5))


# --- regressions for bugs the harness found -------------------------------------------
def _read(name, data):
    """Reader verdict (the result or the battlab error) and the time it took."""
    fmt = {f.name: f for f in formats()}[name]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            verdict = fmt.read(Source(data=data, name="damaged"))
        except (CorruptFileError, MissingDataError) as exc:
            verdict = exc
    return verdict, time.perf_counter() - start


def test_mpt_with_millions_of_header_tabs_is_rejected_quickly(test_data):
    # Previously pandas was asked for 2 million columns and ran for minutes.
    data = (test_data / "eclab_gcpl_full_header.mpt").read_bytes()
    pos = data.index(b"time/s")
    verdict, elapsed = _read("biologic-mpt", data[:pos] + b"\t" * 2_000_000 + data[pos:])
    assert isinstance(verdict, CorruptFileError) and "columns" in str(verdict)
    assert elapsed < _fuzz.TIME_LIMIT_S


@pytest.mark.parametrize("filler", [b"\t", b","])
def test_eis_table_with_a_huge_header_line_is_rejected_quickly(test_data, filler):
    # Previously a 2 MB cell made the unit regex backtrack for minutes, and 10^6 cells
    # each went through the column classifier for seconds.
    data = (test_data / "eis_named_minus_zimag.csv").read_bytes()
    # The junk line is skipped and the real header below it still found.
    verdict, elapsed = _read("eis-csv", filler * 2_000_000 + b"\n" + data)
    assert len(verdict) > 10 and elapsed < _fuzz.TIME_LIMIT_S
    # One 2 MB cell in place of the header: rejected, quickly.
    lines = data.split(b"\n")
    lines[1] = b"(" + b" " * 2_000_000 + b"x"  # line 2 is the header; line 1 a comment
    verdict, elapsed = _read("eis-csv", b"\n".join(lines))
    assert isinstance(verdict, MissingDataError) and elapsed < _fuzz.TIME_LIMIT_S


def test_one_huge_text_cell_does_not_blow_up_memory(real_data):
    # Previously a text column became numpy fixed-width strings as wide as its longest
    # cell: one 2 MB cell cost ~600 MB and about a second.
    import tracemalloc

    data = (real_data / "eis-text" / "impedancepy_exampleDataCHInstruments.txt").read_bytes()
    pos = data.rindex(b"\n", 0, len(data) - 2)  # inside the last data row
    damaged = data[:pos] + b"x" * 2_000_000 + data[pos:]
    tracemalloc.start()
    try:
        _verdict, elapsed = _read("chi-txt", damaged)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6, f"peak {peak / 1e6:.0f} MB for a {len(damaged) / 1e6:.1f} MB file"
    assert elapsed < _fuzz.TIME_LIMIT_S


@pytest.mark.parametrize("where", ["header", "body"])
def test_sensor_table_with_a_huge_line_is_read_quickly(test_data, where):
    # Previously a 2 MB run of separators in a data row made the table parser run for
    # minutes, and a 2 MB header cell made the unit patterns backtrack.
    from battlab.sensors import read_sensor_table

    data = (test_data / "sensor_moss.csv").read_bytes()
    lines = data.split(b"\n")
    header = next(k for k, ln in enumerate(lines) if ln and not ln.startswith(b"#"))
    at = header + 1 if where == "body" else header
    lines.insert(at, b"," * 2_000_000 if where == "body" else b"(" + b" " * 2_000_000 + b"x")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = read_sensor_table(b"\n".join(lines), kind="stress", name="sensor_moss.csv")
    elapsed = time.perf_counter() - start
    clean = read_sensor_table(data, kind="stress", name="sensor_moss.csv")
    # The damaged line is skipped (with a warning) and every real row is kept.
    assert len(table) == len(clean)
    if where == "body":
        assert any("damaged rows" in str(c.message) for c in caught)
    assert elapsed < _fuzz.TIME_LIMIT_S
