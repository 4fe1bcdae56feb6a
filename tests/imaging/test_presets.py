"""Imaging presets, neutron radiography and ⁷Li CSI on demo data with known answers."""

import numpy as np
import pytest

from battlab.datasets.imaging import make_mri_csi_series, make_neutron_radiography_series
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.imaging import presets as P
from battlab.spectra.nmr import LI_WINDOWS_PPM


def test_every_preset_says_what_the_image_means_and_where_it_opens():
    for name, p in P.IMAGING_PRESETS.items():
        assert {"quantity", "meaning", "units", "dims", "percentiles", "cmap", "invert", "pixel_size_um",
                "opens_with"} <= set(p), name
        lo, hi = p["pixel_size_um"]
        assert 0 < lo < hi
    assert P.imaging_preset("electron holography phase")["units"] == "rad"
    assert P.imaging_preset("neutron tomography")["units"] == "1/cm"
    with pytest.raises(InvalidParameterError, match="choose one of"):
        P.imaging_preset("PET")


def test_apply_preset_sets_units_and_percentile_limits_without_touching_the_data():
    import xarray as xr

    vol = xr.DataArray(np.arange(1000.0).reshape(10, 10, 10), dims=("z", "y", "x"), attrs={"units": "a.u."})
    out = P.apply_preset(vol, "neutron tomography", percentiles=(10, 90))
    # the data's own unit stays (a.u. here); the calibrated unit of the technique is recorded
    assert out.attrs["technique"] == "neutron tomography" and out.attrs["units"] == "a.u."
    assert out.attrs["preset_units"] == "1/cm"
    assert P.apply_preset(vol.assign_attrs(units=""), "neutron tomography").attrs["units"] == "1/cm"
    # percentiles of 0..999: exact linear interpolation
    assert out.attrs["display_clim"] == pytest.approx((99.9, 899.1))
    assert vol.attrs["units"] == "a.u." and out.values is vol.values
    with pytest.raises(InvalidParameterError):
        P.display_limits(vol, percentiles=(90, 10))
    with pytest.raises(InvalidParameterError):
        P.apply_preset(np.zeros((3, 3)), "X-ray CT")


def test_radiography_attenuation_and_areal_density_exact_without_noise():
    demo = make_neutron_radiography_series(noise=False)
    att = P.radiograph_attenuation(demo.data["frames"], open_beam=demo.data["open_beam"], dark=demo.data["dark"])
    assert att.dims == ("time", "y", "x") and att.attrs["units"] == "-ln(I/I0)"
    np.testing.assert_allclose(att.values, demo.truth["attenuation"], atol=1e-12)  # Beer–Lambert, exact
    change = P.attenuation_change(att)
    assert float(abs(change.isel(time=0)).max()) == 0.0
    table = P.roi_attenuation(att, demo.truth["rois"])
    for roi in ("anode", "cathode", "separator"):
        sub = table[table["roi"] == roi]
        np.testing.assert_allclose(sub["delta_attenuation"], demo.truth["delta_attenuation"][roi], atol=1e-12)
        dens = P.areal_density(sub["delta_attenuation"].to_numpy(), cross_section_barn=demo.truth["cross_section_barn"],
                               molar_mass_g_mol=demo.truth["molar_mass_g_mol"])
        np.testing.assert_allclose(dens, demo.truth["delta_areal_density_mg_cm2"][roi], atol=1e-10)
    # relative change of the attenuation: the anode loses, the cathode gains
    last = table[table["frame"] == table["frame"].max()].set_index("roi")
    assert last.loc["anode", "relative_change"] < 0 < last.loc["cathode", "relative_change"]


def test_radiography_areal_density_within_3_percent_with_counting_noise():
    demo = make_neutron_radiography_series(noise=True)
    att = P.radiograph_attenuation(demo.data["frames"], open_beam=demo.data["open_beam"], dark=demo.data["dark"])
    table = P.roi_attenuation(att, demo.truth["rois"])
    for roi in ("anode", "cathode"):
        sub = table[table["roi"] == roi]
        dens = P.areal_density(sub["delta_attenuation"].to_numpy(), cross_section_barn=70.5, molar_mass_g_mol=6.94)
        # transferred Li: straight line through all frames (Poisson noise averages down)
        moved = np.polyfit(sub["time_s"], dens, 1)[0] * (sub["time_s"].iloc[-1] - sub["time_s"].iloc[0])
        truth = demo.truth["delta_areal_density_mg_cm2"][roi][-1]
        assert moved == pytest.approx(truth, rel=0.03)
    atoms = P.areal_density(0.00705, cross_section_barn=70.5)
    assert atoms == pytest.approx(1e20)  # 0.00705 / 70.5e-24
    with pytest.raises(InvalidParameterError, match="cross_section_barn"):
        P.areal_density(0.1, cross_section_barn=0)


def test_radiography_bad_inputs_are_battlab_errors():
    demo = make_neutron_radiography_series(n_frames=3, noise=False)
    frames = demo.data["frames"]
    with pytest.raises(InvalidParameterError, match="swapped"):
        P.radiograph_attenuation(frames, open_beam=demo.data["dark"], dark=demo.data["open_beam"])
    att = P.radiograph_attenuation(frames, open_beam=demo.data["open_beam"])
    with pytest.raises(InvalidParameterError, match="outside"):
        P.roi_attenuation(att, {"x": (0, 500, 0, 5)})
    with pytest.raises(MissingDataError):
        P.roi_attenuation(att, {})
    with pytest.raises(InvalidParameterError):
        P.attenuation_change(att, reference_frame=10)


def test_mri_csi_metal_fraction_within_2_percent_and_maps_use_the_nmr_windows():
    demo = make_mri_csi_series()
    frac = P.li_metal_signal_fraction(demo.data)
    np.testing.assert_allclose(frac["metal_fraction"], demo.truth["metal_fraction"], rtol=0.02)
    assert np.all(np.diff(frac["metal_fraction"]) > 0)  # the deposit grows
    maps = P.csi_signal_maps(demo.data)
    assert list(maps["window"].values) == list(LI_WINDOWS_PPM)
    assert maps.dims == ("window", "time", "x")
    metal = maps.sel(window="Li metal")
    # the deposit front: metal signal inside the electrolyte gap grows one pixel per step
    lo = demo.truth["electrolyte_px"][0]
    inside = (metal.isel(x=slice(lo, lo + 20)) > 5).sum("x").values
    np.testing.assert_array_equal(inside, demo.truth["deposit_length_px"])
    with pytest.raises(MissingDataError, match="window"):
        P.csi_signal_maps(demo.data, {"far": (1000, 1100)})
    with pytest.raises(InvalidParameterError):
        P.csi_signal_maps(demo.data.isel(shift_ppm=0))
