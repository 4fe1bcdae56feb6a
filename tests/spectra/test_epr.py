"""EPR: g-factors, peak-to-peak widths, double-integral spin counts, the two-line
phase-shifted Lorentzian fit and the BES3T reader, on synthetic spectra of known answer
(tolerances stated per test)."""

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.spectra import make_epr_plating_series, make_epr_reference
from battlab.errors import CorruptFileError, InvalidParameterError, MissingDataError, UnsupportedFormatError
from battlab.spectra import analyse_spectra, load_spectrum, make_spectrum
from battlab.spectra.epr import (
    double_integral,
    epr_series,
    fit_epr_lines,
    g_factor,
    line_shape,
    peak_to_peak,
    read_bes3t,
    resonance_field_mT,
    spin_count,
)


@pytest.fixture(scope="module")
def plating():
    return make_epr_plating_series(n_spectra=8)


@pytest.fixture(scope="module")
def reference():
    return make_epr_reference()


def _line(g=2.0023, fwhm=0.5, area=1.0, freq=9.5, n=4001, sweep=30.0, phase=0.0):
    center = float(resonance_field_mT(g, freq))
    b = np.linspace(center - sweep / 2, center + sweep / 2, n)
    y = line_shape(b, area=area, center_mT=center, fwhm_mT=fwhm, phase_deg=phase)
    return make_spectrum(b, y, technique="epr", microwave_frequency_GHz=freq)


def test_g_factor_constants():
    # Free electron g = 2.00231930 at 9.5 GHz resonates at 338.99 mT (h, μB CODATA 2018).
    assert float(resonance_field_mT(2.00231930436, 9.5)) == pytest.approx(338.99, abs=0.01)
    assert float(g_factor(resonance_field_mT(2.0036, 9.8), 9.8)) == pytest.approx(2.0036, abs=1e-12)
    with pytest.raises(InvalidParameterError):
        g_factor(-1.0, 9.5)


def test_peak_to_peak_of_lorentzian():
    spec = _line(fwhm=0.6)
    pp = peak_to_peak(spec)
    # ΔB_pp = FWHM/√3 within one field step (0.0075 mT); g within 1e-4.
    assert pp["width_pp_mT"] == pytest.approx(0.6 / np.sqrt(3), abs=0.0075)
    assert pp["g"] == pytest.approx(2.0023, abs=1e-4)


def test_double_integral_spin_count_against_reference():
    # S/N 2000 for both; integrated over ±7.5 mT (≈ 30 half widths) around each line.
    reference = make_epr_reference(noise=0.0005)
    truth = reference.truth
    # A sample of other spins, g, width and acquisition (gain, Q, power, modulation, scans);
    # the reference was recorded at gain 20 and 1 for every other factor.
    acq = {"receiver_gain": 63.0, "q_factor": 1.3, "power_mW": 4.0, "modulation_mT": 0.05, "n_scans": 4}
    spins, g_s = 3.7e15, 2.0040
    area = (spins * 1e-12 * acq["receiver_gain"] * acq["q_factor"] * np.sqrt(acq["power_mW"]) * acq["modulation_mT"]
            * acq["n_scans"] * g_s)
    sample = _line(g=g_s, fwhm=0.5, area=area, freq=9.40)
    noisy = sample + np.random.default_rng(2).normal(0, 0.0005 * float(sample.max() - sample.min()), sample.size)
    noisy.attrs.update(sample.attrs)
    summary, _, _ = epr_series(noisy, fit=False, integration_half_width_mT=7.5, acquisition=acq,
                               reference=reference.data, reference_spins=truth["spins"],
                               reference_acquisition=truth["acquisition"])
    assert summary["spins"].iloc[0] == pytest.approx(spins, rel=0.02)  # double-integral spin count within 2 %
    di_s = double_integral(noisy, window=(summary["center_mT"].iloc[0] - 7.5, summary["center_mT"].iloc[0] + 7.5))
    assert di_s.value == pytest.approx(summary["double_integral"].iloc[0])
    with pytest.raises(InvalidParameterError):
        spin_count(di_s.value, 1.0, reference_spins=1e15, sample_acquisition={"gain": 2})


def test_double_integral_recovers_area_of_a_wide_sweep():
    spec = _line(fwhm=0.3, area=2.5, sweep=60.0, n=8001)
    # The tails beyond ±30 mT hold 0.6 % of a 0.3 mT Lorentzian: 2 % tolerance.
    assert double_integral(spec).value == pytest.approx(2.5, rel=0.02)
    with pytest.raises(InvalidParameterError):
        double_integral(spec, baseline_fraction=0.7)


