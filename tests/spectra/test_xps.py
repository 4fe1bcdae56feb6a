"""Known-answer tests for battlab.spectra.xps: Shirley/Tougaard backgrounds, SEI fits,
spin–orbit doublets and composition."""

import numpy as np
import pytest

from battlab.datasets.spectra import make_xps_sei, shirley_spectrum
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.peaks import fit_peaks, pseudo_voigt
from battlab.spectra.analysis import baseline
from battlab.spectra.io import make_spectrum
from battlab.spectra.xps import (
    SEI_COMPONENTS,
    composition,
    fit_xps,
    shirley_background,
    tougaard_background,
)


@pytest.fixture(scope="module")
def sei():
    return make_xps_sei()


def test_shirley_matches_a_known_step():
    be = np.arange(280.0, 296.0, 0.05)
    # Gaussian lines: nothing of the peaks reaches the ends, so the end levels are exact
    clean, truth = shirley_spectrum(be, [(20000, 285.0, 1.2, 0.0), (8000, 289.0, 1.2, 0.0)],
                                    low_level=1000.0, step_per_area=0.1)
    b = shirley_background(be, clean)
    step = 0.1 * 28000
    # noise-free: the self-consistent Shirley equals the generating background to 0.1 % of the step
    assert np.max(np.abs(b - truth)) < 1e-3 * step
    assert b[-1] - b[0] == pytest.approx(step, rel=1e-3)
    # input order does not matter (descending binding energy, as many files store it)
    np.testing.assert_allclose(shirley_background(be[::-1], clean[::-1]), b[::-1])


def test_shirley_on_noisy_demo_within_2_percent_of_step(sei):
    for region in ("C 1s", "F 1s"):
        s = sei.data[region]
        b = shirley_background(s["binding_energy_eV"].to_numpy(), s.to_numpy())
        t = sei.truth[region]
        # Poisson noise and the Lorentzian tails of the lines in the end levels: within 2 %
        # of the step everywhere
        assert np.max(np.abs(b - t["background"])) < 0.02 * t["step"], region
    via_api = baseline(sei.data["C 1s"], method="shirley")
    assert via_api.shape == sei.data["C 1s"].shape


def test_tougaard_background_is_monotonic_and_meets_the_ends():
    be = np.arange(675.0, 705.0, 0.1)
    peak = pseudo_voigt(be, 20000, 685.0, 1.5, 0.0)  # Gaussian: no tail at the low-BE end
    y = 500 + peak + 0.08 * np.cumsum(peak) * 0.1
    b = tougaard_background(be, y, end_points=3)
    assert b[0] == pytest.approx(y[:3].mean()) and b[-1] == pytest.approx(y[-3:].mean(), rel=1e-9)
    assert np.all(np.diff(b) >= -1e-9)
    assert np.all(b <= y + 1e-6 * y.max())
    fixed = tougaard_background(be, y, match_end=False)  # universal B = 2866 eV² as given
    assert np.all(np.isfinite(fixed)) and fixed[0] == pytest.approx(b[0])
    with pytest.raises(InvalidParameterError):
        tougaard_background(be, y, C=0)


def test_sei_component_fractions_within_2_points(sei):
    for region in ("C 1s", "F 1s"):
        fit = fit_xps(sei.data[region], region)
        got = fit.table.set_index("name")
        truth = sei.truth[region]["components"].set_index("name")
        for name, row in truth.iterrows():
            # fractions within 2 percentage points; centres within 0.05 eV
            assert got.loc[name, "fraction"] == pytest.approx(row["fraction"], abs=0.02), (region, name)
            assert got.loc[name, "center"] == pytest.approx(row["center"], abs=0.05), (region, name)
        assert set(got["element"]) == {region.split()[0]}
    # shared FWHM (the generator uses one width per region)
    shared = fit_xps(sei.data["C 1s"], "C 1s", shared_fwhm=True).table
    assert shared["fwhm"].nunique() == 1 and shared["fwhm"].iloc[0] == pytest.approx(1.2, abs=0.03)
    for name, row in sei.truth["C 1s"]["components"].set_index("name").iterrows():
        assert shared.set_index("name").loc[name, "fraction"] == pytest.approx(row["fraction"], abs=0.02)


