"""Known-answer tests: Bragg, lattice fits, operando tracking, Scherrer/WH, reference sticks."""

import numpy as np
import pytest

from battlab.datasets.diffraction import (
    make_lto_series,
    make_operando_graphite,
    make_sized_pattern,
)
from battlab.diffraction import (
    PHASES,
    d_hkl_A,
    d_spacing_A,
    find_pattern_peaks,
    fit_lattice,
    fit_pattern,
    lattice_series,
    phase_fractions,
    reference_sticks,
    scherrer_size_nm,
    track_peaks,
    two_theta_deg,
    wavelength_A,
    williamson_hall,
)
from battlab.errors import InvalidParameterError, MissingDataError


def test_wavelengths_and_bragg_round_trip():
    assert wavelength_A(anode="Cu") == 1.540598
    assert wavelength_A(anode="mo") == pytest.approx(0.709319)
    assert wavelength_A(energy_keV=17.479) == pytest.approx(0.70932, abs=1e-4)  # Mo Kα1 energy
    assert wavelength_A(anode="Cu", line="Ka") == pytest.approx((1.540598 + 0.5 * 1.544426) / 1.5)
    d = np.array([3.354, 2.0, 1.2])
    for lam in (1.540598, 0.709319, 1.788996, wavelength_A(energy_keV=30)):
        np.testing.assert_allclose(d_spacing_A(two_theta_deg(d, lam), lam), d, rtol=1e-12)
    assert two_theta_deg(3.354, 1.540598) == pytest.approx(26.554, abs=1e-3)  # graphite (002)
    with pytest.raises(InvalidParameterError):
        wavelength_A(anode="Xx")


@pytest.mark.parametrize("system,cell,hkl", [
    ("cubic", {"a": 8.3636}, [(1, 1, 1), (3, 1, 1), (4, 0, 0), (4, 4, 0)]),
    ("hexagonal", {"a": 2.8156, "c": 14.0542}, [(0, 0, 3), (1, 0, 1), (1, 0, 4), (1, 1, 0), (0, 1, 8)]),
    ("tetragonal", {"a": 3.78, "c": 9.51}, [(1, 0, 1), (0, 0, 4), (2, 0, 0), (1, 0, 5), (2, 1, 1)]),
    ("orthorhombic", {"a": 10.334, "b": 6.008, "c": 4.693}, [(2, 0, 0), (1, 0, 1), (2, 1, 0), (0, 1, 1),
                                                           (3, 1, 1), (0, 2, 0)]),
])
def test_lattice_least_squares_recovers_cell(system, cell, hkl):
    rng = np.random.default_rng(3)
    d = d_hkl_A(hkl, system=system, **cell) * (1 + rng.normal(0, 2e-5, len(hkl)))
    fit = fit_lattice(hkl, d, system=system)
    for k, v in cell.items():
        assert fit.params_[k] == pytest.approx(v, abs=1e-3)
    np.testing.assert_allclose(fit.predict(hkl), d, rtol=1e-4)


def test_lattice_fit_needs_enough_independent_peaks():
    with pytest.raises(MissingDataError):
        fit_lattice([(0, 0, 2), (0, 0, 4)], [3.35, 1.675], system="hexagonal")


@pytest.fixture(scope="module")
def graphite():
    demo = make_operando_graphite(n_patterns=60)
    return demo, track_peaks(demo.data, demo.truth["windows"])


def test_operando_graphite_positions_within_0p01_deg(graphite):
    demo, tracked = graphite
    truth = demo.truth["peaks"]
    assert demo.data.dims == ("time", "two_theta_deg") and demo.data.sizes["time"] == 60
    for name in ("graphite", "LiC12", "LiC6"):
        sub = tracked[tracked["peak"] == name].reset_index(drop=True)
        strong = (truth[f"fraction_{name}"] > 0.2).to_numpy()
        assert strong.sum() >= 10
        err = np.abs(sub["two_theta_deg"].to_numpy() - truth[f"two_theta_{name}_deg"].to_numpy())[strong]
        assert np.all(err < 0.01), f"{name}: max error {np.nanmax(err):.4f}°"
    # Solid-solution region: the graphite peak shifts continuously 26.55° → 26.20°.
    g = tracked[tracked["peak"] == "graphite"]
    assert g["two_theta_deg"].max() == pytest.approx(26.55, abs=0.01)
    assert g["two_theta_deg"].min() == pytest.approx(26.20, abs=0.01)
    assert g["strain"].max() > 0.012  # d(002) expands by ~1.3 % before LiC12 appears