def test_two_line_fit_recovers_lines(plating):
    truth = plating.truth
    i = 5
    fit = fit_epr_lines(plating.data.isel(time=i))
    t = fit.table.set_index("component")
    comp = truth["components"].iloc[i]
    for name in ("narrow", "broad"):
        line = truth["lines"][name]
        # Widths and areas within 5 %, g within 1e-4, phase within 3°.
        assert t.loc[name, "fwhm_mT"] == pytest.approx(line["fwhm_mT"], rel=0.05)
        assert t.loc[name, "area"] == pytest.approx(comp[f"{name}_area"], rel=0.05)
        assert t.loc[name, "g"] == pytest.approx(line["g"], abs=1e-4)
        assert t.loc[name, "phase_deg"] == pytest.approx(line["phase_deg"], abs=3.0)
    assert t.loc["narrow", "asymmetry"] == pytest.approx(1.0, abs=0.05)
    assert t.loc["broad", "asymmetry"] > 1.5  # the phase-shifted bulk line is asymmetric
    plain = fit_epr_lines(plating.data.isel(time=i), line_shape_model="lorentzian").table
    assert (plain["phase_deg"] == 0).all()


def test_series_spin_counts_track_plating(plating, reference):
    summary, comps, fits = epr_series(plating.data, reference=reference.data, reference_spins=reference.truth["spins"],
                                      acquisition=plating.truth["acquisition"],
                                      reference_acquisition=reference.truth["acquisition"])
    truth = plating.truth["components"]
    grown = truth["narrow_spins"] >= 3e14
    # Spins from fitted areas within 5 % (narrow where it is ≥ 3e14 spins, broad everywhere).
    np.testing.assert_allclose(summary.loc[grown, "narrow_spins"], truth.loc[grown, "narrow_spins"], rtol=0.05)
    np.testing.assert_allclose(summary["broad_spins"], truth["broad_spins"], rtol=0.05)
    assert summary["double_integral"].is_monotonic_increasing
    assert len(comps) == 2 * len(summary) and len(fits) == len(summary)
    with pytest.raises(MissingDataError):
        epr_series(plating.data, reference=reference.data)


def test_text_reader_gauss_and_frequency(tmp_path, reference):
    spec = reference.data
    p = tmp_path / "epr.csv"
    p.write_text("# Microwave frequency: 9.400000 GHz\nField [G],Intensity\n" + "\n".join(
        f"{b * 10:.4f},{y:.6g}" for b, y in zip(spec["field_mT"].to_numpy(), spec.to_numpy(), strict=True)))
    loaded = load_spectrum(p)
    assert loaded.attrs["technique"] == "epr"
    assert loaded.attrs["microwave_frequency_GHz"] == pytest.approx(9.4)
    np.testing.assert_allclose(loaded["field_mT"].to_numpy(), spec["field_mT"].to_numpy(), atol=1e-4)
    assert peak_to_peak(loaded)["g"] == pytest.approx(reference.truth["g"], abs=1e-4)


def _write_bes3t(folder, b_gauss, y, *, fmt="D", order=">", extra="", xpts=None):
    dsc = (f"#DESC 1.2 * DESCRIPTOR INFORMATION ***********************\n"
           f"DSRC EXP\nBSEQ {'BIG' if order == '>' else 'LIT'}\nIKKF REAL\nXTYP IDX\nYTYP NODATA\nZTYP NODATA\n"
           f"IRFMT {fmt}\nXPTS {xpts or b_gauss.size}\nXMIN {b_gauss[0]:.6f}\nXWID {b_gauss[-1] - b_gauss[0]:.6f}\n"
           f"XUNI 'G'\nTITL 'test sweep'\n#SPL 1.2 * STANDARD PARAMETER LAYER\nMWFQ 9.400000e+09\n"
           f"MWPW 0.002\nAVGS 4\n{extra}")
    (folder / "sweep.DSC").write_text(dsc)
    dtype = {"D": "f8", "F": "f4", "I": "i4"}[fmt]
    (folder / "sweep.DTA").write_bytes(np.asarray(y).astype(order + dtype).tobytes())
    return folder / "sweep.DSC"


