"""4D-STEM virtual detectors, mean/max patterns and centre of mass: known answers and bounded memory."""

import tracemalloc

import numpy as np
import pytest

from battlab.datasets.tem import make_4dstem_cube
from battlab.errors import InvalidParameterError
from battlab.tem import stem4d


@pytest.fixture(scope="module")
def demo():
    return make_4dstem_cube()


def test_virtual_bf_adf_and_patterns_equal_in_memory_sums(demo):
    cube = demo.data
    arr = cube.values.astype(float)
    t = demo.truth
    bf = stem4d.virtual_image(cube, outer_px=t["disc_radius_px"] + 1.5)
    adf = stem4d.virtual_image(cube, inner_px=t["ring_px"][0] - 1.5, outer_px=t["ring_px"][1] + 1.5)
    mask_bf = stem4d.detector_mask(arr.shape[2:], outer_px=t["disc_radius_px"] + 1.5)
    # identical to the in-memory sum (float rounding only)
    np.testing.assert_allclose(bf.values, (arr * mask_bf).sum(axis=(2, 3)), rtol=1e-6)
    # known answer: BF = counts·T, ADF = counts·(1 − T) (soft disc edges inside the detector: within 1 %)
    np.testing.assert_allclose(bf.values / 1000.0, t["transmission"], rtol=0.01)
    np.testing.assert_allclose(adf.values / 1000.0, 1 - t["transmission"], atol=0.01)
    np.testing.assert_allclose(stem4d.mean_pattern(cube).values, arr.mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(stem4d.max_pattern(cube).values, arr.max(axis=(0, 1)), rtol=1e-6)
    # radii in mrad: 2 mrad/px, so 13 mrad = 6.5 px
    in_mrad = stem4d.virtual_image(cube, outer_px=13.0, mrad_per_px=2.0)
    np.testing.assert_allclose(in_mrad.values, bf.values, rtol=1e-6)


def test_center_of_mass_recovers_the_beam_deflection(demo):
    com = stem4d.center_of_mass(demo.data, mask_px=8.0, center=demo.truth["center_px"])
    t = demo.truth
    # the mean deflection is zero by construction, so the COM shift is the deflection (within 0.05 px)
    np.testing.assert_allclose(com["com_y_px"].values, t["shift_y_px"], atol=0.05)
    np.testing.assert_allclose(com["com_x_px"].values, t["shift_x_px"], atol=0.05)


def test_lazy_cube_is_reduced_block_by_block(tmp_path):
    import dask
    import dask.array as da

    d = make_4dstem_cube(scan=(40, 40), detector=48)
    path = tmp_path / "cube.npy"
    np.save(path, d.data.values)
    lazy = d.data.copy(data=da.from_array(np.load(path, mmap_mode="r"), chunks=(8, 8, 48, 48)))
    out = stem4d.virtual_image(lazy, inner_px=8.0, outer_px=14.0, compute=False)
    assert hasattr(out.data, "dask")
    tracemalloc.start()
    with dask.config.set(scheduler="synchronous"):
        img = out.compute()
        com = stem4d.center_of_mass(lazy, mask_px=8.0)
        mean = stem4d.mean_pattern(lazy)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    full = np.load(path)
    assert d.data.nbytes == 40 * 40 * 48 * 48 * 4  # 14.7 MB cube
    # peak memory of the lazy reductions stays well below the cube (blocks of 8×8 patterns)
    assert peak < d.data.nbytes / 4, f"peak {peak / 1e6:.1f} MB"
    mask = stem4d.detector_mask((48, 48), inner_px=8.0, outer_px=14.0)
    np.testing.assert_allclose(img.values, (full * mask).sum(axis=(2, 3)), rtol=1e-6)
    np.testing.assert_allclose(mean.values, full.astype(float).mean(axis=(0, 1)), rtol=1e-6)
    assert np.isfinite(com["com_x_px"].values).all()


def test_clear_errors(demo):
    with pytest.raises(InvalidParameterError):
        stem4d.virtual_image(demo.data, inner_px=5.0, outer_px=3.0)
    with pytest.raises(InvalidParameterError):
        stem4d.virtual_image(demo.data.isel(y=0))
