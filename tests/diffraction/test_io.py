"""Diffraction readers on real files and small hand-made inputs."""

import numpy as np
import pandas as pd
import pytest

import battlab
from battlab.diffraction import load_pattern, load_series
from battlab.errors import BattlabError, UnsupportedFormatError

SAME = ["yadg_210520step1_30min.xy", "yadg_210520step1_30min.csv", "yadg_210520step1_30min.xrdml"]


def test_three_formats_of_one_measurement_agree(real_data):
    pats = [battlab.load(real_data / "xrd" / f) for f in SAME]
    assert [p.attrs["battlab"]["format"] for p in pats] == ["xrd-text", "panalytical-csv", "xrdml"]
    for p in pats:
        assert p.dims == ("two_theta_deg",) and p.size == 4489
        np.testing.assert_allclose(p["two_theta_deg"], pats[2]["two_theta_deg"], atol=1e-8)
        np.testing.assert_array_equal(p.to_numpy(), pats[2].to_numpy())
    assert pats[2]["two_theta_deg"][0] == pytest.approx(5.00835563)
    assert pats[2].attrs["wavelength_A"] == pytest.approx(1.540598)
    assert pats[1].attrs["wavelength_A"] == pytest.approx(1.540598) and pats[1].attrs["anode"] == "Cu"
    assert pats[2].attrs["battlab"]["start_time_utc"] == "2021-05-20T13:55:51+00:00"  # +02:00 in the file
    assert "wavelength_A" not in pats[0].attrs  # plain .xy does not say


def test_xye_esd_and_xrdml_counts(real_data):
    lab6 = battlab.load(real_data / "xrd" / "xrayutilities_LaB6_d500_si_psd.xye")
    assert lab6.size == 17381 and "esd" in lab6.coords
    assert float(lab6["esd"][0]) == pytest.approx(548.589)
    assert float(lab6[0]) == pytest.approx(950.18403)
    algaas = battlab.load(real_data / "xrd" / "xrayutilities_simpack_xrd_AlGaAs.xrdml")
    assert algaas.size == 2999
    assert float(algaas["two_theta_deg"][0]) == pytest.approx(65.46)
    assert float(algaas["two_theta_deg"][-1]) == pytest.approx(66.6592)
    # GaAs (400) with Cu Kα1 is at 66.05°; this omega-2θ scan's maximum sits 0.16° lower
    # (sample miscut/offset in the upstream data), so only closeness is checked.
    assert float(algaas["two_theta_deg"][int(np.argmax(algaas.to_numpy()))]) == pytest.approx(66.05, abs=0.25)


def test_detector_image_and_bruker_are_refused_with_advice(real_data, tmp_path):
    with pytest.raises(UnsupportedFormatError, match="poni"):
        load_pattern(real_data / "xrd" / "xraylarch_Pilatus.tiff")
    brml = tmp_path / "scan.brml"
    brml.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(UnsupportedFormatError, match="DIFFRAC"):
        battlab.load(brml)
    raw = tmp_path / "scan.raw"
    raw.write_bytes(b"RAW1.01" + b"\x00" * 100)
    with pytest.raises(UnsupportedFormatError, match="Export"):
        battlab.load(raw)


def test_series_from_folder_with_timestamps_csv(tmp_path):
    x = np.round(np.arange(20, 30, 0.02), 4)
    times = pd.date_range("2026-01-05T09:00:00Z", periods=3, freq="10min")
    for i in range(3):
        y = 100 + 50 * np.exp(-0.5 * ((x - 25 - 0.1 * i) / 0.1) ** 2)
        np.savetxt(tmp_path / f"scan_{i:03d}.xy", np.column_stack([x, y]), fmt="%.5f")
    pd.DataFrame({"file": [f"scan_{i:03d}.xy" for i in range(3)],
                  "time": [t.isoformat() for t in times]}).to_csv(tmp_path / "timestamps.csv", index=False)
    s = load_series(tmp_path, timestamps=tmp_path / "timestamps.csv", anode="Cu")
    assert s.dims == ("time", "two_theta_deg") and s.shape == (3, x.size)
    np.testing.assert_allclose(s["elapsed_s"], [0, 600, 1200])
    assert s.attrs["wavelength_A"] == pytest.approx(1.540598)
    assert float(s["two_theta_deg"][int(np.argmax(s.isel(time=2).to_numpy()))]) == pytest.approx(25.2, abs=1e-6)
    with pytest.raises(BattlabError, match="timestamps"):
        load_series(tmp_path)  # text files carry no time


def test_xrd_sniffers_leave_cycler_csv_alone(test_data):
    df = battlab.load(test_data / "cycler_semicolon_comma_latin1.csv")
    assert isinstance(df, pd.DataFrame) and "voltage_V" in df


def test_generic_csv_with_two_theta_header(tmp_path):
    path = tmp_path / "pattern.csv"
    path.write_text("2theta,intensity\n" + "".join(f"{20 + 0.1 * i:.2f},{100 + i}\n" for i in range(50)))
    p = battlab.load(path)
    assert p.dims == ("two_theta_deg",) and p.size == 50 and float(p[-1]) == 149


@pytest.mark.parametrize("blob", [b"<?xml version='1.0'?><xrdMeasurements><xrdMeasurement>",
                                  b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><xrdMeasurements>&a;</xrdMeasurements>",
                                  b"1 2\n3 x\n", b"\xff\xfe\x00garbage"])
def test_bad_bytes_raise_battlab_errors(blob):
    with pytest.raises(BattlabError):
        battlab.load(blob, name="bad.xrdml" if blob.startswith(b"<") else "bad.xy")
