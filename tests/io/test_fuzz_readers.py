"""Damaged inputs: readers may only raise battlab's own errors, and must do so quickly.

Valid seeds (the hand-made fixtures, a generated workbook and BDF table, and a few
small real files when present) are truncated, have header bytes flipped and 4-byte
fields set to 0xFFFFFFFF, then go through ``battlab.load`` and, separately, straight
into the reader the name points at. Hypothesis runs derandomized with a fixed number
of examples so CI sees the same cases every time.
"""

import time
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import battlab
from battlab.errors import BattlabError
from battlab.io.registry import Source, formats
# The seed builders are shared with the 1,000-case harness; the limit is a hang guard.
from tests.hardening._fuzz import TIME_LIMIT_S, _bdf_seed, _workbook_seed

FUZZ = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

FIXTURES = ["cycler_semicolon_comma_latin1.csv", "cycler_maccor_style.txt", "cycler_neware_nested.csv",
            "cycler_unmapped_names.csv", "eclab_minimal_header.mpt", "eclab_gcpl_full_header.mpt",
            "gamry_cv_two_cycles.DTA", "gamry_chronop.DTA", "eis_named_minus_zimag.csv", "eis_modulus_phase.tsv"]

# (path under the real folder, bytes to keep from its start or None for all of it)
REAL_SEEDS = [
    ("biologic/yadg_mb.issue_95.mpr", None),
    ("biologic/yadg_ocv.mpr", None),
    ("biologic/impedancepy_exampleDataBioLogic.mpr", None),
    ("biologic/yadg_mb.issue_95.de.mpt", None),
    ("pec/cellpy_pec_Test25209.csv", None),
    ("neware/cellpy_nw_regular_export_ife_example.csv", 48_000),
    ("maccor/cellpy_maccor_001.txt", 48_000),
    ("neware/NewareNDA_Issue94_Unit27_Example_Data_File.ndax", None),
    ("arbin/cellpy_20160805_test001_45_cc_01.res", 16_384),
    ("gamry/impedancepy_exampleDataGamry.DTA", None),
    ("eis-text/impedancepy_exampleDataVersaStudio.par", None),
    ("eis-text/impedancepy_exampleDataZPlot.z", None),
    ("eis-text/impedancepy_exampleDataCHInstruments.txt", None),
]


@st.composite
def mutations(draw):
    """A list of (kind, relative position, byte) edits."""
    ops = st.tuples(st.sampled_from(["truncate", "flip_header", "ffff_header", "ffff_anywhere"]),
                    st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
                    st.integers(min_value=1, max_value=255))
    return draw(st.lists(ops, min_size=1, max_size=3))


def _mutate(data: bytes, edits) -> bytes:
    buf = bytearray(data)
    for kind, rel, byte in edits:
        if not buf:
            break
        if kind == "truncate":
            buf = buf[: int(len(buf) * rel)]
        elif kind == "flip_header":
            pos = int(min(len(buf), 1024) * rel) % len(buf)
            buf[pos] ^= byte
        else:
            span = min(len(buf), 4096) if kind == "ffff_header" else len(buf)
            pos = int(max(span - 4, 0) * rel)
            buf[pos:pos + 4] = b"\xff\xff\xff\xff"
    return bytes(buf)


def _reader_for(name: str):
    suffix = name.rsplit(".", 1)[-1].lower()
    by_name = {f.name: f for f in formats()}
    return {"mpt": by_name["biologic-mpt"], "mpr": by_name["biologic-mpr"], "xlsx": by_name["cycler-xlsx"],
            "csv": by_name["cycler-csv"], "txt": by_name["cycler-csv"], "dta": by_name["gamry-dta"],
            "par": by_name["versastudio-par"], "z": by_name["zplot-z"], "tsv": by_name["eis-csv"]}.get(suffix)


def _check(data: bytes, name: str):
    """Both entry points may only raise BattlabError, each within the time limit."""
    fmt = _reader_for(name)
    calls = [lambda: battlab.load(data, name=name)]
    if fmt is not None and data:
        calls.append(lambda: fmt.read(Source(data=data, name=name)))
    for call in calls:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # repairs are announced with warnings; not failures
            try:
                call()
            except BattlabError:
                pass
        elapsed = time.perf_counter() - start
        assert elapsed < TIME_LIMIT_S, f"{name}: {elapsed:.2f} s"


@pytest.fixture(scope="module")
def fixture_seeds(test_data):
    seeds = [(name, (test_data / name).read_bytes()) for name in FIXTURES]
    seeds += [("workbook.xlsx", _workbook_seed()), ("run.bdf.csv", _bdf_seed())]
    return seeds


@pytest.fixture(scope="module")
def real_seeds(real_data):
    seeds = []
    for rel, keep in REAL_SEEDS:
        data = (real_data / rel).read_bytes()
        seeds.append((rel.rsplit("/", 1)[-1], data[:keep] if keep else data))
    return seeds


def test_seeds_are_valid(fixture_seeds):
    # Unmutated seeds load (except the one that needs column_map); fuzzing starts from valid input.
    for name, data in fixture_seeds:
        if name == "cycler_unmapped_names.csv":
            continue
        df = battlab.load(data, name=name)
        assert len(df) > 0, name


@FUZZ
@given(which=st.integers(min_value=0, max_value=10_000), edits=mutations())
def test_fuzz_fixture_seeds(fixture_seeds, which, edits):
    name, data = fixture_seeds[which % len(fixture_seeds)]
    _check(_mutate(data, edits), name)


@FUZZ
@given(which=st.integers(min_value=0, max_value=10_000), edits=mutations())
def test_fuzz_real_seeds(real_seeds, which, edits):
    name, data = real_seeds[which % len(real_seeds)]
    _check(_mutate(data, edits), name)


@pytest.mark.parametrize("data, name", [
    (b"", "empty.csv"), (b"\n\n\n", "blank.csv"), (b"\xff" * 64, "ff.mpr"), (b"PK\x03\x04", "x.xlsx"),
    (b"EC-Lab ASCII FILE\r\n", "x.mpt"), (b"BIO-LOGIC MODULAR FILE", "x.mpr"),
    (b"Test Time / s,Voltage / V,Current / A\n", "x.csv"), (b'"' * 10_000, "quotes.csv"),
    (b"Time (s),Voltage (V),Current (A)\n" + b",".join([b"1"] * 20_000) + b"\n", "wide.csv"),
    (b"Time (s),Voltage (V),Current (A)\n" + b" " * 200_000 + b"(\n", "spaces.csv"),
])
def test_degenerate_inputs(data, name):
    _check(data, name)
