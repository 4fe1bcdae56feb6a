"""Mössbauer: folding, α-Fe velocity calibration, doublet/sextet fits and site fractions on
synthetic spectra of known hyperfine parameters (tolerances stated per test)."""

import numpy as np
import pytest

from battlab.datasets.spectra import (
    _mossbauer_counts,
    _triangle_velocity,
    make_alpha_fe_calibration,
    make_mossbauer_lfp_series,
)
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.spectra import analyse_spectra, load_spectrum, make_spectrum
from battlab.spectra.mossbauer import (
    ALPHA_FE_LINES_MM_S,
    calibrate_velocity,
    channels_to_spectrum,
    fit_mossbauer,
    fold_channels,
    mossbauer_series,
    normalize_transmission,
    read_channels,
    sextet_lines,
)


@pytest.fixture(scope="module")
def lfp():
    return make_mossbauer_lfp_series()


def test_sextet_line_positions_reproduce_alpha_fe():
    # The model's Zeeman scale is built from the α-Fe lines: 33 T must give them back exactly.
    np.testing.assert_allclose(sextet_lines(33.0), ALPHA_FE_LINES_MM_S, atol=1e-12)
    lines = sextet_lines(20.0, two_epsilon_mm_s=0.3, isomer_shift_mm_s=0.4)
    two_eps = ((lines[5] - lines[4]) - (lines[1] - lines[0])) / 2
    assert two_eps == pytest.approx(0.3, abs=1e-12)
    assert lines.mean() == pytest.approx(0.4 - 0.3 / 6, abs=1e-12)  # lines 1, 6 shift +ε, lines 2–5 −ε


def test_raw_alpha_fe_calibration_and_folding():
    demo = make_alpha_fe_calibration()
    cal = calibrate_velocity(demo.data)
    # Velocity scale within 0.5 %, zero within 0.01 mm/s, folding point within 0.05 channel.
    assert cal.slope_mm_s == pytest.approx(demo.truth["slope_mm_s"], rel=0.005)
    assert cal.offset_mm_s == pytest.approx(demo.truth["offset_mm_s"], abs=0.01)
    n = demo.data.size // 2
    assert min(abs(cal.folding_point - demo.truth["folding_point"]) % n,
               n - abs(cal.folding_point - demo.truth["folding_point"]) % n) < 0.05
    assert np.sqrt(np.mean(cal.residuals_mm_s**2)) < 0.005
    assert cal.velocity_max_mm_s == pytest.approx(demo.truth["velocity_max_mm_s"], rel=0.005)


def test_fractional_folding_point_found():
    v = _triangle_velocity(512, 300.27, 5.0)
    site = {"kind": "sextet", "isomer_shift_mm_s": 0.0, "quadrupole_mm_s": 0.0, "field_T": 33.0,
            "fwhm_mm_s": 0.3, "area_mm_s": 0.4}
    counts = _mossbauer_counts(v, [site], 1e5)
    folded, p = fold_channels(counts)
    assert (p - 300.27) % 256 == pytest.approx(0.0, abs=0.05)  # within 0.05 channel (mod N)
    assert folded.size == 256
    # The two halves agree after folding at the found point: the sum is twice each half.
    same, _ = fold_channels(counts, folding_point=p)
    np.testing.assert_allclose(same, folded)


def test_nominal_axis_recalibrated_on_alpha_fe():
    v_true = np.linspace(-7, 7, 700)
    site = {"kind": "sextet", "isomer_shift_mm_s": 0.0, "quadrupole_mm_s": 0.0, "field_T": 33.0,
            "fwhm_mm_s": 0.25, "area_mm_s": 0.35}
    counts = np.random.default_rng(0).poisson(_mossbauer_counts(v_true, [site], 2e5)).astype(float)
    nominal = (v_true + 0.05) / 1.02  # a drive 2 % off scale with a 0.05 mm/s zero error
    spec = make_spectrum(nominal, counts, technique="mossbauer", units="counts")
    cal = calibrate_velocity(spec)
    assert cal.slope_mm_s == pytest.approx(1.02, rel=0.005)  # 0.5 %
    assert cal.offset_mm_s == pytest.approx(-0.05, abs=0.01)


