"""Bruker .brml reader on archives built here from the format's published XML layout.

No .brml from an instrument is available (see the real-data MANIFEST), so these
archives follow the documented layout: ``Experiment0/DataContainer.xml`` lists the
``Experiment0/RawData<n>.xml`` files; each RawData holds DataRoutes whose
``RawDataView`` list describes the comma-separated columns of its ``Datum`` rows.
"""

import io
import json
import subprocess
import sys
import time
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import battlab
from battlab.diffraction import load_series
from battlab.diffraction.io import BRML_MAX_UNCOMPRESSED, read_brml
from battlab.errors import BattlabError, CorruptFileError, MissingDataError, TooLargeError, UnsupportedFormatError
from battlab.io.registry import Source
from tests.hardening._fuzz import TIME_LIMIT_S

FUZZ = settings(max_examples=100, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
TUBE = ('<FixedInformation><Instrument><PrimaryTracks><TrackInfoData><MountedOptics>'
        '<InfoData xsi:type="TubeMountInfoData" LogicName="Tube"><Tube><TubeMaterial>Cu</TubeMaterial>'
        '<WaveLengthAlpha1 Value="1.5406" Unit="Angstrom" /><WaveLengthAlpha2 Value="1.54439" Unit="Angstrom" />'
        '<WaveLengthRatio Value="0.5" /></Tube></InfoData></MountedOptics></TrackInfoData></PrimaryTracks>'
        '</Instrument></FixedInformation>')
# Si (111) and (220) with Cu Kα1
PEAKS_DEG = (28.44, 47.30)


def _counts(tt):
    y = 40 + sum(a * np.exp(-0.5 * ((tt - c) / 0.05) ** 2) for a, c in zip((5000, 2500), PEAKS_DEG))
    return np.round(y).astype(int)


def _raw_xml(tt, counts, *, start_time=None, tt_column=True, reference=0.0, tube=True, extra_column=False):
    """One RawData document: a locked-coupled 2θ/θ step scan."""
    views = ['<RawDataView xsi:type="FixedRawDataView" Start="0" Length="1" LogicName="MeasuredTime" />',
             '<RawDataView xsi:type="FixedRawDataView" Start="1" Length="1" LogicName="AbsorptionFactor" />']
    rows = []
    if tt_column:
        views += ['<RawDataView xsi:type="FixedRawDataView" Start="2" Length="1" LogicName="TwoTheta" />',
                  '<RawDataView xsi:type="FixedRawDataView" Start="3" Length="1" LogicName="Theta" />',
                  '<RawDataView xsi:type="RecordedRawDataView" Start="4" Length="1">'
                  '<Recording LogicName="ScintillationCounter" /></RawDataView>']
        for i, (x, c) in enumerate(zip(tt, counts)):
            rows.append(f"0.5,1,{x:.4f},{x / 2:.4f},{c}" + (",7" if extra_column and i == 3 else ""))
    else:
        views += ['<RawDataView xsi:type="RecordedRawDataView" Start="2" Length="1">'
                  '<Recording LogicName="Counter1D" /></RawDataView>']
        rows = [f"0.5,1,{c}" for c in counts]
    axis = (f'<ScanAxisInfo AxisId="TwoTheta" AxisName="TwoTheta"><Reference>{reference}</Reference>'
            f'<Start>{tt[0] - reference:.4f}</Start><Stop>{tt[-1] - reference:.4f}</Stop>'
            f'<Increment>{tt[1] - tt[0]:.4f}</Increment><Unit Base="Degree" Prefix="One" /></ScanAxisInfo>'
            f'<ScanAxisInfo AxisId="Theta" AxisName="Theta"><Reference>0</Reference><Start>{tt[0] / 2:.4f}</Start>'
            f'<Stop>{tt[-1] / 2:.4f}</Stop><Increment>{(tt[1] - tt[0]) / 2:.4f}</Increment>'
            '<Unit Base="Degree" Prefix="One" /></ScanAxisInfo>')
    stamp = f"<TimeStampStarted>{start_time}</TimeStampStarted>" if start_time else ""
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<RawData {XSI} xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
            f'{stamp}<DataRoutes><DataRoute RouteFlag="Final"><ScanInformation ScanName="Coupled TwoTheta/Theta">'
            f'<ScanMode>StepScan</ScanMode><TimePerStep>0.5</TimePerStep><MeasurementPoints>{len(rows)}'
            f'</MeasurementPoints><ScanAxes>{axis}</ScanAxes></ScanInformation><DataViews>{"".join(views)}'
            f'</DataViews>{"".join(f"<Datum>{r}</Datum>" for r in rows)}</DataRoute></DataRoutes>'
            f'{TUBE if tube else ""}</RawData>').encode()


