"""Spatial registration, resampling, overlays and region statistics on maps with known truth.

The synthetic sample is an analytic field of Gaussian "particles" in the physical plane
(µm). Each map samples it on its own grid: a coarse X-ray-like slice on the field's axes,
a fine AFM-like scan through a known rotation/offset, so the true transform is exact.
"""

import json
import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from battlab.correlate.space import (
    Affine,
    Registration,
    as_image,
    blend,
    checkerboard,
    field_of_view,
    fit_landmarks,
    fov_overlap,
    fov_polygon,
    pixel_affine,
    pixel_table,
    refine_mutual_information,
    region_table,
    register_similarity,
    register_translation,
    resample_to,
    resolution_table,
    to_common_grid,
)
from battlab.errors import InvalidParameterError, MissingDataError

TRANSLATION_TOL_PX = 0.1  # phase correlation, noisy images
SIMILARITY_TOL_PX = 0.5  # in reference (coarse) pixels, anywhere in the moving field
SIMILARITY_TOL_DEG = 0.5


class Particles:
    """Gaussian particles (radius 0.4–1.5 µm) scattered over a square of the plane."""

    def __init__(self, seed, *, n=1500, extent_um=60.0):
        rng = np.random.default_rng(seed)
        self.centre = rng.uniform(0.0, extent_um, (n, 2))
        self.radius = rng.uniform(0.4, 1.5, n)
        self.amp = rng.uniform(0.5, 1.5, n)

    def render(self, shape, pixel_size_um, transform=None):
        """Field at the pixel centres of a grid whose local µm map into the plane through ``transform``."""
        ny, nx = shape
        t = Affine.identity() if transform is None else transform
        full = t @ Affine([[pixel_size_um, 0, 0], [0, pixel_size_um, 0]])
        centre_px = full.inverse().apply(self.centre)
        reach_px = 4 * self.radius / (pixel_size_um * t.scale)
        out = np.zeros(shape)
        for k, ((cx, cy), reach) in enumerate(zip(centre_px, reach_px, strict=True)):
            c0, c1 = max(int(cx - reach), 0), min(int(cx + reach) + 2, nx)
            r0, r1 = max(int(cy - reach), 0), min(int(cy + reach) + 2, ny)
            if c0 >= c1 or r0 >= r1:
                continue
            jj, ii = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
            p = full.apply(np.stack([jj, ii], -1).astype(float))
            d2 = np.sum((p - self.centre[k]) ** 2, axis=-1)
            out[r0:r1, c0:c1] += self.amp[k] * np.exp(-d2 / (2 * self.radius[k] ** 2))
        return out

    def map(self, shape, pixel_size_um, transform=None, *, noise=0.0, seed=0, name="map", func=None):
        v = self.render(shape, pixel_size_um, transform)
        if func is not None:
            v = func(v)
        if noise:
            v = v + np.random.default_rng(seed).normal(0.0, noise, v.shape)
        return as_image(v, pixel_size_um=pixel_size_um, name=name)


@pytest.fixture(scope="module")
def field():
    return Particles(1)


@pytest.fixture(scope="module")
def xray_afm(field):
    """X-ray-like slice (192², 0.2 µm/px) and an AFM-like scan (128², 0.05 µm/px) inside it."""
    xray = field.map((192, 192), 0.2, noise=0.02, seed=1, name="xray")
    truth = Affine.similarity(rotation_deg=23.0, translation_um=(21.3, 17.7))
    afm = field.map((128, 128), 0.05, truth, noise=0.02, seed=2, name="afm")
    return xray, afm, truth


def _max_error_px(found, truth, moving, pixel_size_um):
    """Largest displacement between the two transforms over the moving map's outline, in pixels."""
    pts = fov_polygon(moving)
    return float(np.max(np.hypot(*(found.apply(pts) - truth.apply(pts)).T)) / pixel_size_um)


# ------------------------------------------------------------------------------ Affine