def test_lfp_series_fractions_and_hyperfine_parameters(lfp):
    sites_table, fractions, fits = mossbauer_series(lfp.data)
    truth = lfp.truth
    # Site fractions within 2 % (absolute) on every spectrum.
    np.testing.assert_allclose(fractions["fraction_Fe3+ FePO4"], truth["fractions"]["fraction_Fe3+ FePO4"], atol=0.02)
    np.testing.assert_allclose(fractions["fraction_Fe2+ LiFePO4"], truth["fractions"]["fraction_Fe2+ LiFePO4"],
                               atol=0.02)
    # δ and ΔE_Q within 0.01 mm/s wherever the site holds ≥ 20 % of the iron.
    for site in truth["sites"]:
        rows = sites_table[(sites_table["site"] == site["name"]) & (sites_table["fraction"] >= 0.2)]
        assert len(rows) >= 8
        np.testing.assert_allclose(rows["isomer_shift_mm_s"], site["isomer_shift_mm_s"], atol=0.01)
        np.testing.assert_allclose(rows["quadrupole_splitting_mm_s"], site["quadrupole_mm_s"], atol=0.01)
        np.testing.assert_allclose(rows["fwhm_mm_s"], site["fwhm_mm_s"], rtol=0.05)
    assert all(0.7 < f.chi2_reduced < 1.4 for f in fits)  # Poisson noise: χ²_red ≈ 1
    assert "equal recoil-free" in fractions.attrs["battlab"]["assumption"]


def test_sextet_and_doublet_with_free_line_ratio():
    v = np.linspace(-10, 10, 1024)
    truth = [{"name": "magnetic", "kind": "sextet", "isomer_shift_mm_s": 0.32, "quadrupole_mm_s": -0.20,
              "field_T": 20.5, "fwhm_mm_s": 0.35, "area_mm_s": 0.30, "line_ratio_2": 3.0},
             {"name": "para", "kind": "doublet", "isomer_shift_mm_s": 0.40, "quadrupole_mm_s": 0.80,
              "fwhm_mm_s": 0.40, "area_mm_s": 0.10}]
    counts = np.random.default_rng(5).poisson(_mossbauer_counts(v, truth, 2e6)).astype(float)
    spec = make_spectrum(v, counts, technique="mossbauer", units="counts")
    sites = [{"name": "magnetic", "kind": "sextet", "isomer_shift_mm_s": 0.2, "quadrupole_mm_s": 0.0,
              "field_T": 21.5, "intensities": "free"},
             {"name": "para", "kind": "doublet", "isomer_shift_mm_s": 0.5, "quadrupole_mm_s": 0.7}]
    fit = fit_mossbauer(spec, sites).table.set_index("site")
    # B_hf within 0.1 T, δ and 2ε / ΔE_Q within 0.01 mm/s, fractions within 2 %, line ratio within 0.1.
    assert fit.loc["magnetic", "field_T"] == pytest.approx(20.5, abs=0.1)
    assert fit.loc["magnetic", "isomer_shift_mm_s"] == pytest.approx(0.32, abs=0.01)
    assert fit.loc["magnetic", "two_epsilon_mm_s"] == pytest.approx(-0.20, abs=0.01)
    assert fit.loc["magnetic", "line_ratio_2"] == pytest.approx(3.0, abs=0.1)
    assert fit.loc["para", "isomer_shift_mm_s"] == pytest.approx(0.40, abs=0.01)
    assert fit.loc["para", "quadrupole_splitting_mm_s"] == pytest.approx(0.80, abs=0.01)
    assert fit.loc["magnetic", "fraction"] == pytest.approx(0.75, abs=0.02)


