"""Known answers for levelling, roughness, PSD, grains, scars and step heights."""

import numpy as np
import pytest

from battlab.afm import height_map
from battlab.afm.topography import (
    feature_mask,
    height_histogram,
    level,
    level_lines,
    level_plane,
    level_polynomial,
    line_roughness,
    psd,
    remove_scars,
    roughness,
    segment_grains,
    step_height,
)
from battlab.datasets.afm import make_particle_surface, make_rough_surface
from battlab.errors import BattlabError


@pytest.fixture(scope="module")
def rough():
    return make_rough_surface()


def test_sa_sq_within_1pct_after_plane_removal(rough):
    raw = rough.data["height"]
    assert roughness(raw)["Sq"] > 5 * rough.truth["Sq_nm"]  # the tilt dominates before levelling
    r = roughness(level_plane(raw))
    # Tolerance 1 %: Sq is exact by construction, Sa is the Gaussian √(2/π)·Sq.
    assert r["Sq"] == pytest.approx(rough.truth["Sq_nm"], rel=0.01)
    assert r["Sa"] == pytest.approx(rough.truth["Sa_nm"], rel=0.01)
    # Gaussian heights: skewness ~0, kurtosis ~3; Sz = Sp + Sv.
    assert abs(r["Ssk"]) < 0.1 and r["Sku"] == pytest.approx(3.0, abs=0.2)
    assert r["Sz"] == pytest.approx(r["Sp"] + r["Sv"])
    assert r["Sdr"] > 0 and r["units"] == "nm" and r["levelling"][-1]["method"] == "plane"


def test_sdr_of_a_tilted_plane_is_exact():
    # A plane with slope s has developed area ratio sqrt(1 + s²) − 1.
    x = (np.arange(64) + 0.5) * 10.0  # nm
    z = 0.5 * x[None, :] * np.ones((64, 1))
    r = roughness(height_map(z, pixel_size_um=0.01))
    assert r["Sdr"] == pytest.approx((np.sqrt(1 + 0.25) - 1) * 100, rel=1e-9)


def test_psd_integrates_to_sq_squared(rough):
    lv = level_plane(rough.data["height"])
    p = psd(lv)
    df = np.diff(p["frequency_per_um"]).mean()
    total = np.sum(p["psd"] * 2 * np.pi * p["frequency_per_um"] * df)
    # Parseval over the radial band (corners beyond Nyquist are left out): within 2 %.
    assert np.sqrt(total) == pytest.approx(roughness(lv)["Sq"], rel=0.02)


def test_polynomial_and_line_levelling_remove_known_backgrounds():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64] / 63.0
    rough = rng.normal(0, 1, (64, 64))
    bow = 30 * (x - 0.5) ** 2 + 20 * x * y
    lv = level_polynomial(height_map(bow + rough, pixel_size_um=0.1), order=2)
    assert roughness(lv)["Sq"] == pytest.approx(rough.std(), rel=0.02)
    offsets = rng.normal(0, 15, (64, 1))  # line-to-line jumps of the slow scan axis
    ll = level_lines(height_map(rough + offsets, pixel_size_um=0.1), method="median")
    assert roughness(ll)["Sq"] == pytest.approx(rough.std(), rel=0.05)
    lp = level_lines(height_map(rough + offsets + 5 * x, pixel_size_um=0.1), method="poly", order=1)
    assert roughness(lp)["Sq"] == pytest.approx(rough.std(), rel=0.05)


def test_feature_mask_keeps_particles_out_of_the_plane_fit():
    demo = make_particle_surface()
    raw = demo.data["height"]
    plain = level_plane(raw)
    masked = level(raw, method="plane", mask_features=True, threshold_sigma=3.0)
    bg = ~feature_mask(raw, threshold_sigma=3.0)
    # Background flat to the noise (0.3 nm) only when particles are masked out of the fit.
    assert np.median(np.abs(masked.values[bg])) < 0.5
    assert np.median(np.abs(plain.values[bg])) > np.median(np.abs(masked.values[bg]))


