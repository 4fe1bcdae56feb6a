"""EDS: calibration, line integration, Cliff–Lorimer and element maps on a ground-truth NMC particle."""

import tracemalloc

import numpy as np
import pytest

from battlab.datasets.tem import make_eds_spectrum_image
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.tem import eds
from battlab.tem.eels import decompose_spectrum_image

ELEMENTS = ("O", "Mn", "Co", "Ni")


@pytest.fixture(scope="module")
def demo():
    return make_eds_spectrum_image()


def test_two_line_energy_calibration():
    d = make_eds_spectrum_image(offset_error_eV=-25.0, gain_error=0.004, ny=8, nx=8, radius_px=4, core_radius_px=2)
    cal, info = eds.calibrate_eds_energy(d.data, ("O Ka", "Ni Ka"))
    # true axis: −25 eV + 1.004 × stored; recovered within 1 eV and 2e-4 in gain
    assert info["offset_eV"] == pytest.approx(-25.0, abs=1.0) and info["gain"] == pytest.approx(1.004, abs=2e-4)
    assert cal.attrs["energy_calibration"]["gain"] == info["gain"]
    with pytest.raises(InvalidParameterError):
        eds.calibrate_eds_energy(d.data, ("O Ka",))


def test_cliff_lorimer_of_the_summed_particle_matches_the_truth(demo):
    spectrum = demo.data.sum(("y", "x"))
    for background in ("linear", "powerlaw"):
        table = eds.line_table(spectrum, ELEMENTS, background=background)
        # Ni Kα's right window would sit on Co Kβ: it is dropped
        assert table.set_index("element").loc["Ni", "background_sides"] == "left"
        comp = eds.cliff_lorimer(table).set_index("element")["at_pct"]
        w = demo.truth["line_counts"]
        # truth of the sum: atoms ∝ k·I summed over pixels
        atoms = {el: eds.K_FACTORS[el] * w[el].sum() for el in ELEMENTS}
        total = sum(atoms.values())
        for el in ELEMENTS:
            assert comp[el] == pytest.approx(100 * atoms[el] / total, abs=2.0), (background, el)  # within 2 at.%
    assert "approximate" in eds.cliff_lorimer(table).attrs["k_factors_note"]
    # user k-factors replace the defaults: doubling k(Ni) doubles Ni's weight
    mine = eds.cliff_lorimer(table, k_factors={"Ni": 2 * eds.K_FACTORS["Ni"]}).set_index("element")
    base = eds.cliff_lorimer(table).set_index("element")
    assert mine.loc["Ni", "at_pct"] / mine.loc["Mn", "at_pct"] == pytest.approx(
        2 * base.loc["Ni", "at_pct"] / base.loc["Mn", "at_pct"], rel=1e-9)
    with pytest.raises(InvalidParameterError):
        eds.cliff_lorimer({"Xx": 10.0})


def test_composition_maps_and_ratio_map_per_pixel(demo):
    from battlab.elements.analysis import ratio_map

    maps = eds.eds_element_maps(demo.data, ELEMENTS)
    assert maps.dims == ("element", "y", "x") and maps.attrs["pixel_size_um"] == pytest.approx(0.002)
    inside = demo.truth["particle_mask"]
    # net Kα counts per pixel within 10 % of the generated ones (one-sided/flat backgrounds under 1/E bias O)
    for el in ELEMENTS:
        got = maps.sel(element=el).values[inside]
        np.testing.assert_allclose(got, demo.truth["line_counts"][el][inside], rtol=0.10)
    comp = eds.composition_maps(maps)
    for el in ELEMENTS:  # every particle pixel within 2 at.% of the truth (noise-free data)
        np.testing.assert_allclose(comp.sel(element=el).values[inside], demo.truth["at_pct"][el][inside], atol=2.0)
    # the elements package's ratio map with k-factor sensitivities: Ni/Mn = 8 in the core, 1 in the shell
    sens = {el: 1 / eds.K_FACTORS[el] for el in ELEMENTS}
    ratio = ratio_map(maps.clip(min=0).assign_attrs(maps.attrs), "Ni/Mn", sensitivity=sens, min_counts=1)["ratio"]
    core, shell = demo.truth["core_mask"], inside & ~demo.truth["core_mask"]
    assert np.nanmedian(ratio.values[core]) == pytest.approx(8.0, rel=0.05)
    assert np.nanmedian(ratio.values[shell]) == pytest.approx(1.0, rel=0.05)


def test_maps_chunk_by_chunk_equal_in_memory_with_bounded_memory():
    import dask

    d = make_eds_spectrum_image(ny=48, nx=48, n_channels=2048, dispersion_eV=5.0, radius_px=20, core_radius_px=12)
    eager = eds.eds_element_maps(d.data, ELEMENTS)
    lazy_si = d.data.chunk({"y": 8, "x": 8, "energy": 256})
    lazy = eds.eds_element_maps(lazy_si, ELEMENTS, compute=False)
    assert hasattr(lazy.data, "dask")  # nothing computed yet
    cube_bytes = d.data.nbytes  # 48·48·2048·4 B = 18.9 MB
    tracemalloc.start()
    with dask.config.set(scheduler="synchronous"):
        out = lazy.compute()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # identical numbers (maps exact on the same data), and the peak stays far below the cube
    np.testing.assert_allclose(out.values, eager.values, rtol=1e-9, atol=1e-6)
    assert peak < cube_bytes / 4, f"peak {peak / 1e6:.1f} MB vs cube {cube_bytes / 1e6:.1f} MB"


def test_pca_nmf_reused_from_the_eels_code(demo):
    # one implementation: the EELS spectrum-image decomposition separates the core and shell spectra
    si = demo.data.isel(energy=slice(500, 900))  # 5–9 keV: the TM K lines
    maps, spectra, _ = decompose_spectrum_image(si, n_components=2, method="nmf", n_iter=300)
    core = demo.truth["core_mask"]
    shell = demo.truth["particle_mask"] & ~core
    # one component is core-rich, the other shell-rich
    contrast = [float(maps[k].values[core].mean() / maps[k].values[shell].mean()) for k in range(2)]
    assert max(contrast) > 1.5 and min(contrast) < 1.0


def test_clear_errors(demo):
    with pytest.raises(InvalidParameterError):
        eds.line_intensity(demo.data.sum(("y", "x")), "Xx")
    with pytest.raises(MissingDataError):
        eds.line_intensity(demo.data.sum(("y", "x")).isel(energy=slice(0, 200)), "Ni")  # spectrum ends at 2 keV
    with pytest.raises(InvalidParameterError):
        eds.line_intensity(demo.data.sum(("y", "x")), "Ni", background="cubic")
    with pytest.raises(InvalidParameterError):
        eds.eds_element_maps(demo.data.sum("y"), ELEMENTS)