def test_shift_reference_and_fixed_parameters(lfp):
    spec = lfp.data.isel(time=6)
    sites = [dict(s, fixed=("fwhm_mm_s",)) for s in lfp.truth["sites"]]
    fit = fit_mossbauer(spec, sites, shift_reference_mm_s=-0.11).table.set_index("site")
    assert fit.loc["Fe2+ LiFePO4", "fwhm_mm_s"] == 0.30  # held
    assert fit.loc["Fe2+ LiFePO4", "isomer_shift_mm_s"] == pytest.approx(1.225 + 0.11, abs=0.01)


def test_transmission_normalisation(lfp):
    norm = normalize_transmission(lfp.data)
    v = norm["velocity_mm_s"].to_numpy()
    off = (v < -4.5) | (v > 4.5)
    # Off resonance the transmission is 1 within 0.2 % (Poisson noise of 2 × 10⁶ counts ≈ 0.07 %).
    assert abs(float(norm.isel(time=0).to_numpy()[off].mean()) - 1) < 0.002
    assert norm.attrs["units"] == "relative transmission"
    with pytest.raises(MissingDataError):
        normalize_transmission(lfp.data, window=(20.0, 30.0))


def test_read_channels_forms(tmp_path):
    demo = make_alpha_fe_calibration()
    counts = demo.data
    one = tmp_path / "one.txt"
    one.write_text("Mössbauer raw 1024 ch\n" + "\n".join(str(int(c)) for c in counts) + "\n")
    wide = tmp_path / "wide.dat"
    wide.write_text("\n".join(" ".join(str(int(c)) for c in counts[i:i + 8]) for i in range(0, counts.size, 8)))
    two = tmp_path / "two.csv"
    two.write_text("channel,counts\n" + "\n".join(f"{i},{int(c)}" for i, c in enumerate(counts)))
    for p in (one, wide, two):
        np.testing.assert_array_equal(read_channels(p), counts)
    odd = tmp_path / "odd.txt"
    odd.write_text("\n".join(["10"] * 17))
    with pytest.raises(MissingDataError):
        read_channels(odd)
    with pytest.raises(MissingDataError):
        channels_to_spectrum(counts)  # no velocity scale
    spec = channels_to_spectrum(counts, velocity_max_mm_s=6.2)
    assert spec.attrs["technique"] == "mossbauer" and spec.sizes["velocity_mm_s"] == 512


def test_velocity_csv_read_as_mossbauer(tmp_path, lfp):
    spec = lfp.data.isel(time=0)
    p = tmp_path / "lfp.csv"
    p.write_text("Velocity (mm/s),Counts\n" + "\n".join(
        f"{v:.5f},{c:.0f}" for v, c in zip(spec["velocity_mm_s"].to_numpy(), spec.to_numpy(), strict=True)))
    loaded = load_spectrum(p)
    assert loaded.attrs["technique"] == "mossbauer"
    np.testing.assert_allclose(loaded.to_numpy(), spec.to_numpy())


def test_bad_input_errors(lfp):
    with pytest.raises(InvalidParameterError):
        fit_mossbauer(lfp.data.isel(time=0), [{"kind": "octet"}])
    with pytest.raises(InvalidParameterError):
        fit_mossbauer(make_spectrum(np.arange(20.0), np.ones(20), technique="raman"))
    with pytest.raises(InvalidParameterError):
        fold_channels(np.ones(15))
    with pytest.raises(InvalidParameterError):
        fit_mossbauer(lfp.data.isel(time=0), [{"name": "a"}, {"name": "a"}])


def test_workflow_with_echem(lfp):
    res = analyse_spectra(lfp.data, echem=lfp.truth["echem"])
    table = res.tables["site_fractions"]
    assert {"voltage_V", "soc"} <= set(table.columns)
    assert table["fraction_Fe3+ FePO4"].is_monotonic_increasing
    assert "mossbauer_sites" in res.tables and any("recoil-free" in n for n in res.notes)