def test_affine_algebra_and_properties():
    t = Affine.similarity(scale=2.5, rotation_deg=30.0, translation_um=(4.0, -1.0))
    assert t.is_similarity
    assert t.rotation_deg == pytest.approx(30.0)
    assert t.scale == pytest.approx(2.5)
    assert t.translation_um == pytest.approx((4.0, -1.0))
    assert t.scale_xy == pytest.approx((2.5, 2.5))
    p = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, -2.0]])
    np.testing.assert_allclose(t.inverse().apply(t.apply(p)), p, atol=1e-12)
    # compose: apply the right-hand map first
    u = Affine.similarity(rotation_deg=-10.0, translation_um=(1.0, 1.0))
    np.testing.assert_allclose(u.compose(t).apply(p), u.apply(t.apply(p)), atol=1e-12)
    np.testing.assert_allclose((u @ t).matrix, u.compose(t).matrix)
    assert (u @ t).rotation_deg == pytest.approx(20.0)
    # 2×3 and 3×3 forms agree; the record round-trips
    assert Affine(t.matrix[:2]).allclose(t)
    assert Affine.from_dict(t.to_dict()).allclose(t)
    shear = Affine([[1.0, 0.3, 0.0], [0.0, 1.0, 0.0]])
    assert not shear.is_similarity
    assert shear.scale == pytest.approx(1.0)
    # a single point (shape (2,)) maps to a point
    np.testing.assert_allclose(t.apply([1.0, 0.0]), t.apply([[1.0, 0.0]])[0])


@pytest.mark.parametrize("bad", [np.zeros((2, 2)), [[1, 0, 0], [0, 1, 0], [1, 0, 1]], np.zeros((2, 3)),
                                 [[1, 0, np.nan], [0, 1, 0]], "abc"])
def test_affine_refuses_bad_matrices(bad):
    with pytest.raises(InvalidParameterError):
        Affine(bad)


def test_pixel_affine_follows_the_coordinates():
    da = xr.DataArray(np.zeros((4, 5)), dims=("y", "x"),
                      coords={"y_um": ("y", 10.0 + 0.5 * np.arange(4)), "x_um": ("x", -3.0 + 0.25 * np.arange(5))})
    pa = pixel_affine(da)
    np.testing.assert_allclose(pa.apply([[0, 0], [4, 3]]), [[-3.0, 10.0], [-2.0, 11.5]])
    plain = as_image(np.ones((3, 3)), pixel_size_um=2.0, name="plain")
    assert plain.attrs["source_name"] == "plain" and plain.attrs["pixel_size_um"] == 2.0
    np.testing.assert_allclose(pixel_affine(np.ones((3, 3)), pixel_size_um=2.0).matrix, pixel_affine(plain).matrix)
    with pytest.raises(MissingDataError, match="pixel_size_um"):
        as_image(np.ones((3, 3)))
    with pytest.raises(InvalidParameterError):
        as_image(np.ones((2, 3, 4)), pixel_size_um=1.0)
    with pytest.raises(InvalidParameterError, match="disagrees"):
        as_image(plain, pixel_size_um=1.0)
    uneven = da.assign_coords(x_um=("x", [0.0, 1.0, 2.0, 4.0, 5.0]))
    with pytest.raises(InvalidParameterError, match="evenly spaced"):
        pixel_affine(uneven)


# ----------------------------------------------------------------------- translation


@pytest.mark.parametrize("shift_um", [(3.37, -2.14), (-11.62, 7.81)])
def test_translation_by_phase_correlation_on_noisy_maps(field, shift_um):
    px = 0.5
    ref = field.map((128, 128), px, noise=0.05, seed=3, name="ref")
    truth = Affine.similarity(translation_um=shift_um)
    mov = field.map((128, 128), px, truth, noise=0.05, seed=4, name="moving")
    reg = register_translation(ref, mov)
    assert isinstance(reg, Registration) and reg.method == "phase correlation"
    err_px = np.abs(np.subtract(reg.transform.translation_um, shift_um)) / px
    assert err_px.max() < TRANSLATION_TOL_PX, err_px
    # moving content sits at reference pixel (r - dy, c - dx)
    np.testing.assert_allclose(reg.details["shift_px"], [-shift_um[1] / px, -shift_um[0] / px],
                               atol=TRANSLATION_TOL_PX)
    assert reg.confidence > 0.9
    assert reg.transform.rotation_deg == pytest.approx(0.0, abs=1e-12)


def test_translation_beyond_half_the_frame_is_unwrapped(field):
    # 0.6 of the width: the circular correlation alone reports -0.4 of it.
    px = 0.5
    wide = Particles(5, n=4000, extent_um=110.0)  # textured over both fields
    ref = wide.map((96, 128), px, noise=0.02, seed=5)
    shift_um = (0.6 * 128 * px + 0.3, 4.1)
    mov = wide.map((96, 128), px, Affine.similarity(translation_um=shift_um), noise=0.02, seed=6)
    reg = register_translation(ref, mov)
    assert reg.details["wrapped"]
    err_px = np.abs(np.subtract(reg.transform.translation_um, shift_um)) / px
    assert err_px.max() < TRANSLATION_TOL_PX, err_px
    assert reg.confidence > 0.9
    assert reg.confidence > reg.details["runner_up_ncc"] + 0.3
    assert reg.details["overlap_fraction"] == pytest.approx((128 - 77) * (96 - 8) / (128 * 96))


