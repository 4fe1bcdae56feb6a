"""Neutron depth profiling: depth scale, Li profile, inventory and series against known answers."""

import numpy as np
import pandas as pd
import pytest

import battlab.depth as d
from battlab.datasets.depth import make_ndp_plating_series, make_ndp_profile, triton_stopping_table
from battlab.errors import BattlabError, InvalidParameterError, MissingDataError


@pytest.fixture(scope="module")
def demo():
    return make_ndp_profile()


@pytest.fixture(scope="module")
def profile(demo):
    t = demo.truth
    return d.ndp_depth_profile(demo.data["spectrum"], demo.data["stopping"], bin_um=0.25, max_depth_um=10.0,
                               fluence_n_cm2=t["fluence_n_cm2"], solid_angle_fraction=t["solid_angle_fraction"],
                               energy_resolution_keV=t["fwhm_keV"])


def test_monoenergetic_line_depth_constant_stopping_within_half_percent():
    # A narrow line from Li at 3 µm under a constant 50 keV/µm: E = 2727 − 150 keV.
    s, x0 = 50.0, 3.0
    e = np.arange(2000.0, 2800.0, 1.0)
    counts = 1e4 * np.exp(-0.5 * ((e - (2727.0 - s * x0)) / 3.0) ** 2)
    spec = d.make_ndp_spectra(e, counts)
    peak_e = float((spec * spec["energy_keV"]).sum() / spec.sum())
    depth = float(d.energy_to_depth(peak_e, s))
    assert depth == pytest.approx(x0, rel=0.005)
    # the same through a constant *table* (the integration path) and through the profile
    table = d.stopping_table([100.0, 3000.0], [s, s])
    assert float(d.energy_to_depth(peak_e, table)) == pytest.approx(x0, rel=0.005)
    prof = d.ndp_depth_profile(spec, s, bin_um=0.1, max_depth_um=6.0)
    assert float(prof.loc[prof.counts.idxmax(), "depth_um"]) == pytest.approx(x0, abs=0.05 + 1e-9)


def test_depth_and_energy_are_inverse_through_a_table():
    tab = triton_stopping_table()
    x = np.array([0.0, 0.5, 3.0, 9.0])
    e = d.depth_to_energy(x, tab)
    assert np.allclose(d.energy_to_depth(e, tab), x, atol=1e-3)
    # stopping rises as the triton slows: deeper µm cost more keV than the first
    assert (e[0] - e[1]) / 0.5 < (e[2] - e[3]) / 6.0


def test_recovered_li_integral_within_5pct_and_layers(demo, profile):
    t = demo.truth
    inv = d.layer_inventory(profile, {"all": (0.0, 10.0), **t["layers_um"]})
    total = float(inv.loc[inv.layer == "all", "li_atoms_cm2"].iloc[0])
    assert total == pytest.approx(t["inventory_atoms_cm2"]["total"], rel=0.05)
    for layer in t["layers_um"]:
        got = float(inv.loc[inv.layer == layer, "li_atoms_cm2"].iloc[0])
        assert got == pytest.approx(t["inventory_atoms_cm2"][layer], rel=0.05)
    # plateau inside the graphite at the true concentration (Poisson noise ~1 %)
    bulk = profile[(profile.depth_um > 2) & (profile.depth_um < 7)]["li_atoms_cm3"]
    assert bulk.mean() == pytest.approx(1.5e22, rel=0.02)


def test_interfaces_within_one_depth_bin(demo, profile):
    found = d.find_interfaces(profile.depth_um, profile.li_atoms_cm3, method="gradient")
    assert len(found) == 2 and (found.direction == "falling").all()
    assert np.allclose(found.position, demo.truth["interfaces_um"], atol=0.25)  # one 0.25 µm bin


def test_relative_profile_and_resolution_note(demo):
    prof = d.ndp_depth_profile(demo.data["spectrum"], demo.data["stopping"], bin_um=0.5,
                               energy_resolution_keV=15.0)
    assert prof["relative_concentration"].max() == pytest.approx(1.0)
    assert any("depth resolution" in n for n in prof.attrs["battlab"]["notes"])
    r = d.depth_resolution_um(55.0, energy_resolution_keV=11.0)
    assert float(r) == pytest.approx(0.2)


def test_counts_conserved_by_rebinning(demo):
    spec = demo.data["spectrum"]
    window = (2105.0, 2877.0)
    prof = d.ndp_depth_profile(spec, demo.data["stopping"], bin_um=0.3, energy_window_keV=window)
    e = spec["energy_keV"].to_numpy()
    inside = float(spec.to_numpy()[(e >= window[0]) & (e <= window[1])].sum())
    assert prof["counts"].sum() == pytest.approx(inside, rel=1e-3)


def test_descending_energy_axis_gives_the_same_profile(demo, profile):
    t = demo.truth
    flipped = demo.data["spectrum"].isel(energy_keV=slice(None, None, -1))
    again = d.ndp_depth_profile(flipped, demo.data["stopping"], bin_um=0.25, max_depth_um=10.0,
                                fluence_n_cm2=t["fluence_n_cm2"], solid_angle_fraction=t["solid_angle_fraction"])
    assert np.allclose(again["li_atoms_cm3"], profile["li_atoms_cm3"])


def test_channel_calibration_from_the_two_surface_lines():
    cal = d.calibrate_energy([683.3, 907.3], [2055.0, 2727.0])
    assert cal["gain_keV_per_channel"] == pytest.approx(3.0)
    assert cal["offset_keV"] == pytest.approx(5.1, abs=1e-6)
    assert d.channel_to_energy(10, **cal) == pytest.approx(35.1)