def test_bes3t_reader(tmp_path, reference):
    spec = reference.data
    b_g = spec["field_mT"].to_numpy() * 10
    path = _write_bes3t(tmp_path, b_g, spec.to_numpy())
    loaded = load_spectrum(path)
    assert loaded.attrs["battlab"]["format"] == "bruker-bes3t"
    assert loaded.attrs["microwave_frequency_GHz"] == pytest.approx(9.4)
    assert loaded.attrs["power_mW"] == pytest.approx(2.0)
    np.testing.assert_allclose(loaded["field_mT"].to_numpy(), spec["field_mT"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(loaded.to_numpy(), spec.to_numpy())
    little = tmp_path / "le"
    little.mkdir()
    scaled = np.round(spec.to_numpy() / np.abs(spec.to_numpy()).max() * 1e6)
    np.testing.assert_allclose(read_bes3t(_write_bes3t(little, b_g, scaled, fmt="I", order="<")).to_numpy(), scaled)


def test_bes3t_two_dimensional_series(tmp_path, plating):
    spectra = plating.data.to_numpy()  # (time, field)
    b_g = plating.data["field_mT"].to_numpy() * 10
    ny = spectra.shape[0]
    extra = (f"YPTS {ny}\nYMIN 0.0\nYWID {600.0 * (ny - 1)}\nYUNI 's'\nDATE '01/06/26'\nTIME '09:00:00'\n")
    path = _write_bes3t(tmp_path, b_g, spectra.ravel(), extra=extra)
    path.write_text(path.read_text().replace("YTYP NODATA", "YTYP IDX"))
    series = load_spectrum(path)
    assert series.dims == ("time", "field_mT") and series.sizes["time"] == ny
    np.testing.assert_allclose(series["elapsed_s"], 600.0 * np.arange(ny))
    np.testing.assert_allclose(series.to_numpy(), spectra)
    assert str(series["time"].to_numpy()[0]).startswith("2026-01-06T09:00")
    summary, _, _ = epr_series(series, fit=False)
    assert summary["double_integral"].is_monotonic_increasing


def test_bes3t_bounds_checks(tmp_path):
    b = np.linspace(3300, 3400, 100)
    y = np.sin(b)
    path = _write_bes3t(tmp_path, b, y, xpts=101)  # DTA 100 values, descriptor says 101
    with pytest.raises(CorruptFileError):
        read_bes3t(path)
    two_d = tmp_path / "two"
    two_d.mkdir()
    p2 = _write_bes3t(two_d, b, y)
    p2.write_text(p2.read_text().replace("YTYP NODATA", "YTYP IDX\nYPTS 5"))
    with pytest.raises(CorruptFileError):
        read_bes3t(p2)  # 5 slices declared, one stored
    p2.write_text(p2.read_text().replace("YTYP IDX", "YTYP IGD"))
    with pytest.raises(UnsupportedFormatError):
        read_bes3t(p2)
    alone = tmp_path / "alone"
    alone.mkdir()
    p3 = _write_bes3t(alone, b, y)
    (alone / "sweep.DTA").unlink()
    with pytest.raises(MissingDataError):
        read_bes3t(p3)
    p4 = _write_bes3t(tmp_path / "two", b, y, xpts=10**12)
    with pytest.raises(CorruptFileError):
        read_bes3t(p4)


def test_real_gamry_dta_is_not_taken_for_bes3t(real_data):
    import battlab

    path = real_data / "gamry" / "impedancepy_exampleDataGamry.DTA"
    if not path.is_file():
        pytest.skip(f"{path.name} not in the real-data folder")
    fmt = battlab.io.registry.detect(path)
    assert fmt.name != "bruker-bes3t"


def test_workflow_epr_with_echem_and_reference(plating, reference):
    res = analyse_spectra(plating.data, echem=plating.truth["echem"],
                          technique_options={"reference": reference.data, "reference_spins": reference.truth["spins"],
                                             "acquisition": plating.truth["acquisition"],
                                             "reference_acquisition": reference.truth["acquisition"]})
    table = res.tables["epr"]
    assert {"narrow_spins", "broad_spins", "spins", "voltage_V", "soc"} <= set(table.columns)
    assert isinstance(res.tables["epr_components"], pd.DataFrame)
    assert res.options["line_shape"] == "dysonian"


def test_bes3t_fixture_pair():
    from pathlib import Path

    path = Path(__file__).resolve().parent / "data" / "epr_sweep.DSC"
    spec = load_spectrum(path)
    assert spec.attrs["technique"] == "epr" and spec.sizes["field_mT"] == 64
    assert float(spec["field_mT"].min()) == pytest.approx(333.0) and float(spec["field_mT"].max()) == pytest.approx(338.0)
    # The fixture's line: centre 335.5 mT, FWHM 0.6 mT → g = 71.4477 × 9.4 / 335.5 (within the 0.08 mT step).
    assert peak_to_peak(spec)["center_mT"] == pytest.approx(335.5, abs=0.08)
    with pytest.raises(MissingDataError):
        read_bes3t(path.read_bytes(), name="upload.DSC")  # bytes without the .DTA beside them
    assert read_bes3t(path.read_bytes(), name="upload.DSC",
                      data=path.with_suffix(".DTA").read_bytes()).sizes["field_mT"] == 64