def test_translation_of_a_smaller_field_with_offset_coordinates(field):
    px = 0.5
    ref = field.map((128, 128), px, noise=0.02, seed=7)
    sub = field.map((48, 64), px, Affine.similarity(translation_um=(30.2, 12.7)), noise=0.02, seed=8)
    # the small map carries its own stage coordinates (origin 100 µm, 200 µm)
    sub = sub.assign_coords(x_um=sub["x_um"] + 100.0, y_um=sub["y_um"] + 200.0)
    reg = register_translation(ref, sub)
    assert np.allclose(reg.transform.translation_um, (30.2 - 100.0, 12.7 - 200.0), atol=TRANSLATION_TOL_PX * px)


def test_translation_confidence_is_low_for_unrelated_maps(field):
    ref = field.map((64, 64), 0.5, seed=9)
    other = Particles(99).map((64, 64), 0.5, seed=10)
    assert register_translation(ref, other).confidence < 0.5


def test_frames_of_a_battlab_movie_register_like_estimate_drift():
    # Movie frames (time, y, x, channel) select to maps with the movie's own coords; the
    # shift agrees with the movie generator's drift truth.
    from battlab.datasets.optical import make_electrode_movie

    demo = make_electrode_movie(n_frames=4, shape=(64, 80), seed=3)
    reg = register_translation(demo.data.isel(time=0), demo.data.isel(time=3))
    truth = demo.truth
    np.testing.assert_allclose(reg.details["shift_px"], [truth["dy_px"][3], truth["dx_px"][3]],
                               atol=TRANSLATION_TOL_PX)
    # frame content moved by +d: its pixel maps back to the reference at -d
    np.testing.assert_allclose(reg.transform.translation_um,
                               [-truth["dx_px"][3] * 0.5, -truth["dy_px"][3] * 0.5], atol=TRANSLATION_TOL_PX * 0.5)


def test_translation_refuses_mismatched_inputs(field):
    a = field.map((64, 64), 0.5)
    with pytest.raises(InvalidParameterError, match="equal pixel sizes"):
        register_translation(a, field.map((64, 64), 0.25))
    with pytest.raises(InvalidParameterError, match="plain array"):
        register_translation(a, np.zeros((64, 64)))
    # plain arrays with their pixel size are accepted
    plain = register_translation(a.to_numpy(), a.to_numpy()[3:, 5:], pixel_size_um=0.5)
    np.testing.assert_allclose(plain.transform.translation_um, (2.5, 1.5), atol=1e-6)
    with pytest.raises(InvalidParameterError, match="8×8"):
        register_translation(a, field.map((4, 4), 0.5))
    with pytest.raises(MissingDataError):
        register_translation(a, as_image(np.full((64, 64), np.nan), pixel_size_um=0.5))


# ------------------------------------------------------------------------ similarity


def test_afm_map_inside_xray_slice_recovers_rotation_and_offset(xray_afm):
    xray, afm, truth = xray_afm
    reg = register_similarity(xray, afm)
    assert abs(reg.transform.rotation_deg - truth.rotation_deg) < SIMILARITY_TOL_DEG
    assert _max_error_px(reg.transform, truth, afm, 0.2) < SIMILARITY_TOL_PX
    assert reg.transform.scale == pytest.approx(1.0)  # pixel sizes carry the 4× scale
    assert reg.confidence > 0.95
    assert reg.details["working_pixel_size_um"] == pytest.approx(0.2)


@pytest.mark.parametrize("angle_deg", [-12.0, 137.0])
def test_similarity_with_scale_error_and_cross_modal_contrast(field, angle_deg):
    # The AFM pixel size is off by 4 % and its contrast is a non-linear function of the
    # X-ray's; gradient features and fit_scale recover the transform.
    xray = field.map((160, 160), 0.25, noise=0.02, seed=11, name="xray")
    truth = Affine.similarity(scale=1.04, rotation_deg=angle_deg, translation_um=(24.0, 26.0))
    afm = field.map((96, 96), 0.1, truth, seed=12, name="afm", func=lambda v: np.sqrt(v + 0.1))
    reg = register_similarity(xray, afm, fit_scale=True, feature="gradient")
    assert abs(reg.transform.rotation_deg - angle_deg) < SIMILARITY_TOL_DEG
    assert reg.transform.scale == pytest.approx(1.04, abs=0.01)
    assert _max_error_px(reg.transform, truth, afm, 0.25) < SIMILARITY_TOL_PX


