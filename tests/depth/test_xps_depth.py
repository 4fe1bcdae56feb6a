"""XPS depth series: atomic % against sputter depth, fitted with battlab.spectra.xps per step."""

import numpy as np
import pandas as pd
import pytest

import battlab.depth as d
from battlab.datasets.depth import make_xps_depth_series
from battlab.errors import BattlabError, InvalidParameterError


@pytest.fixture(scope="module")
def demo():
    return make_xps_depth_series()


@pytest.fixture(scope="module")
def result(demo):
    return d.xps_depth_profile(demo.data, rate_nm_s=demo.truth["rate_nm_s"])


def test_atomic_percent_within_2_at_pct(demo, result):
    atomic, species = result
    truth = demo.truth["atomic"]
    assert np.allclose(atomic["depth_nm"], truth["depth_nm"])
    for el in ("C", "O", "F", "Li"):
        assert np.allclose(atomic[f"{el}_at_pct"], truth[f"{el}_at_pct"], atol=2.0), el
    sums = atomic[[c for c in atomic if c.endswith("_at_pct")]].sum(axis=1)
    assert np.allclose(sums, 100.0)
    # species rows sum to the element totals, and LiF dominates F 1s in the inner layer
    inner = species[(species.step == 5) & (species.region == "F 1s")].set_index("species")
    assert inner.loc["LiF", "fraction_in_element"] > 0.8


def test_long_form_and_thickness_from_the_fluorine_profile(demo, result):
    atomic, _ = result
    long = d.xps_depth_long(atomic)
    assert set(long.element) == {"C", "O", "F", "Li"} and len(long) == 4 * len(atomic)
    top, bottom = d.layer_bounds(atomic["depth_nm"], atomic["F_at_pct"])
    lo, hi = demo.truth["interfaces_nm"]
    # coarse steps (2–6 nm apart): the halfway crossings land within one step of the interfaces
    assert top == pytest.approx(lo, abs=2.0) and bottom == pytest.approx(hi, abs=3.0)


def test_csv_round_trip(tmp_path, demo):
    rows = []
    for region, s in demo.data.items():
        for i in range(3):
            sp = s.isel(step=i)
            rows.append(pd.DataFrame({"region": region, "sputter_time_s": float(sp["sputter_time_s"]),
                                      "binding_energy_eV": sp["binding_energy_eV"].to_numpy(),
                                      "intensity": sp.to_numpy()}))
    f = tmp_path / "xps_depth.csv"
    pd.concat(rows).to_csv(f, index=False)
    series = d.read_xps_depth_csv(f)
    assert set(series) == set(demo.data) and series["C 1s"].sizes["step"] == 3
    atomic, _ = d.xps_depth_profile(series, rate_nm_s=0.05)
    truth = demo.truth["atomic"].iloc[:3]
    assert np.allclose(atomic["Li_at_pct"], truth["Li_at_pct"], atol=2.0)


def test_bad_inputs(demo):
    with pytest.raises(InvalidParameterError):
        d.xps_depth_profile(demo.data, rate_nm_s=0.0)
    with pytest.raises(InvalidParameterError):
        d.xps_depth_profile({"C 1s": demo.data["C 1s"].isel(step=0)})
    with pytest.raises(BattlabError):
        d.read_xps_depth_csv(b"region,time,be,counts\nC 1s,0,284,1\n", name="x.csv")
