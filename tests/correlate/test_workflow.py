"""Correlation workflow on the multimodal demo, whose clocks, laws and maps are known."""

import numpy as np
import pytest

from battlab.correlate import workflow as wf
from battlab.datasets.correlation import make_multimodal
from battlab.errors import InvalidParameterError, MissingDataError


@pytest.fixture(scope="module")
def demo():
    return make_multimodal()


def _x_true(demo, t):
    return np.interp(t, *demo.truth["x_of_cycler_time"])


def test_clock_offsets_recovered_within_one_sample(demo):
    est = wf.estimate_offsets(demo.data).set_index("dataset")
    for name in ("optical", "xrd"):
        true = demo.truth["clock_offsets_s"][name]
        assert abs(est.loc[name, "clock_offset_s"] - true) <= est.loc[name, "resolution_s"], name
        assert est.loc[name, "correlation"] > 0.95


def test_every_table_reads_the_same_state_of_lithiation(demo):
    aligned = wf.on_timeline(demo.data, offsets=demo.truth["clock_offsets_s"])
    assert set(aligned) == {"cycling", "optical", "xrd", "eis"}
    xrd = aligned["xrd"]
    # the charge passed is exact on the timeline; XRD phases give x within 0.02 (peak-fit noise)
    resting = xrd["test_time_s"] <= demo.truth["clock_offsets_s"]["optical"]  # no charge swing before current on
    assert xrd.loc[resting, "x_echem"].isna().all() and xrd.loc[~resting, "x_echem"].notna().all()
    np.testing.assert_allclose(xrd.loc[~resting, "x_echem"], _x_true(demo, xrd.loc[~resting, "test_time_s"]),
                               atol=1e-9)
    np.testing.assert_allclose(xrd["x_xrd"], _x_true(demo, xrd["test_time_s"]), atol=0.02)
    # optical thickness follows h0·(1 + ε·x) on lithiation within 0.3 µm (sub-pixel edges, 0.5 µm pixels)
    opt = aligned["optical"]
    law = demo.truth["thickness_law"]
    lith = opt["direction"] == -1  # negative current: lithiation of the graphite
    assert lith.sum() > 20
    expected = law["h0_um"] * (1 + law["expansion_per_x"] * opt.loc[lith, "x_echem"])
    np.testing.assert_allclose(opt.loc[lith, "thickness_um"], expected, atol=0.3)
    # EIS charge-transfer resistance follows the generator's R_ct(x) within 2 %
    eis = aligned["eis"]
    np.testing.assert_allclose(eis["R1_ohm"], demo.truth["rct_ohm"][: len(eis)], rtol=0.02)


def test_reality_check_tells_agreeing_from_lagging(demo):
    aligned = wf.on_timeline(demo.data, offsets=demo.truth["clock_offsets_s"])
    check = wf.reality_check(aligned).set_index("technique")
    assert check.loc["xrd", "rms_difference"] < 0.02 and check.loc["xrd", "verdict"].startswith("consistent")
    # the colour index lags the charge (front-limited lithiation): it must not be called agreeing
    assert check.loc["optical", "rms_difference"] > 0.1 and not check.loc["optical", "verdict"].startswith("consistent")
    assert check.loc["xrd", "loa_low"] < 0 < check.loc["xrd", "loa_high"]


def test_wrong_offset_is_visible_in_the_reality_check(demo):
    wrong = {**demo.truth["clock_offsets_s"], "xrd": demo.truth["clock_offsets_s"]["xrd"] + 600.0}
    check = wf.reality_check(wf.on_timeline(demo.data, offsets=wrong)).set_index("technique")
    assert check.loc["xrd", "rms_difference"] > 0.1


def test_common_table_on_one_grid(demo):
    aligned = wf.on_timeline(demo.data, offsets=demo.truth["clock_offsets_s"])
    table = wf.common_table(aligned, columns={"cycling": ["voltage_V"], "optical": ["thickness_um"],
                                              "xrd": ["x_xrd"]}, every_s=120.0)
    assert list(table.columns) == ["test_time_s", "cycling:voltage_V", "optical:thickness_um", "xrd:x_xrd"]
    assert np.allclose(np.diff(table["test_time_s"]), 120.0)
    ok = table["xrd:x_xrd"].notna()
    np.testing.assert_allclose(table.loc[ok, "xrd:x_xrd"], _x_true(demo, table.loc[ok, "test_time_s"]), atol=0.03)
    with pytest.raises(MissingDataError, match="no 'afm'"):
        wf.common_table(aligned, columns={"afm": ["x"]})


def test_bad_offsets_and_unknown_tables(demo):
    with pytest.raises(InvalidParameterError, match="finite"):
        wf.on_timeline(demo.data, offsets={"xrd": float("nan")})
    with pytest.raises(MissingDataError, match="no 'tem' table"):
        wf.estimate_offsets(demo.data, signals={"tem": "front_um"})


def test_read_exported_table(tmp_path, demo):
    path = tmp_path / "xrd.csv"
    demo.data.tables["xrd"].to_csv(path, index=False)
    table, tcol = wf.read_table(path)
    assert tcol == "time_s" and len(table) == len(demo.data.tables["xrd"])
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(MissingDataError, match="no time column"):
        wf.read_table(tmp_path / "bad.csv")
    with pytest.raises(InvalidParameterError, match="CSV"):
        wf.read_table(tmp_path / "movie.tif")


@pytest.mark.slow
def test_afm_scan_placed_in_the_xray_slice_and_joined_particle_by_particle(demo):
    reg = wf.register_maps(demo.data)
    truth = demo.truth["afm_to_xray"]
    t = reg.transform
    # the bar: within 0.5° and 0.5 X-ray pixel (0.5 µm) of the designed placement
    assert abs(t.rotation_deg - truth["rotation_deg"]) < 0.5
    assert abs(t.scale - truth["scale"]) < 0.005  # the AFM scanner's 2 % calibration error is found
    assert np.hypot(*(np.asarray(t.translation_um) - truth["translation_um"])) < 0.25
    table = wf.particle_table(demo.data, reg)
    particles = demo.truth["particles"]
    nearest = [int(np.argmin(np.hypot(particles["x_um"] - x, particles["y_um"] - y)))
               for x, y in zip(table["x_um"], table["y_um"], strict=True)]
    assert len(table) >= 12 and len(set(nearest)) == len(nearest)
    # per particle: X-ray SOC within 0.01 and AFM modulus within 0.2 GPa of the generator's values
    np.testing.assert_allclose(table["soc"], particles["soc"].to_numpy()[nearest], atol=0.01)
    np.testing.assert_allclose(table["modulus_GPa"], particles["modulus_GPa"].to_numpy()[nearest], atol=0.2)
    # the designed modulus–SOC correlation of those particles is recovered within 0.02
    r_true = np.corrcoef(particles["soc"].to_numpy()[nearest], particles["modulus_GPa"].to_numpy()[nearest])[0, 1]
    assert abs(np.corrcoef(table["soc"], table["modulus_GPa"])[0, 1] - r_true) < 0.02


def test_maps_missing_from_the_experiment(demo):
    with pytest.raises(MissingDataError, match="no 'sem' map"):
        wf.register_maps(demo.data, moving="sem")