def test_similarity_between_comparable_fields_with_a_finer_reference():
    # optical frame (coarser, 0.4 µm/px) over an SEM-like field (0.3 µm/px) of similar size:
    # the working grid is the optical one and the reference is anti-aliased onto it
    sample = Particles(3)
    sem = sample.map((128, 128), 0.3, noise=0.02, seed=1, name="sem")
    truth = Affine.similarity(rotation_deg=-15.0, translation_um=(6.0, 2.0))
    optical = sample.map((80, 80), 0.4, truth, noise=0.02, seed=2, name="optical")
    reg = register_similarity(sem, optical)
    assert reg.details["working_pixel_size_um"] == pytest.approx(0.4)
    assert abs(reg.transform.rotation_deg + 15.0) < SIMILARITY_TOL_DEG
    assert _max_error_px(reg.transform, truth, optical, 0.3) < SIMILARITY_TOL_PX
    record = json.loads(json.dumps(reg.to_dict(), allow_nan=False))
    assert Affine.from_dict(record["transform"]).allclose(reg.transform)
    assert record["method"] == "rotation search + NCC" and record["rms_um"] is None


def test_similarity_refines_from_an_initial_guess_and_checks_inputs(xray_afm):
    xray, afm, truth = xray_afm
    guess = Affine.similarity(rotation_deg=25.0, translation_um=(21.6, 17.4))
    reg = register_similarity(xray, afm, initial=guess)
    assert abs(reg.transform.rotation_deg - truth.rotation_deg) < SIMILARITY_TOL_DEG
    assert _max_error_px(reg.transform, truth, afm, 0.2) < SIMILARITY_TOL_PX
    with pytest.raises(InvalidParameterError, match="swap"):
        register_similarity(afm, xray)
    with pytest.raises(InvalidParameterError, match="angle_step_deg"):
        register_similarity(xray, afm, angle_step_deg=0)
    with pytest.raises(InvalidParameterError, match="feature"):
        register_similarity(xray, afm, feature="edges")


def test_real_microscopy_texture_registers(real_data):
    # A real 512² microscope frame (pims "stuck" TIFF, read with tifffile) as the fine map:
    # its 3× anti-aliased downsampling is the coarse reference, a rotated 120² crop the
    # moving map; the crop's placement is the known answer.
    import tifffile

    frame = tifffile.imread(real_data / "tiff-stack" / "pims_stuck.tif", key=0).astype(float)
    fine = as_image(frame, pixel_size_um=0.1, name="stuck")
    coarse = resample_to(fine, as_image(np.zeros((170, 170)), pixel_size_um=0.3, name="coarse"))
    truth = Affine.similarity(rotation_deg=17.0, translation_um=(18.3, 22.1))
    crop = resample_to(fine, as_image(np.zeros((120, 120)), pixel_size_um=0.1, name="crop"), truth.inverse(),
                       order=3)
    reg = register_similarity(coarse, crop, angle_range_deg=(-60.0, 60.0))
    assert abs(reg.transform.rotation_deg - 17.0) < SIMILARITY_TOL_DEG
    assert _max_error_px(reg.transform, truth, crop, 0.3) < SIMILARITY_TOL_PX
    # equal pixel sizes: two overlapping windows of the frame, 37 px and -23 px apart
    a = as_image(frame[100:356, 100:356], pixel_size_um=0.1)
    b = as_image(frame[77:333, 137:393], pixel_size_um=0.1)
    tr = register_translation(a, b)
    np.testing.assert_allclose(tr.transform.translation_um, (3.7, -2.3), atol=TRANSLATION_TOL_PX * 0.1)


# ------------------------------------------------------------------------- landmarks