def _brml(raws: dict, *, container=True, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        zf.writestr("[Content_Types].xml", b'<?xml version="1.0"?><Types />')
        if container:
            refs = "".join(f"<string>{name}</string>" for name in raws)
            zf.writestr("Experiment0/DataContainer.xml",
                        f'<?xml version="1.0"?><DataContainer {XSI}><RawDataReferenceList>{refs}'
                        "</RawDataReferenceList></DataContainer>".encode())
        for name, data in raws.items():
            zf.writestr(name, data)
    return buf.getvalue()


TT1 = np.round(np.arange(20.0, 50.0 + 1e-9, 0.02), 4)
SINGLE = _brml({"Experiment0/RawData0.xml": _raw_xml(TT1, _counts(TT1), start_time="2026-01-05T10:00:00+01:00")})


def test_single_coupled_scan_angles_counts_wavelength_exact():
    pat = battlab.load(SINGLE, name="si.brml")
    assert pat.attrs["battlab"]["format"] == "brml" and pat.dims == ("two_theta_deg",)
    np.testing.assert_array_equal(pat["two_theta_deg"].to_numpy(), TT1)  # exact: the file's 2θ column
    np.testing.assert_array_equal(pat.to_numpy(), _counts(TT1))  # exact integer counts
    for c in PEAKS_DEG:  # known peak positions, to the 0.02° step
        near = (TT1 > c - 1) & (TT1 < c + 1)
        assert abs(TT1[near][np.argmax(pat.to_numpy()[near])] - c) <= 0.01 + 1e-9
    assert pat.attrs["wavelength_A"] == 1.5406 and pat.attrs["wavelength2_A"] == 1.54439
    assert pat.attrs["ka2_ratio"] == 0.5 and pat.attrs["anode"] == "Cu"
    assert pat.attrs["battlab"]["start_time_utc"] == "2026-01-05T09:00:00+00:00"
    assert any("not yet checked" in n for n in pat.attrs["battlab"]["notes"])


def test_two_rawdata_ranges_become_a_series_on_the_union_grid():
    lo = np.round(np.arange(20.0, 35.0 + 1e-9, 0.05), 4)
    hi = np.round(np.arange(40.0, 55.0 + 1e-9, 0.05), 4)
    # the second range has no 2θ column: its angles come from the TwoTheta scan axis (Start + Reference)
    data = _brml({"Experiment0/RawData0.xml": _raw_xml(lo, _counts(lo), start_time="2026-01-05T09:00:00Z"),
                  "Experiment0/RawData1.xml": _raw_xml(hi, _counts(hi), start_time="2026-01-05T09:20:00Z",
                                                       tt_column=False, reference=1.5, tube=False)})
    series = read_brml(Source(data=data, name="two.brml"))
    assert series.dims == ("time", "two_theta_deg") and series.sizes["time"] == 2
    np.testing.assert_allclose(series["elapsed_s"], [0.0, 1200.0])
    for i, (tt, y) in enumerate(((lo, _counts(lo)), (hi, _counts(hi)))):
        one = series.isel(time=i).dropna("two_theta_deg")
        np.testing.assert_allclose(one["two_theta_deg"], tt, atol=1e-9)
        np.testing.assert_array_equal(one.to_numpy(), y)
    assert series.attrs["wavelength_A"] == 1.5406  # from the first raw file's tube
    # load_series on the file path returns the file's own series
    assert battlab.load(data, name="two.brml").sizes["time"] == 2


def test_series_without_start_times_is_kept_in_file_order_with_a_note():
    lo, hi = TT1[:500], TT1[600:]
    data = _brml({"Experiment0/RawData1.xml": _raw_xml(hi, _counts(hi)),
                  "Experiment0/RawData0.xml": _raw_xml(lo, _counts(lo))}, container=False)
    series = read_brml(Source(data=data, name="x.brml"))
    first = series.isel(time=0).dropna("two_theta_deg")
    np.testing.assert_array_equal(first["two_theta_deg"], lo)  # RawData0 first without a DataContainer
    assert any("no start times" in n for n in series.attrs["battlab"]["notes"])


def test_the_originally_measured_route_wins_over_a_processed_copy():
    measured = _raw_xml(TT1, _counts(TT1)).replace(b'<DataRoute RouteFlag="Final">',
                                                    b'<DataRoute Description="Originally measured data.">')
    # a second, processed route in the same RawData, listed first: without the filter it would make a series
    route = measured[measured.index(b"<DataRoute "):measured.index(b"</DataRoute>") + len(b"</DataRoute>")]
    processed = route.replace(b"Originally measured data.", b"Smoothed").replace(b",1,", b",2,")
    data = _brml({"Experiment0/RawData0.xml": measured.replace(b"<DataRoutes>", b"<DataRoutes>" + processed)})
    pat = read_brml(Source(data=data, name="x.brml"))
    assert pat.dims == ("two_theta_deg",)
    np.testing.assert_array_equal(pat.to_numpy(), _counts(TT1))


def test_load_series_on_a_brml_path(tmp_path):
    path = tmp_path / "si.brml"
    path.write_bytes(SINGLE)
    series = load_series(path)
    assert series.sizes["time"] == 1 and series.attrs["wavelength_A"] == 1.5406


@pytest.mark.parametrize("data, error, match", [
    (b"PK\x03\x04" + b"\x00" * 100, UnsupportedFormatError, "not a ZIP"),
    (_brml({"Experiment0/Other.xml": b"<a/>"}), UnsupportedFormatError, "without Experiment"),
    (_brml({"Experiment0/RawData0.xml": _raw_xml(TT1, _counts(TT1))[:-40]}), CorruptFileError, "well-formed"),
    (_brml({"Experiment0/RawData0.xml": _raw_xml(TT1, _counts(TT1), extra_column=True)}), CorruptFileError,
     "columns"),
    (_brml({"Experiment0/RawData0.xml": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><RawData>&a;'
            b"</RawData>"}), UnsupportedFormatError, "entities"),
    (_brml({"Experiment0/RawData0.xml": _raw_xml(TT1, _counts(TT1)).replace(b"<Datum>", b"<Datum>x", 1)}),
     CorruptFileError, "comma-separated"),
    (_brml({"Experiment0/RawData0.xml": _raw_xml(TT1, _counts(TT1)).replace(b"Counter", b"Detector")
            .replace(b'LogicName="TwoTheta"', b'LogicName="Tth"')}), MissingDataError, "counter"),
    (_brml({"Experiment0/RawData0.xml": _raw_xml(TT1, _counts(TT1)), "../evil.xml": b"<a/>"}), CorruptFileError,
     "path-like"),
])
def test_bad_archives_raise_battlab_errors(data, error, match):
    with pytest.raises(error, match=match):
        read_brml(Source(data=data, name="bad.brml"))


def _declare_size(data: bytes, size: int) -> bytes:
    """Rewrite every central-directory entry's uncompressed size (what zipfile trusts)."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at >= 0:
        out[at + 24:at + 28] = size.to_bytes(4, "little")
        at = out.find(b"PK\x01\x02", at + 4)
    return bytes(out)


def test_zip_bomb_declared_size_refused_fast_and_lying_member_refused():
    bomb = _declare_size(SINGLE, 0xF0000000)  # ~4 GB declared per member
    start = time.perf_counter()
    with pytest.raises(TooLargeError, match="decompression bomb"):
        battlab.load(bomb, name="bomb.brml")
    assert time.perf_counter() - start < TIME_LIMIT_S
    assert 0xF0000000 > BRML_MAX_UNCOMPRESSED
    with pytest.raises(CorruptFileError):  # declares fewer bytes than it inflates to
        read_brml(Source(data=_declare_size(SINGLE, 64), name="liar.brml"))


SEEDS = {"deflated": SINGLE,
         "stored": _brml({"Experiment0/RawData0.xml": _raw_xml(TT1[:200], _counts(TT1[:200]))},
                         compression=zipfile.ZIP_STORED)}


@FUZZ
@given(seed=st.sampled_from(sorted(SEEDS)), cut=st.floats(0, 1), pos=st.floats(0, 1),
       junk=st.binary(min_size=1, max_size=8))
def test_mutated_brml_raises_only_battlab_errors(seed, cut, pos, junk):
    data = bytearray(SEEDS[seed])
    at = int(pos * (len(data) - 1))
    data[at:at + len(junk)] = junk
    data = bytes(data[: max(1, int(cut * len(data)))])
    for call in (lambda: battlab.load(data, name="x.brml"), lambda: read_brml(Source(data=data, name="x.brml"))):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                call()
            except BattlabError:
                pass
        assert time.perf_counter() - start < TIME_LIMIT_S


RAW_SEED = _raw_xml(TT1[:120], _counts(TT1[:120]), start_time="2026-01-05T09:00:00Z")


@FUZZ
@given(pos=st.floats(0, 1), junk=st.binary(min_size=1, max_size=6), cut=st.floats(0.5, 1))
def test_mutated_rawdata_xml_inside_a_valid_zip_raises_only_battlab_errors(pos, junk, cut):
    # the ZIP is intact, so the mutations reach the XML parser and the column logic
    xml = bytearray(RAW_SEED)
    at = int(pos * (len(xml) - 1))
    xml[at:at + len(junk)] = junk
    data = _brml({"Experiment0/RawData0.xml": bytes(xml[: int(cut * len(xml))])})
    start = time.perf_counter()
    try:
        read_brml(Source(data=data, name="x.brml"))
    except BattlabError:
        pass
    assert time.perf_counter() - start < TIME_LIMIT_S


@pytest.mark.slow
def test_cli_info_and_xrd_on_a_brml(tmp_path):
    path = tmp_path / "si.brml"
    path.write_bytes(SINGLE)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True,
                              timeout=300, check=False)

    info = run("info", str(path))
    assert info.returncode == 0, info.stderr
    assert "brml" in info.stdout and "1.540600 A" in info.stdout
    res = run("xrd", str(path), "--window", "Si111=27.5,29.5", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    tracked = pd.read_csv(tmp_path / "res" / "tracked_peaks.csv")
    # Kα1/Kα2 doublet fit of a pure-Kα1 synthetic peak: within one 0.02° step of 28.44°
    assert abs(float(tracked["two_theta_deg"].iloc[0]) - PEAKS_DEG[0]) < 0.02
    assert json.loads((tmp_path / "res" / "provenance.json").read_text())["command"].startswith("battlab xrd")


@pytest.mark.slow
def test_xrd_app_accepts_a_brml_upload():
    import datetime

    from battlab.apps import XRDApp

    app = XRDApp()
    assert ".brml" in app.upload.accept
    app.upload.value = ({"name": "si.brml", "type": "", "size": len(SINGLE), "content": memoryview(SINGLE),
                         "last_modified": datetime.datetime.now()},)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.series.sizes["time"] == 1
    assert app.wavelength.value == pytest.approx(1.5406)
    np.testing.assert_array_equal(app.series.isel(time=0).to_numpy(), _counts(TT1))
