"""Drift estimation and correction: known sub-pixel shifts on synthetic movies."""

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.optical import make_electrode_movie, write_movie
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.imaging import apply_drift, estimate_drift, open_movie, phase_shift

TOL_PX = 0.1  # required accuracy of every per-frame shift


@pytest.fixture(scope="module")
def demo():
    return make_electrode_movie(n_frames=16, shape=(96, 128), seed=11)


def _errors(drift, truth):
    return np.abs(np.c_[drift["dy_px"] - truth["dy_px"], drift["dx_px"] - truth["dx_px"]])


@pytest.mark.parametrize("reference", ["first", 0, "previous"])
def test_known_subpixel_drift_is_recovered(demo, reference):
    drift = estimate_drift(demo.data, reference=reference)
    assert list(drift.columns) == ["frame", "time_s", "dy_px", "dx_px", "dy_um", "dx_um", "confidence"]
    err = _errors(drift, demo.truth)
    assert err.max() < TOL_PX, err.max()
    assert np.abs(demo.truth["dx_px"]).max() > 1.0  # the drift is several pixels, not trivial
    np.testing.assert_allclose(drift["dx_um"], drift["dx_px"] * 0.5)
    assert drift["confidence"].min() > 0.9


def test_rgb_movie_from_disk_streams(tmp_path):
    demo = make_electrode_movie(n_frames=8, shape=(64, 80), seed=5, rgb=True)
    path = write_movie(demo.data, tmp_path / "rgb.tif", format="tiff")
    movie = open_movie(path, pixel_size_um=0.5)
    drift = estimate_drift(movie, scheduler="synchronous")
    assert _errors(drift, demo.truth).max() < TOL_PX


def test_reference_image_and_roi(demo):
    ref = demo.data.values[3]
    drift = estimate_drift(demo.data, reference=ref)
    expected_dy = demo.truth["dy_px"] - demo.truth["dy_px"][3]
    expected_dx = demo.truth["dx_px"] - demo.truth["dx_px"][3]
    assert np.abs(drift["dy_px"] - expected_dy).max() < TOL_PX
    assert np.abs(drift["dx_px"] - expected_dx).max() < TOL_PX
    # Correlating only the textured electrode region (left of the interface) works too.
    roi = estimate_drift(demo.data, roi=(slice(0, 96), slice(0, 80)))
    assert _errors(roi, demo.truth).max() < TOL_PX


def test_confidence_drops_on_a_noise_frame(demo):
    movie = demo.data.copy(deep=True)
    rng = np.random.default_rng(0)
    movie.values[6] = rng.integers(0, 65535, size=movie.shape[1:], dtype=np.uint16)
    drift = estimate_drift(movie)
    others = drift["confidence"].drop(index=6)
    assert drift.loc[6, "confidence"] < 0.1
    assert others.min() > 0.9


def test_phase_shift_known_answer_and_skimage_agreement():
    skreg = pytest.importorskip("skimage.registration")
    demo = make_electrode_movie(n_frames=2, shape=(96, 96), drift_px=[[0, 0], [2.37, -4.81]], noise=0.0)
    a, b = demo.truth["clean"]
    dy, dx, conf = phase_shift(a, b)
    assert abs(dy - 2.37) < 0.05 and abs(dx + 4.81) < 0.05 and conf > 0.99
    # scikit-image agrees on a periodic integer shift (its sign: the shift that registers b onto a).
    periodic = np.roll(a, (3, -5), axis=(0, 1))
    dy, dx, _ = phase_shift(a, periodic)
    sk, _, _ = skreg.phase_cross_correlation(a, periodic, upsample_factor=20)
    assert (dy, dx) == (3.0, -5.0) and np.allclose(sk, (-3.0, 5.0))


def test_apply_drift_restores_the_reference(demo):
    drift = estimate_drift(demo.data)
    corrected = apply_drift(demo.data, drift)
    assert corrected.data.chunks[0] == (1,) * 16 and corrected.dtype == np.float32
    assert corrected.dims == demo.data.dims and "drift-corrected" in corrected.attrs["notes"][-1]
    full = np.iinfo(np.uint16).max
    ref = demo.truth["clean"][0] * full
    inner = (slice(12, -12), slice(12, -12))  # away from the edge that drift moved out of view
    for i in (5, 15):
        before = np.abs(demo.data.values[i, ..., 0].astype(float) - ref)[inner].mean() / full
        after = np.abs(corrected.isel(time=i).values[..., 0] - ref)[inner].mean() / full
        # residual = sensor noise (1 % rms) + bilinear smoothing; far below the drifted error
        assert after < 0.01 and before > 4 * after, (after, before)
    fourier = apply_drift(demo.data, drift, method="fourier").isel(time=5).values[..., 0]
    assert np.abs(fourier - ref)[inner].mean() / full < 0.02
    edge = corrected.isel(time=15).values[..., 0]
    assert np.isnan(edge).any()  # pixels with no data are marked, not invented


def test_bad_arguments(demo):
    with pytest.raises(InvalidParameterError, match="reference"):
        estimate_drift(demo.data, reference="last")
    with pytest.raises(InvalidParameterError, match="outside"):
        estimate_drift(demo.data, reference=99)
    with pytest.raises(InvalidParameterError, match="upsample"):
        estimate_drift(demo.data, upsample_factor=0)
    with pytest.raises(InvalidParameterError, match="dims"):
        estimate_drift(demo.data.values)
    drift = estimate_drift(demo.data)
    with pytest.raises(InvalidParameterError, match="rows"):
        apply_drift(demo.data, drift.iloc[:3])
    with pytest.raises(MissingDataError, match="dy_px"):
        apply_drift(demo.data, pd.DataFrame({"x": range(16)}))
    with pytest.raises(InvalidParameterError, match="method"):
        apply_drift(demo.data, drift, method="cubic")