def test_landmark_fits_are_exact_on_noise_free_points():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 20, (6, 2))
    sim = Affine.similarity(scale=0.25, rotation_deg=-71.0, translation_um=(103.0, 47.0))
    reg = fit_landmarks(src, sim.apply(src), kind="similarity")
    assert reg.transform.allclose(sim, atol=1e-9)
    assert reg.rms_um < 1e-9
    assert list(reg.residuals.columns) == ["point", "x_moving_um", "y_moving_um", "x_reference_um",
                                           "y_reference_um", "x_fit_um", "y_fit_um", "dx_um", "dy_um",
                                           "residual_um"]
    aff = Affine([[1.2, 0.3, 5.0], [-0.1, 0.8, -2.0]])
    reg = fit_landmarks(src, aff.apply(src), kind="affine", names=list("abcdef"))
    assert reg.transform.allclose(aff, atol=1e-9)
    assert reg.residuals["point"].tolist() == list("abcdef")
    # the minimum number of points: exact and flagged as saying nothing about accuracy
    two = fit_landmarks(src[:2], sim.apply(src[:2]))
    assert two.transform.allclose(sim, atol=1e-9) and two.details["redundant_points"] == 0
    assert np.isnan(two.details["point_scatter_um"])
    assert json.loads(json.dumps(two.to_dict(), allow_nan=False))["details"]["point_scatter_um"] is None
    record = json.loads(json.dumps(reg.to_dict(), allow_nan=False))
    assert len(record["residuals"]) == 6 and record["residuals"][0]["point"] == "a"


def test_landmark_rms_matches_the_click_noise():
    rng = np.random.default_rng(1)
    sigma_um = 0.05
    src = rng.uniform(0, 30, (400, 2))
    truth = Affine.similarity(scale=1.7, rotation_deg=12.0, translation_um=(-4.0, 9.0))
    dst = truth.apply(src) + rng.normal(0, sigma_um, src.shape)
    for kind in ("similarity", "affine"):
        reg = fit_landmarks(src, dst, kind=kind)
        # |residual| of 2-D Gaussian noise has RMS σ√2
        assert reg.rms_um == pytest.approx(sigma_um * math.sqrt(2), rel=0.1)
        assert reg.details["point_scatter_um"] == pytest.approx(sigma_um, rel=0.1)
        assert _max_error_px(reg.transform, truth, as_image(np.zeros((30, 30)), pixel_size_um=1.0), 1.0) < 0.03
        assert reg.residuals["residual_um"].max() == pytest.approx(reg.details["max_residual_um"])


@settings(max_examples=40, deadline=None)
@given(scale=st.floats(0.01, 100.0), angle=st.floats(-179.0, 179.0), tx=st.floats(-1e3, 1e3),
       ty=st.floats(-1e3, 1e3), seed=st.integers(0, 2 ** 16))
def test_landmark_similarity_inverts_any_similarity(scale, angle, tx, ty, seed):
    src = np.random.default_rng(seed).uniform(-50, 50, (5, 2))
    truth = Affine.similarity(scale=scale, rotation_deg=angle, translation_um=(tx, ty))
    reg = fit_landmarks(src, truth.apply(src))
    assert reg.transform.scale == pytest.approx(scale, rel=1e-9)
    assert reg.transform.rotation_deg == pytest.approx(angle, abs=1e-7)
    np.testing.assert_allclose(reg.transform.apply(src), truth.apply(src), atol=1e-9 * max(1.0, scale) * 1e3)
    back = fit_landmarks(truth.apply(src), src)
    assert back.transform.allclose(truth.inverse(), atol=1e-8 * max(1.0, 1 / scale) * 1e3)


def test_landmarks_refuse_degenerate_sets():
    with pytest.raises(InvalidParameterError, match="at least 2"):
        fit_landmarks([[0, 0]], [[1, 1]])
    with pytest.raises(InvalidParameterError, match="at least 3"):
        fit_landmarks([[0, 0], [1, 0]], [[0, 0], [1, 0]], kind="affine")
    with pytest.raises(InvalidParameterError, match="one spot"):
        fit_landmarks([[1, 1], [1, 1], [1, 1]], [[0, 0], [1, 0], [2, 2]])
    with pytest.raises(InvalidParameterError, match="one line"):
        fit_landmarks([[0, 0], [1, 1], [2, 2], [3, 3]], [[0, 0], [1, 0], [0, 1], [1, 1]], kind="affine")
    with pytest.raises(InvalidParameterError, match="same order"):
        fit_landmarks([[0, 0], [1, 0], [0, 1]], [[0, 0], [1, 0]])
    with pytest.raises(InvalidParameterError, match="non-finite"):
        fit_landmarks([[0, 0], [1, np.nan]], [[0, 0], [1, 0]])
    with pytest.raises(InvalidParameterError, match="mirrored"):
        # a reflection cannot be a (proper) similarity
        fit_landmarks([[0, 0], [1, 0], [0, 1]], [[0, 0], [1, 0], [0, -1]])
    with pytest.raises(InvalidParameterError, match="kind"):
        fit_landmarks([[0, 0], [1, 0]], [[0, 0], [1, 0]], kind="projective")


