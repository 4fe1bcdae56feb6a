"""Nucleation, growth, morphometry, expansion definitions and critical size (seed-001 §8)."""

import numpy as np
import pytest

from battlab.datasets.tem import make_fracture_population, make_li_nucleation_movie
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.imaging.particles import detect_particles, feret_diameters, link_particles, region_table, segment
from battlab.tem import morphometry as mo
from battlab.tem import nucleation as nu


def _disc(size, r, cy, cx):
    y, x = np.indices((size, size))
    return (np.hypot(y - cy, x - cx) <= r).astype(float)


def test_disc_area_otsu_and_polarity():
    rng = np.random.default_rng(0)
    disc = _disc(128, 25, 60.3, 70.7)
    noisy = 0.2 + 0.6 * disc + 0.06 * rng.standard_normal(disc.shape)  # 10 % of the contrast... and more
    labels, _ = segment(noisy, min_area_px=20)
    table = region_table(labels, pixel_size=2.0)
    # seed §8: Otsu + connected components recover the area within 2 %
    assert len(table) == 1 and table["area_px"].iloc[0] == pytest.approx(np.pi * 25 ** 2, rel=0.02)
    assert table["area_nm2"].iloc[0] == pytest.approx(4 * table["area_px"].iloc[0])
    dark, _ = segment(1.0 - noisy, invert=True, min_area_px=20)
    assert region_table(dark)["area_px"].iloc[0] == table["area_px"].iloc[0]  # polarity toggle: identical area


def test_feret_of_a_rectangle():
    y, x = np.mgrid[0:10, 0:30]
    fmax, fmin, angle = feret_diameters(np.column_stack([y.ravel(), x.ravel()]))
    assert fmin == pytest.approx(10.0) and fmax == pytest.approx(np.hypot(10, 30))


def test_volume_ratio_known_answers():
    # seed §8
    assert mo.volume_ratio(1.52, 2.05, shape="sphere") == pytest.approx(2.453, abs=1e-3)
    assert mo.volume_ratio(125, 362, shape="cylinder") == pytest.approx(8.387, abs=1e-3)
    assert mo.volume_ratio(1.0, 1.324, shape="cylinder") == pytest.approx(1.753, abs=1e-3)
    assert mo.volume_ratio(10, 20, shape="cylinder", length0=5, length=6) == pytest.approx(4.8)
    assert mo.expansion_pct(1, 2, shape="projected") == pytest.approx(300.0)
    with pytest.raises(InvalidParameterError):
        mo.volume_ratio(1, 2, shape="cube")
    with pytest.raises(InvalidParameterError):
        mo.volume_ratio(1, 2, shape="cylinder", length0=3)


@pytest.fixture(scope="module")
def instantaneous():
    demo = make_li_nucleation_movie(mode="instantaneous")
    tracks = link_particles(detect_particles(demo.data, invert=True, min_area_px=3), max_displacement_px=4)
    return demo, tracks


def test_instantaneous_nucleation_counts_and_fit(instantaneous):
    demo, tracks = instantaneous
    counts = nu.count_vs_time(tracks)
    # nuclei under ~2 px radius are invisible: from 5 s on, every frame's count is within
    # one nucleus of the generated one
    late = counts["time_s"].to_numpy() >= 5
    assert np.max(np.abs(counts["count"].to_numpy() - demo.truth["count"])[late]) <= 1
    assert tracks["particle_id"].nunique() == demo.truth["n_inf"]  # linking keeps one id per nucleus
    fit = nu.fit_nucleation(counts["time_s"], counts["count"])
    assert fit["model"].iloc[0] == "instantaneous"
    best = fit.iloc[0]
    assert best["N_inf"] == pytest.approx(demo.truth["n_inf"], rel=0.05)
    assert best["A_per_s"] == pytest.approx(demo.truth["rate_per_s"], rel=0.2)


def test_growth_exponent_diffusion_limited(instantaneous):
    demo, tracks = instantaneous
    cap = 2 * 0.9 * demo.truth["max_radius_px"]  # nuclei stop growing before they touch
    g = nu.fit_growth_exponent(tracks, max_size=cap)
    assert g["n"] == pytest.approx(0.5, abs=0.08)
    assert g["closest_model"] == "growth, diffusion-limited"
    dist = nu.size_distribution(tracks)
    assert (dist["mean"].diff().dropna() >= -0.5).all()  # sizes grow


def test_progressive_nucleation_prefers_linear_law():
    demo = make_li_nucleation_movie(mode="progressive", growth_n=1.0, growth_k_nm=1.0, rng=12)
    tracks = link_particles(detect_particles(demo.data, invert=True, min_area_px=3), max_displacement_px=4)
    counts = nu.count_vs_time(tracks)
    fit = nu.fit_nucleation(counts["time_s"], counts["count"])
    assert fit["model"].iloc[0] == "progressive"
    assert fit.set_index("model").loc["progressive", "rate_per_s"] == pytest.approx(demo.truth["rate_per_s"], rel=0.15)


def test_scharifker_hills_curves_and_classification():
    x = np.linspace(0.05, 3, 200)
    for model in ("instantaneous", "progressive"):
        y = nu.scharifker_hills(x, model=model)
        assert y[np.argmin(np.abs(x - 1))] == pytest.approx(1.0, abs=0.01)  # (I/Im)² = 1 at t = tm
        current = 2e-6 * np.sqrt(y)
        out = nu.classify_transient(x * 4.0, current)
        assert out["closer"] == model and out["t_m_s"] == pytest.approx(4.0, rel=0.02)
    with pytest.raises(InvalidParameterError):
        nu.scharifker_hills([1.0], model="2d")


def test_critical_size_logistic_bootstrap():
    demo = make_fracture_population(n=500)
    res = mo.fit_critical_size(demo.data["diameter_nm"], demo.data["fractured"], n_bootstrap=200)
    # seed §8: d_c = 150 nm recovered within 10 % (± 15 nm) on 500 particles
    assert res["critical_diameter"] == pytest.approx(150.0, abs=15.0)
    assert res["ci_low"] < res["critical_diameter"] < res["ci_high"]
    with pytest.raises(MissingDataError):
        mo.fit_critical_size(np.arange(20.0), np.zeros(20))


def test_frame_morphometry_names_its_definition():
    import xarray as xr

    frames = np.array([0.2 + 0.6 * _disc(96, r, 48, 48) for r in (10, 12, 14)], dtype=np.float32)
    movie = xr.DataArray(frames, dims=("time", "y", "x"), coords={"time_s": ("time", [0.0, 1.0, 2.0])},
                         attrs={"pixel_size_nm": 1.5})
    table = mo.frame_morphometry(movie, shape="sphere")
    assert table["expansion_definition"].iloc[0] == "V/V0 = (d/d0)^3"
    assert table["expansion_pct"].iloc[-1] == pytest.approx(((14 / 10) ** 3 - 1) * 100, rel=0.05)
    assert table["equivalent_diameter_nm"].iloc[0] == pytest.approx(30.0, rel=0.03)
    # a disc grows isotropically: radial and axial strain agree, 14/10 − 1 = 0.4 within 0.05
    # (calipers of 10–14 px discs are off by up to a pixel)
    radial, axial = table["radial_strain"].iloc[-1], table["axial_strain"].iloc[-1]
    assert radial == pytest.approx(0.4, abs=0.05) and axial == pytest.approx(0.4, abs=0.05)
    assert radial == pytest.approx(axial, abs=0.03)
    widths = mo.wire_width_profile(np.ones((8, 20), bool), pixel_size_nm=2.0, stations=4)
    assert widths["width_nm"].tolist() == [16.0] * 4
