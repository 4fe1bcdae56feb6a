"""Reaction fronts: kymograph, sub-pixel fronts, kinetic models (seed-001 §8 known answers)."""

import numpy as np
import pytest

from battlab.datasets.tem import make_si_nanowire_movie
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.imaging.kymograph import kymograph, line_profile
from battlab.tem import fronts
from battlab.tem.movie import correct_drift, invert_polarity, pca_denoise, temporal_average

T = np.arange(1, 61, dtype=float)


@pytest.mark.parametrize("n", [0.5, 1.0])
def test_power_law_exponent_noiseless(n):
    x = 2.5 * T ** n
    fits = fronts.fit_front_models(T, x, models=("power_law", "linear", "parabolic"), n_bootstrap=20)
    # seed §8: n = 0.500 ± 0.01 and 1.000 ± 0.01
    assert fits.value("power_law", "n") == pytest.approx(n, abs=0.01)
    assert fits.summary["model"].iloc[0] == ("parabolic" if n == 0.5 else "linear") or \
        fits.summary["model"].iloc[0] == "power_law"


def test_power_law_noisy_ci_covers_truth():
    rng = np.random.default_rng(3)
    x = 2.0 * T ** 0.5 + rng.normal(0, 0.1, T.size)
    fits = fronts.fit_front_models(T, x, models=("power_law",), n_bootstrap=200, rng=1)
    row = fits.parameters.query("parameter == 'n'").iloc[0]
    assert row["ci_low"] < 0.5 < row["ci_high"] and row["ci_high"] - row["ci_low"] < 0.05


def test_parabolic_gives_d_eff():
    x = np.sqrt(2 * 7.5 * T)
    fits = fronts.fit_front_models(T, x, models=("parabolic", "linear"), n_bootstrap=0)
    assert fits.value("parabolic", "D") == pytest.approx(7.5, rel=1e-6)
    assert fits.summary["model"].iloc[0] == "parabolic" and fits.summary.attrs["D_eff"] == pytest.approx(7.5)


def test_deal_grove_recovers_a_and_b():
    a_true, b_true = 4.0, 20.0
    x = np.linspace(0.5, 60, 50)
    t = x ** 2 / b_true + x / (b_true / a_true)  # tau = 0
    fits = fronts.fit_front_models(t, x, models=("deal_grove",), n_bootstrap=0)
    assert fits.value("deal_grove", "A") == pytest.approx(a_true, rel=1e-3)
    assert fits.value("deal_grove", "B") == pytest.approx(b_true, rel=1e-3)
    np.testing.assert_allclose(fits.predict("deal_grove", t), x, rtol=1e-4)


def test_jmak_and_aic_ranking():
    t = np.linspace(0, 100, 60)
    x = 30 * (1 - np.exp(-(0.03 * t) ** 2.5))
    fits = fronts.fit_front_models(t, x, n_bootstrap=0)
    assert fits.summary["model"].iloc[0] == "jmak"
    assert fits.value("jmak", "n") == pytest.approx(2.5, abs=0.01)
    assert fits.summary["delta_aic"].iloc[1] > 10


def test_two_regime_breakpoint_within_one_frame():
    t = np.arange(1, 81, dtype=float)  # 1 s frames
    tb = 31.0
    x = np.where(t <= tb, 3 * t ** 1.0, 3 * tb * (t / tb) ** 0.5)
    res = fronts.fit_two_regime(t, x)
    # seed §8: breakpoint within one frame, exponents within 0.01
    assert abs(res["t_break_s"] - tb) <= 1.0
    assert res["n1"] == pytest.approx(1.0, abs=0.01) and res["n2"] == pytest.approx(0.5, abs=0.01)
    assert res["bic"] < res["bic_single"]


def test_shrinking_core_consistency():
    r0, k = 50.0, 0.004
    t = np.linspace(0, 200, 41)
    rc = r0 * (1 - k * t)  # reaction control: 1 - (1 - X)^(1/3) = k t
    x_conv = fronts.shrinking_core_conversion(rc, r0)
    np.testing.assert_allclose(1 - (1 - x_conv) ** (1 / 3), k * t, atol=1e-12)
    table = fronts.fit_shrinking_core(t, rc, r0=r0)
    assert table["mechanism"].iloc[0] == "reaction" and table["k_per_s"].iloc[0] == pytest.approx(k, rel=1e-9)
    # Ginstling–Brounshtein data come back as diffusion control
    from battlab.tem.fronts import _gb_inverse
    xd = _gb_inverse(0.001 * t)
    rc_d = r0 * (1 - xd) ** (1 / 3)
    gb = fronts.fit_shrinking_core(t, rc_d, r0=r0)
    assert gb["mechanism"].iloc[0].startswith("diffusion") and gb["k_per_s"].iloc[0] == pytest.approx(0.001, rel=1e-3)
    fits = fronts.fit_front_models(t, r0 - rc_d, models=("shrinking_core_diffusion",), r0=r0, n_bootstrap=0)
    assert fits.value("shrinking_core_diffusion", "k") == pytest.approx(0.001, rel=1e-3)


