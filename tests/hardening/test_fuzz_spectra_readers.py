"""Every spectroscopy reader survives 1,000 damaged inputs with only battlab errors, fast.

Seeds: the real XAS files (``xas/``) and the hand-written fixtures in
``tests/spectra/data`` (JCAMP-DX with DIF/DUP compression, VAMAS, text spectra, SPC).
Mutations and limits as in ``_fuzz.py``; the verdict here should come within 1 s (printed)
and must within the harness's limit (a busy CI machine can stall a millisecond parse).
"""

import time

import pytest
import xarray  # noqa: F401  imported up front so the first case does not time the import

from battlab.errors import TooLargeError
from battlab.io.registry import Source, formats
from tests.hardening import _fuzz

FORMATS = _fuzz.spectrum_formats()
#: Spectrum files are small: the verdict should come within this (reported, as the 2 s
#: target of the other readers); a failure is a verdict past _fuzz.TIME_LIMIT_S.
SPECTRUM_TARGET_S = 1.0


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS, ids=[f.name for f in FORMATS])
def test_spectrum_reader_survives_mutations(fmt):
    n = _fuzz.cases_per_reader()
    for name, data in _fuzz.seeds_for(fmt):  # warm-up: lazy imports (dates, xarray) are not the reader's time
        try:
            fmt.read(Source(data=data, name=name))
        except Exception:  # noqa: BLE001  refusals (SPC) are fine here; the fuzz run checks them
            pass
    stats = _fuzz.fuzz_reader(fmt, n)
    if stats.max_s >= SPECTRUM_TARGET_S:
        print(f"{fmt.name}: slowest verdict above the {SPECTRUM_TARGET_S:g} s target")
    _fuzz.report_and_check(stats, n, fmt.name)


def test_every_spectrum_reader_is_fuzzed():
    names = {f.name for f in FORMATS}
    assert {"spectrum-text", "jcamp-dx", "xas-columns", "vamas", "galactic-spc"} <= names
    for fmt in FORMATS:
        assert _fuzz.seeds_for(fmt), fmt.name


def _read(name, data, fname):
    fmt = {f.name: f for f in formats()}[name]
    start = time.perf_counter()
    try:
        verdict = fmt.read(Source(data=data, name=fname))
    except Exception as exc:  # noqa: BLE001  the verdict is checked by the caller
        verdict = exc
    return verdict, time.perf_counter() - start


def test_jcamp_huge_declared_npoints_and_dup_are_bounded():
    data = (_fuzz.SPECTRA_DATA / "dif_dup.jdx").read_bytes()
    verdict, elapsed = _read("jcamp-dx", data.replace(b"##NPOINTS= 13", b"##NPOINTS= 999999999999"), "n.jdx")
    assert type(verdict).__name__ == "CorruptFileError" and elapsed < _fuzz.TIME_LIMIT_S
    verdict, elapsed = _read("jcamp-dx", data.replace(b"11@J", b"11@s9999999999"), "dup.jdx")
    assert isinstance(verdict, TooLargeError) and elapsed < _fuzz.TIME_LIMIT_S


def test_vamas_huge_comment_count_is_a_truncation_error():
    data = (_fuzz.SPECTRA_DATA / "xps_regions.vms").read_bytes()
    verdict, elapsed = _read("vamas", data.replace(b"operator\nLi-ion cathode surface\n1\n",
                                                   b"operator\nLi-ion cathode surface\n99999\n"), "c.vms")
    assert type(verdict).__name__ in ("CorruptFileError", "TooLargeError") and elapsed < _fuzz.TIME_LIMIT_S