# ------------------------------------------------------------------ mutual information


def test_mutual_information_refines_an_inverted_contrast_pair(xray_afm, field):
    pytest.importorskip("SimpleITK", reason="SimpleITK is optional: pip install SimpleITK")
    xray, _, truth = xray_afm
    # AFM "modulus" falls where the X-ray signal rises: no linear relation, NCC < 0
    afm = field.map((128, 128), 0.05, truth, noise=0.01, seed=13, name="modulus",
                    func=lambda v: 1.0 / (1.0 + 2.0 * v))
    start = Affine.similarity(rotation_deg=1.2, translation_um=(0.3, -0.3)) @ truth
    reg = refine_mutual_information(xray, afm, start, kind="rigid")
    assert abs(reg.transform.rotation_deg - truth.rotation_deg) < SIMILARITY_TOL_DEG
    assert _max_error_px(reg.transform, truth, afm, 0.2) < SIMILARITY_TOL_PX
    assert reg.confidence < -0.5 and reg.details["mutual_information"] > 0


# ------------------------------------------------------------------------- resampling


def test_resampling_a_smooth_field_onto_a_rotated_coarser_grid():
    wavelength_um = 20.0

    def smooth(x, y):
        return np.sin(2 * np.pi * x / wavelength_um) * np.cos(2 * np.pi * y / wavelength_um)

    truth = Affine.similarity(rotation_deg=15.0, translation_um=(5.0, 3.0))  # fine map → reference frame
    fine_px, coarse_px = 0.1, 0.4
    ny = nx = 200
    jj, ii = np.meshgrid(np.arange(nx), np.arange(ny))
    p = truth.apply(np.stack([jj * fine_px, ii * fine_px], -1))
    fine = as_image(smooth(p[..., 0], p[..., 1]), pixel_size_um=fine_px, name="fine")
    fine.attrs["units"] = "nm"
    coarse = as_image(np.zeros((60, 60)), pixel_size_um=coarse_px, name="coarse")
    out = resample_to(fine, coarse, truth)
    assert out.attrs["source_name"] == "fine" and out.attrs["units"] == "nm"
    assert out.attrs["pixel_size_um"] == coarse_px and "resampled" in out.attrs["notes"][-1]
    xx, yy = np.meshgrid(coarse["x_um"], coarse["y_um"])
    expected = smooth(xx, yy)
    ok = np.isfinite(out.to_numpy())
    # away from the fine field's border (where the prefilter averages one-sided):
    # the Gaussian (σ = 0.15 µm) damps this 20 µm wave by 0.2 %, bilinear error < 0.1 %
    local = truth.inverse().apply(np.stack([xx, yy], -1))
    interior = np.all((local > 1.0) & (local < (nx - 1) * fine_px - 1.0), axis=-1)
    assert interior.sum() > 1000 and ok[interior].all()
    assert np.abs(out.to_numpy()[interior] - expected[interior]).max() < 5e-3
    # at the border the one-sided average stays within a few per cent of the amplitude
    assert np.abs(out.to_numpy()[ok] - expected[ok]).max() < 0.05
    # pixels outside the rotated fine field are NaN, and the valid area matches its footprint
    fov = fov_overlap(coarse, fine, truth)
    assert ok.sum() * coarse_px ** 2 == pytest.approx(fov["overlap_area_um2"], rel=0.05)


def test_downsampling_is_anti_aliased():
    fine_px = 0.1
    x = np.arange(256) * fine_px
    stripes = as_image(np.tile(np.cos(2 * np.pi * x / 0.3), (256, 1)), pixel_size_um=fine_px)
    coarse = as_image(np.zeros((60, 60)), pixel_size_um=0.4)
    smooth = resample_to(stripes, coarse).to_numpy()
    raw = resample_to(stripes, coarse, antialias=False).to_numpy()
    # 0.3 µm stripes are below the 0.8 µm Nyquist period of a 0.4 µm grid: they must average out
    # (the first and last columns, averaged one-sided at the field's border, excepted)
    assert np.nanstd(smooth[:, 1:-1]) < 0.02
    assert np.nanstd(raw[:, 1:-1]) > 0.3