def test_velocity_and_bad_input():
    v = fronts.front_velocity(T, 2 * T, window_points=5)
    np.testing.assert_allclose(v["velocity"], 2.0)
    with pytest.raises(MissingDataError):
        fronts.fit_front_models([1, 2, 3], [1, 2, 3])
    with pytest.raises(InvalidParameterError):
        fronts.fit_front_models(T, T, models=("cubic",))
    with pytest.raises(MissingDataError):
        fronts.fit_front_models(T, T, models=("shrinking_core_diffusion",))


def test_line_profile_bilinear():
    img = np.add.outer(np.zeros(20), np.arange(30.0))  # I = x
    s, prof = line_profile(img, (5, 2), (5, 12), step_px=0.5)
    np.testing.assert_allclose(prof, 2 + s)


@pytest.fixture(scope="module")
def wire():
    return make_si_nanowire_movie()


def test_nanowire_core_front_and_diffusivity(wire):
    movie, truth = wire.data, wire.truth
    ax = truth["axis_y_px"]
    # a line across the whole wire: the two core edges give a diameter free of drift across the line
    ky = kymograph(movie, (ax - 40, 40), (ax + 40, 40), width_px=5)
    assert ky.dims == ("time", "s") and "s_nm" in ky.coords
    for method in ("threshold", "gradient", "erf"):
        a = fronts.detect_front(ky, method=method, level=0.6)
        b = fronts.detect_front(ky, method=method, level=0.6, direction="backward")
        rc = (b["front_nm"] - a["front_nm"]).to_numpy() / 2
        err = np.abs(rc - truth["core_radius_nm"])
        # sub-pixel: median error below 0.15 px, 95 % of frames within 0.5 px (1 nm px)
        assert np.median(err) < 0.15 and np.quantile(err, 0.95) < 0.5, method
    erf = fronts.detect_front(ky, method="erf", level=0.6)
    assert np.nanmedian(erf["width_px"]) < 3
    depth = truth["r0_nm"] - rc
    fits = fronts.fit_front_models(a["time_s"], depth, models=("parabolic", "linear", "power_law"), n_bootstrap=50)
    assert fits.summary["model"].iloc[0] in ("parabolic", "power_law")
    assert fits.value("parabolic", "D") == pytest.approx(truth["D_nm2_s"], rel=0.05)
    assert fits.value("power_law", "n") == pytest.approx(0.5, abs=0.03)


def test_drift_correction_on_textured_movie():
    demo = make_si_nanowire_movie(D_nm2_s=0.0, n_frames=20)
    fixed, drift = correct_drift(demo.data, roi=(slice(0, 36), slice(None)))
    err = np.abs(drift[["dy_px", "dx_px"]].to_numpy() - demo.truth["drift_px"])
    assert err.max() < 0.6
    assert fixed.dims == ("time", "y", "x") and "drift-corrected" in fixed.attrs["notes"][-1]
    assert drift["dx_nm"].iloc[-1] == pytest.approx(drift["dx_px"].iloc[-1])
    # a kymograph whose line follows the drift on the raw frames matches one on the shifted movie
    ax = demo.truth["axis_y_px"]
    k_shifted = kymograph(fixed, (ax - 30, 64), (ax, 64), width_px=5)
    k_follow = kymograph(demo.data, (ax - 30, 64), (ax, 64), width_px=5, drift=drift)
    a = fronts.detect_front(k_shifted, level=0.6)["front_px"].to_numpy()
    b = fronts.detect_front(k_follow, level=0.6)["front_px"].to_numpy()
    np.testing.assert_allclose(a, b, atol=0.05)
    np.testing.assert_allclose(b, 30 - demo.truth["core_radius_nm"], atol=0.6)  # the drift estimate is within 0.6 px


def test_movie_helpers(wire):
    small = wire.data.isel(time=slice(0, 10))
    avg = temporal_average(small, window=3)
    assert avg.shape == small.shape
    inv = invert_polarity(small)
    assert float(inv.max()) == pytest.approx(float(small.max()), rel=1e-5) or float(inv.min()) == pytest.approx(float(small.min()), rel=1e-5)
    den, res, explained = pca_denoise(small, n_components=2)
    assert float(np.abs(res).mean()) < 0.05 and explained["explained_variance"].sum() == pytest.approx(1.0)
    with pytest.raises(InvalidParameterError):
        pca_denoise(small, n_components=0)