def test_two_phase_fractions_follow_truth(graphite):
    demo, tracked = graphite
    frac = phase_fractions(tracked, ["graphite", "LiC12", "LiC6"])
    truth = demo.truth["peaks"][["fraction_graphite", "fraction_LiC12", "fraction_LiC6"]].to_numpy()
    got = frac[["fraction_graphite", "fraction_LiC12", "fraction_LiC6"]].to_numpy()
    assert np.nanmax(np.abs(got - truth)) < 0.05  # 5 percentage points (absent-peak threshold, noise)


def test_demo_timestamps_align_with_cycling(graphite):
    demo, _ = graphite
    echem = demo.truth["echem"]
    t0 = np.datetime64(int(echem["unix_time_s"].iloc[0] * 1e9), "ns")
    assert abs((demo.data["time"].to_numpy()[0] - t0) / np.timedelta64(1, "s")) < 1
    span = demo.data["elapsed_s"].to_numpy()[-1]
    assert span == pytest.approx(echem["test_time_s"].iloc[-1] - echem["test_time_s"].iloc[0], rel=1e-6)


def test_lto_lattice_within_0p001_A_with_kalpha_doublet():
    demo = make_lto_series(n_patterns=12)
    tracked = track_peaks(demo.data, demo.truth["windows"])
    lat = lattice_series(tracked, demo.truth["hkl"], system="cubic")
    np.testing.assert_allclose(lat["a_A"], demo.truth["a_A"], atol=1e-3)
    assert lat["a_A"].iloc[0] - lat["a_A"].iloc[-1] == pytest.approx(0.0056, abs=5e-4)


@pytest.mark.parametrize("size_nm", [15.0, 40.0])
def test_scherrer_size_within_5_percent(size_nm):
    demo = make_sized_pattern(size_nm=size_nm, instrument_fwhm_deg=0.05)
    table, _ = fit_pattern(demo.data, demo.truth["windows"])
    sizes = scherrer_size_nm(table["two_theta_deg"], table["fwhm_deg"], wavelength_A=1.540598,
                             instrument_fwhm_deg=0.05)
    assert np.all(np.abs(sizes / size_nm - 1) < 0.05)


def test_williamson_hall_size_and_strain():
    demo = make_sized_pattern(size_nm=40.0, microstrain=1e-3, instrument_fwhm_deg=0.05)
    table, _ = fit_pattern(demo.data, demo.truth["windows"])
    wh = williamson_hall(table["two_theta_deg"], table["fwhm_deg"], wavelength_A=1.540598, instrument_fwhm_deg=0.05)
    assert wh["size_nm"] == pytest.approx(40.0, rel=0.05)
    assert wh["microstrain"] == pytest.approx(1e-3, rel=0.1)


def test_reference_sticks_match_known_positions():
    cu = 1.540598
    known = {"graphite": ("(002)", 26.54), "LiC12": ("(002)", 25.35), "LiC6": ("(001)", 23.99),
             "Si": ("(111)", 28.44), "Li4Ti5O12 (LTO)": ("(111)", 18.36), "LiCoO2 (LCO)": ("(003)", 18.93),
             "LiF": ("(111)", 38.70), "Li": ("(110)", 36.17)}
    for phase, (hkl, tt) in known.items():
        sticks = reference_sticks(phase, wavelength_A=cu)
        row = sticks[sticks["hkl"] == hkl]
        assert len(row) == 1, (phase, sticks["hkl"].tolist())
        assert float(row["two_theta_deg"].iloc[0]) == pytest.approx(tt, abs=0.02)
    for phase in PHASES:
        assert len(reference_sticks(phase)) >= 3
    si = reference_sticks("Si", wavelength_A=cu, two_theta_range=(20, 90))
    assert si["hkl"].tolist() == ["(111)", "(220)", "(311)", "(400)", "(331)", "(422)"]  # diamond extinctions


def test_peak_search_on_real_lab6(real_data):
    import battlab

    lab6 = battlab.load(real_data / "xrd" / "xrayutilities_LaB6_d500_si_psd.xye")
    lab6.attrs["wavelength_A"] = 1.540598
    found = find_pattern_peaks(lab6)
    top = found.nlargest(3, "prominence")["two_theta_deg"].to_numpy()
    # LaB6 (a = 4.1569 Å, SRM 660) strongest lines with Cu Kα1: (110) 30.38°, (210) 48.96°, (100) 21.36°.
    ref = two_theta_deg(d_hkl_A([(1, 1, 0), (2, 1, 0), (1, 0, 0)], system="cubic", a=4.1569), 1.540598)
    np.testing.assert_allclose(np.sort(top), np.sort(ref), atol=0.05)