def test_read_spectrum_and_stopping_csv(tmp_path, demo):
    spec = demo.data["spectrum"]
    f = tmp_path / "ndp.csv"
    pd.DataFrame({"channel": spec["channel"].to_numpy(), "counts": spec.to_numpy()}).to_csv(f, index=False)
    with pytest.raises(MissingDataError, match="calibration"):
        d.read_ndp_spectra(f)
    back = d.read_ndp_spectra(f, **demo.truth["calibration"])
    assert np.allclose(back["energy_keV"], spec["energy_keV"]) and np.allclose(back, spec)
    assert back.attrs["battlab"]["sha256"]
    s = tmp_path / "stop.csv"
    s.write_text("# SRIM export\nEnergy (MeV),dE/dx (keV/um)\n0.1,200\n3.0,50\n")
    tab = d.read_stopping_table(s)
    assert tab["energy_keV"].tolist() == [100.0, 3000.0]
    multi = tmp_path / "series.csv"
    pd.DataFrame({"energy_keV": [1.0, 2.0, 3.0], "t=0 s": [1, 2, 3], "t=600 s": [4, 5, 6]}).to_csv(multi, index=False)
    series = d.read_ndp_spectra(multi)
    assert series.dims == ("time", "energy_keV") and series["time_s"].values.tolist() == [0.0, 600.0]


@pytest.mark.parametrize("text", ["energy,S\n1,-5\n2,3\n", "energy,S\n1,5\n", "a\n1\n", "energy,S\n1,5\n1,6\n"])
def test_bad_stopping_tables_raise_battlab_errors(text):
    with pytest.raises(BattlabError):
        d.read_stopping_table(text.encode(), name="stop.csv")


def test_bad_parameters(demo):
    with pytest.raises(InvalidParameterError):
        d.ndp_depth_profile(demo.data["spectrum"], 50.0, bin_um=0)
    with pytest.raises(InvalidParameterError):
        d.ndp_depth_profile(demo.data["spectrum"], -1.0)
    with pytest.raises(InvalidParameterError):
        d.ndp_depth_profile(demo.data["spectrum"], 50.0, particle="proton")
    with pytest.raises(MissingDataError):
        d.ndp_depth_profile(demo.data["spectrum"], 50.0, energy_window_keV=(5000.0, 6000.0))


def test_plating_series_inventory_per_layer():
    demo = make_ndp_plating_series()
    t = demo.truth
    profiles, table = d.ndp_series(demo.data["spectra"], demo.data["stopping"], layers=t["layers_um"], bin_um=0.25,
                                   max_depth_um=10.0, fluence_n_cm2=t["fluence_n_cm2"],
                                   solid_angle_fraction=t["solid_angle_fraction"])
    assert profiles.dims == ("time", "depth_um") and profiles.sizes["time"] == 8
    truth = t["inventory"]
    # Total Li within 5 % per spectrum. The 0.5 µm surface layer is only ~2 depth resolutions
    # (0.27 µm FWHM) thick, so up to ~7 % of its Li is blurred into the next layer: 10 % there.
    total = table["li_atoms_cm2_surface"] + table["li_atoms_cm2_inside"]
    assert np.allclose(total, truth["surface_atoms_cm2"] + truth["inside_atoms_cm2"], rtol=0.05)
    assert np.allclose(table["li_atoms_cm2_surface"], truth["surface_atoms_cm2"], rtol=0.10)
    assert np.allclose(table["li_atoms_cm2_inside"], truth["inside_atoms_cm2"], rtol=0.05)
    # Plating shows as a rising surface share after the electrode is full.
    k = t["plating_starts_index"]
    assert table["fraction_surface"].iloc[-1] > 2 * table["fraction_surface"].iloc[k - 1]
    diff = d.difference_profiles(profiles, reference=k - 1)
    assert float(diff.isel(time=-1).sel(depth_um=0.125)) > 2e22
    assert abs(float(diff.isel(time=-1).sel(depth_um=4.125))) < 0.1e22


def test_series_on_the_cycling_clock():
    demo = make_ndp_plating_series(n_spectra=4)
    t = demo.truth
    times = demo.data["spectra"]["time_s"].to_numpy()
    # a constant-current charge of 1 mA spanning the series, starting 100 s before the first spectrum
    test_time = np.arange(0.0, times[-1] + 400.0, 10.0)
    echem = pd.DataFrame({"test_time_s": test_time, "voltage_V": 0.1 + 1e-5 * test_time,
                          "current_A": 1e-3, "cycle": 1, "step": 1})
    _, table = d.ndp_series(demo.data["spectra"], demo.data["stopping"], layers=t["layers_um"], echem=echem,
                            clock_offset_s=100.0, bin_um=0.5)
    assert np.allclose(table["test_time_s"], times + 100.0)
    assert np.allclose(table["voltage_V"], 0.1 + 1e-5 * (times + 100.0))
    # capacity counts from the first spectrum: 1 mA × elapsed time
    assert np.allclose(table["capacity_mAh"], 1.0 * (times - times[0]) / 3600.0, rtol=1e-6, atol=1e-9)


def test_difference_keeps_the_time_coordinates():
    demo = make_ndp_plating_series(n_spectra=4)
    profiles, _ = d.ndp_series(demo.data["spectra"], demo.data["stopping"], bin_um=0.5)
    diff = d.difference_profiles(profiles, reference=1)
    assert np.array_equal(diff["time_s"], profiles["time_s"])
    assert float(abs(diff.isel(time=1)).max()) == 0.0
    with pytest.raises(InvalidParameterError):
        d.difference_profiles(profiles, reference=9)