def test_to_common_grid_picks_the_coarser_grid(xray_afm):
    xray, afm, truth = xray_afm
    ref_on, afm_on = to_common_grid(xray, afm, truth)
    assert ref_on is not None and afm_on.shape == xray.shape
    assert np.isfinite(afm_on.to_numpy()).sum() == pytest.approx((6.4 / 0.2) ** 2, rel=0.1)
    # reversed roles: the coarse map is resampled onto... the coarse grid still
    afm_first, xray_second = to_common_grid(afm, xray, truth.inverse())
    assert xray_second.shape == xray.shape and afm_first.shape == xray.shape
    with pytest.raises(InvalidParameterError, match="order"):
        resample_to(afm, xray, truth, order=7)
    with pytest.raises(InvalidParameterError, match="Affine"):
        resample_to(afm, xray, np.eye(3))
    with pytest.raises(InvalidParameterError, match="moving_pixel_size_um"):
        resample_to(afm.to_numpy(), xray, truth)
    plain = resample_to(afm.to_numpy(), xray.to_numpy(), truth, moving_pixel_size_um=0.05,
                        reference_pixel_size_um=0.2)
    np.testing.assert_array_equal(plain.to_numpy(), afm_on.to_numpy())


def test_resampling_leaves_nan_holes_as_nan():
    v = np.ones((40, 40))
    v[10:20, 10:20] = np.nan
    src = as_image(v, pixel_size_um=0.1)
    out = resample_to(src, as_image(np.zeros((10, 10)), pixel_size_um=0.4)).to_numpy()
    assert np.isnan(out[3, 3]) and np.nanmax(np.abs(out - 1.0)) < 1e-9
    assert np.isfinite(out[8, 8])


# ---------------------------------------------------------------- overlays and FOV


def test_blend_and_checkerboard():
    a = as_image(np.tile(np.arange(16.0), (16, 1)), pixel_size_um=1.0, name="a")
    b = as_image(np.full((16, 16), 7.0) + np.eye(16), pixel_size_um=1.0, name="b")
    bl = blend(a, b, alpha=0.25, normalize=False)
    np.testing.assert_allclose(bl.to_numpy(), 0.75 * a.to_numpy() + 0.25 * b.to_numpy())
    normed = blend(a, b)
    assert 0.0 <= np.nanmin(normed) and np.nanmax(normed) <= 1.0
    holes = b.copy(data=np.where(np.arange(16) < 8, np.nan, b.to_numpy()))
    np.testing.assert_allclose(blend(a, holes, normalize=False).to_numpy()[:, :8], a.to_numpy()[:, :8])
    cb = checkerboard(a, b, tile_px=4, normalize=False).to_numpy()
    np.testing.assert_array_equal(cb[:4, :4], a.to_numpy()[:4, :4])
    np.testing.assert_array_equal(cb[:4, 4:8], b.to_numpy()[:4, 4:8])
    np.testing.assert_array_equal(cb[4:8, 4:8], a.to_numpy()[4:8, 4:8])
    np.testing.assert_array_equal(checkerboard(a, b, tile_um=4.0, normalize=False).to_numpy(), cb)
    with pytest.raises(InvalidParameterError, match="same pixel grid"):
        blend(a, as_image(np.zeros((16, 16)), pixel_size_um=2.0))
    with pytest.raises(InvalidParameterError, match="alpha"):
        blend(a, b, alpha=1.5)
    with pytest.raises(InvalidParameterError, match="not both"):
        checkerboard(a, b, tile_px=2, tile_um=2.0)


def test_field_of_view_overlap_and_resolution(xray_afm):
    xray, afm, truth = xray_afm
    fx, fa = field_of_view(xray), field_of_view(afm)
    assert fx["area_um2"] == pytest.approx(38.4 ** 2) and fa["area_um2"] == pytest.approx(6.4 ** 2)
    assert fa["extent_um"] == pytest.approx((-0.025, 6.375, -0.025, 6.375))
    ov = fov_overlap(xray, afm, truth)
    assert ov["overlap_fraction_of_moving"] == pytest.approx(1.0)
    assert ov["overlap_fraction_of_reference"] == pytest.approx((6.4 / 38.4) ** 2)
    assert ov["area_ratio"] == pytest.approx(36.0) and ov["pixel_size_ratio"] == pytest.approx(4.0)
    # a square half out of the reference: overlap is exactly half of it (rotated by 90°: still a square)
    half = Affine.similarity(rotation_deg=90.0, translation_um=(38.3 + 3.175, 10.0))
    part = fov_overlap(xray, afm, half)
    assert part["overlap_fraction_of_moving"] == pytest.approx(0.5)
    outside = fov_overlap(xray, afm, Affine.similarity(translation_um=(500.0, 0.0)))
    assert outside["overlap_area_um2"] == 0.0
    table = resolution_table(xray, afm)
    assert table["source_name"].tolist() == ["xray", "afm"]
    assert table["pixel_size_um"].tolist() == pytest.approx([0.2, 0.05])
    assert table["area_um2"].tolist() == pytest.approx([38.4 ** 2, 6.4 ** 2])