def test_composition_with_sensitivity_factors(sei):
    fits = [fit_xps(sei.data[r], r) for r in ("C 1s", "F 1s")]
    comp = composition(fits, rsf={"C": 1.0, "F": 4.43})
    c_area = sei.truth["C 1s"]["components"]["area"].sum()
    f_area = sei.truth["F 1s"]["components"]["area"].sum()
    expected_f = (f_area / 4.43) / (c_area / 1.0 + f_area / 4.43)
    # element (atomic-like) fraction within 2 percentage points
    assert comp.loc[comp["element"] == "F", "fraction"].sum() == pytest.approx(expected_f, abs=0.02)
    assert comp["fraction"].sum() == pytest.approx(1.0)
    lif = comp.set_index("species").loc["LiF", "fraction_in_element"]
    assert lif == pytest.approx(0.65, abs=0.02)
    with pytest.raises(MissingDataError):
        composition(fits, rsf={"C": 1.0})  # no factor for F
    with pytest.raises(MissingDataError):
        composition([])


def test_spin_orbit_doublet_p2p():
    be = np.arange(128.0, 142.0, 0.05)
    split, ratio = 0.87, 0.5
    y = 200 + sum(a * (pseudo_voigt(be, 1, c, 1.1, 0.3) + ratio * pseudo_voigt(be, 1, c + split, 1.1, 0.3))
                  for a, c in ((3000, 134.0), (1500, 136.6)))
    y = y + np.random.default_rng(4).normal(0, 2, be.size)
    spec = make_spectrum(be, y, technique="xps")
    fit = fit_xps(spec, "P 2p", background="linear")
    t = fit.table.set_index("name")
    # 2p3/2 positions within 0.02 eV; total doublet areas within 2 %; fractions within 2 points
    assert t.loc["LixPOyFz", "center"] == pytest.approx(134.0, abs=0.02)
    assert t.loc["LiPF6/LixPFy", "center"] == pytest.approx(136.6, abs=0.02)
    assert t.loc["LixPOyFz", "area"] == pytest.approx(3000 * 1.5, rel=0.02)
    assert t.loc["LixPOyFz", "fraction"] == pytest.approx(2 / 3, abs=0.02)
    assert t.loc["LixPOyFz", "splitting"] == split
    # the generic doublet in battlab.peaks, alone: second line at centre + splitting
    f = fit_peaks(be, y, [134.1, 136.5], fwhm=1.0, doublet={"splitting": split, "ratio": ratio})
    assert f.peaks["center"].to_numpy() == pytest.approx([134.0, 136.6], abs=0.02)
    # singlets and doublets in one fit
    mixed = fit_peaks(be, y, [134.0, 136.6, 139.0], fwhm=1.0,
                      doublet=[{"splitting": split, "ratio": ratio}, {"splitting": split, "ratio": ratio}, None])
    assert mixed.peaks["area"].iloc[2] < 0.02 * mixed.peaks["area"].iloc[0]
    with pytest.raises(InvalidParameterError):
        fit_peaks(be, y, [134.0], doublet={"ratio": 0.5})          # neither splitting nor wavelengths
    with pytest.raises(InvalidParameterError):
        fit_peaks(be, y, [134.0, 136.6], doublet=[{"splitting": 0.87, "ratio": 0.5}])  # one entry for two peaks


def test_sei_defaults_and_bad_input(sei):
    for region in ("C 1s", "F 1s", "O 1s"):
        assert all({"name", "center", "center_tolerance", "fwhm", "element"} <= set(c) for c in SEI_COMPONENTS[region])
    c1s = {c["name"]: c["center"] for c in SEI_COMPONENTS["C 1s"]}
    assert c1s["C–C/C–H"] == 284.8 and SEI_COMPONENTS["F 1s"][0]["center"] == 685.0
    with pytest.raises(InvalidParameterError):
        fit_xps(sei.data["C 1s"], "Zz 9q")
    raman = make_spectrum(np.arange(100.0), np.ones(100), technique="raman")
    with pytest.raises(InvalidParameterError):
        fit_xps(raman, [50.0])
    with pytest.raises(InvalidParameterError):
        fit_xps(sei.data["C 1s"], "F 1s")   # components outside the measured range
    with pytest.raises(MissingDataError):
        fit_xps(sei.data["C 1s"], "C 1s", window=(300, 310))
    with pytest.raises(MissingDataError):
        shirley_background(np.arange(5.0), np.ones(5))  # too few points
    with pytest.raises(MissingDataError):
        shirley_background(np.arange(50.0), np.full(50, np.nan))
    # charge correction: a spectrum shifted by −0.6 eV fits back with be_shift_eV
    s = sei.data["F 1s"]
    shifted = s.assign_coords(binding_energy_eV=s["binding_energy_eV"] - 0.6)
    fit = fit_xps(shifted, "F 1s", be_shift_eV=0.6)
    assert fit.table.set_index("name").loc["LiF", "center"] == pytest.approx(685.0, abs=0.05)
