"""Reconstruction on a phantom with known truth, and the seed's calculators."""

import numpy as np
import pytest

from battlab.datasets.xrm import make_phantom_projections
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.xrm import (
    attenuation_coefficient,
    effective_pixel_size_um,
    find_rotation_center,
    geometric_magnification,
    normalize_projections,
    reconstruct,
    reconstruction_error,
    remove_rings,
    sinogram,
    transmission,
)


def _sino(**kw):
    demo = make_phantom_projections(**kw)
    d = demo.data
    return demo, normalize_projections(d["projections"], flat=d["flat"], dark=d["dark"], angles_deg=d["angles_deg"])


def test_beer_lambert_normalisation_recovers_the_line_integrals():
    demo, sino = _sino(ring_gain_error=0.0, photons=1e9)
    from skimage.transform import radon

    ideal = radon(demo.truth["phantom"], theta=demo.data["angles_deg"], circle=True).T
    from scipy import ndimage as ndi

    ideal = ndi.shift(ideal, (0, demo.truth["center_offset_px"]), order=1, mode="nearest")
    assert np.max(np.abs(sino.values - ideal)) < 2e-3
    assert sino.dims == ("angle", "x") and sino["angle_deg"].values[-1] == 180.0
    assert sinogram(sino) is sino


@pytest.mark.parametrize("offset", [-3.3, 0.0, 4.0])
def test_rotation_centre_is_found(offset):
    _, sino = _sino(center_offset_px=offset)
    assert find_rotation_center(sino) == pytest.approx(offset, abs=0.1)
    assert find_rotation_center(sino, method="sharpness", search_px=6) == pytest.approx(offset, abs=0.3)


def test_fbp_and_sart_reconstruct_the_phantom_below_the_stated_error():
    demo, sino = _sino()
    centre = find_rotation_center(sino)
    good = reconstruct(remove_rings(sino), center_offset_px=centre, pixel_size_um=2.0)
    # Stated threshold: RMSE inside the field of view < 6 % of the phantom's μ range.
    assert reconstruction_error(good.values * 2.0, demo.truth["phantom"]) < 0.06
    assert good.attrs["units"] == "1/µm" and good["x_um"].values[1] == 2.0
    sart = reconstruct(remove_rings(sino), center_offset_px=centre, method="sart", sart_iterations=3)
    assert reconstruction_error(sart, demo.truth["phantom"]) < 0.06
    # Ignoring the axis offset is clearly worse (arcs instead of discs).
    assert reconstruction_error(reconstruct(sino), demo.truth["phantom"]) > 2 * reconstruction_error(
        good.values * 2.0, demo.truth["phantom"])


def test_ring_removal_reduces_ring_artefacts():
    _, rings = _sino(ring_gain_error=0.05)
    _, clean = _sino(ring_gain_error=0.0)
    ref = reconstruct(clean, center_offset_px=2.0)
    before = reconstruction_error(reconstruct(rings, center_offset_px=2.0), ref)
    after = reconstruction_error(reconstruct(remove_rings(rings), center_offset_px=2.0), ref)
    assert after < 0.75 * before


def test_reconstruction_input_errors():
    demo, sino = _sino()
    with pytest.raises(InvalidParameterError):
        reconstruct(sino, method="art")
    with pytest.raises(InvalidParameterError, match="angles"):
        reconstruct(sino.values, angles_deg=[0, 90])
    with pytest.raises(InvalidParameterError, match="swapped"):
        normalize_projections(demo.data["projections"], flat=demo.data["dark"], dark=demo.data["flat"])
    with pytest.raises(MissingDataError):
        find_rotation_center(np.zeros((10, 32)), angles_deg=np.linspace(0, 180, 10))


def test_beer_lambert_and_magnification_calculators():
    # 50 µm of a μ = 200 /cm layer: exp(-1); layers add in the exponent (seed Fig. 6).
    assert transmission(200, 50) == pytest.approx(np.exp(-1.0))
    assert transmission([200, 100], [50, 100]) == pytest.approx(np.exp(-2.0))
    assert attenuation_coefficient(np.exp(-1.0), 50) == pytest.approx(200)
    assert geometric_magnification(20, 180) == pytest.approx(10.0)  # M = (a + b)/a
    assert effective_pixel_size_um(13.5, 10.0) == pytest.approx(1.35)
    with pytest.raises(InvalidParameterError):
        geometric_magnification(0, 10)
    with pytest.raises(InvalidParameterError):
        transmission([1, 2], [3])
    with pytest.raises(InvalidParameterError):
        attenuation_coefficient(1.5, 10)