def test_scar_removal_and_grain_statistics():
    demo = make_particle_surface()
    raw = demo.data["height"]
    cleaned = remove_scars(raw)
    row = demo.truth["scar_row"]
    assert cleaned.attrs["levelling"][-1]["pixels"] >= 60
    assert np.abs(cleaned.values[row] - raw.values[row - 1]).max() < 15  # the 25 nm scar is gone
    flat = level(cleaned, method="plane", mask_features=True, threshold_sigma=3.0)
    grains = segment_grains(flat, threshold=10.0, min_area_px=10)
    assert len(grains) == demo.truth["n_particles"]
    # Cap cut at 10 nm: radius √(R² − 10²); area within 10 % (pixelation of ~4 px radius).
    expected_area = np.pi * (demo.truth["radius_nm"] ** 2 - 10.0 ** 2) / 1e6
    assert grains["area_um2"].median() == pytest.approx(expected_area, rel=0.1)
    assert grains["max_height"].median() == pytest.approx(demo.truth["radius_nm"], abs=2.0)
    # Volume above the background: a hemisphere 2/3πR³, within 5 %.
    assert grains["volume"].median() == pytest.approx(demo.truth["volume_nm_um2"], rel=0.05)


def test_step_height_auto_and_masks():
    rng = np.random.default_rng(1)
    z = np.where(np.arange(80)[None, :] < 40, 0.0, 3.35) + rng.normal(0, 0.1, (60, 80))
    m = height_map(z, pixel_size_um=0.02)
    assert step_height(m)["step_height"] == pytest.approx(3.35, abs=0.02)
    upper = np.zeros(z.shape, bool)
    upper[:, 50:] = True
    lower = np.zeros(z.shape, bool)
    lower[:, :30] = True
    assert step_height(m, upper=upper, lower=lower)["step_height"] == pytest.approx(3.35, abs=0.02)
    with pytest.raises(BattlabError):
        step_height(m, upper=upper)


def test_line_roughness_of_a_sine_profile():
    # A sine of amplitude A has Ra = 2A/π and Rq = A/√2.
    x = np.arange(1000)
    z = np.tile(2.0 * np.sin(2 * np.pi * x / 100), (5, 1))
    r = line_roughness(height_map(z, pixel_size_um=0.01))
    # The mean-line fit takes a little of the sine with it: within 1 %.
    assert r["Ra"] == pytest.approx(4 / np.pi, rel=0.01)
    assert r["Rq"] == pytest.approx(2 / np.sqrt(2), rel=0.01)


def test_histogram_is_a_density(rough):
    h = height_histogram(level_plane(rough.data["height"]), bins=64)
    width = np.diff(h["height"]).mean()
    assert (h["density"] * width).sum() == pytest.approx(1.0)
    assert h["count"].sum() == 512 * 512


def test_bad_inputs_raise_battlab_errors(rough):
    m = rough.data["height"]
    with pytest.raises(BattlabError):
        level_polynomial(m, order=9)
    with pytest.raises(BattlabError):
        level(m, method="magic")
    with pytest.raises(BattlabError):
        roughness(np.zeros((4, 4)))
    with pytest.raises(BattlabError):
        level_plane(m, mask=np.ones((3, 3), bool))


def test_grain_summary_counts_and_sizes():
    demo = make_particle_surface(noise_nm=0.0)
    flat = level(remove_scars(demo.data["height"]), method="plane", mask_features=True, threshold_sigma=3.0)
    grains = segment_grains(flat, threshold=10.0, min_area_px=10)
    from battlab.afm.topography import grain_summary

    summary = grain_summary(grains, flat)
    assert summary["grains"] == demo.truth["n_particles"]
    assert summary["density_per_um2"] == pytest.approx(demo.truth["n_particles"] / 5.12 ** 2)
    # Cap cut at 10 nm: diameter 2√(R² − 10²) within 5 %.
    assert summary["median_diameter_nm"] == pytest.approx(2 * np.sqrt(80.0 ** 2 - 10.0 ** 2), rel=0.05)