# ------------------------------------------------------------------ region statistics


def test_pixel_and_region_tables_are_exact_on_constructed_labels():
    ny, nx = 20, 30
    labels = np.zeros((ny, nx), dtype=int)
    labels[2:6, 3:8] = 1  # 20 px
    labels[10:18, 10:12] = 2  # 16 px
    labels[12, 20] = 10 ** 9  # one pixel, sparse label value: std undefined with ddof=1
    rng = np.random.default_rng(0)
    va = rng.normal(size=(ny, nx))
    vb = 3.0 * va + 1.0
    vb[2, 3] = np.nan  # one missing value in region 1 of map b
    a = as_image(va, pixel_size_um=0.5, name="modulus")
    b = as_image(vb, pixel_size_um=0.5, name="soc")
    t = region_table(labels, a, b, names=("modulus", "soc"))
    assert t["label"].tolist() == [1, 2, 10 ** 9]
    assert t["count"].tolist() == [20, 16, 1]
    assert t["area_um2"].tolist() == pytest.approx([5.0, 4.0, 0.25])
    for lab in (1, 2):
        m = labels == lab
        assert t.loc[t.label == lab, "mean_modulus"].item() == pytest.approx(va[m].mean(), abs=1e-12)
        assert t.loc[t.label == lab, "std_modulus"].item() == pytest.approx(va[m].std(ddof=1), abs=1e-12)
        vals_b = vb[m][np.isfinite(vb[m])]
        assert t.loc[t.label == lab, "mean_soc"].item() == pytest.approx(vals_b.mean(), abs=1e-12)
        assert t.loc[t.label == lab, "std_soc"].item() == pytest.approx(vals_b.std(ddof=1), abs=1e-12)
        yy, xx = np.nonzero(m)
        assert t.loc[t.label == lab, "x_um"].item() == pytest.approx(xx.mean() * 0.5)
        assert t.loc[t.label == lab, "y_um"].item() == pytest.approx(yy.mean() * 0.5)
    assert t["count_soc"].tolist() == [19, 16, 1]
    assert np.isnan(t.loc[t.label == 10 ** 9, "std_modulus"].item())
    assert t.loc[t.label == 10 ** 9, "mean_modulus"].item() == va[12, 20]
    single = region_table(labels, a, background=None, ddof=0)
    assert single["label"].tolist() == [0, 1, 2, 10 ** 9] and "mean_b" not in single
    assert single.loc[single.label == 10 ** 9, "std_a"].item() == 0.0
    assert single["count"].sum() == ny * nx
    empty = region_table(np.zeros((ny, nx), dtype=int), a)
    assert len(empty) == 0 and "mean_a" in empty

    px = pixel_table(a, b, names=("modulus", "soc"))
    assert list(px.columns) == ["x_um", "y_um", "value_modulus", "value_soc"]
    assert len(px) == ny * nx - 1
    row = px[(px.x_um == 4.0) & (px.y_um == 1.5)]
    assert row["value_modulus"].item() == va[3, 8] and row["value_soc"].item() == vb[3, 8]
    assert len(pixel_table(a, b, dropna=False)) == ny * nx


def test_region_statistics_refuse_mismatched_inputs():
    a = as_image(np.zeros((10, 10)), pixel_size_um=1.0)
    with pytest.raises(InvalidParameterError, match="label image"):
        region_table(np.zeros((5, 5), dtype=int), a)
    with pytest.raises(InvalidParameterError, match="whole numbers"):
        region_table(np.full((10, 10), 0.5), a)
    with pytest.raises(InvalidParameterError, match="≥ 0"):
        region_table(-np.ones((10, 10), dtype=int), a)
    with pytest.raises(InvalidParameterError, match="same pixel grid"):
        pixel_table(a, as_image(np.zeros((10, 10)), pixel_size_um=0.5))
    with pytest.raises(InvalidParameterError, match="two different"):
        pixel_table(a, a, names=("x", "x"))
