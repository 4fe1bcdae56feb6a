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


def _vamas(series: dict, *, etch_ids: bool) -> bytes:
    """A VAMAS file (ISO 14976, NORM/REGULAR, binding-energy blocks) with one block per region and step."""
    n = next(iter(series.values())).sizes["step"]
    head = ["VAMAS Surface Chemical Analysis Standard Data Transfer Format 1988 May 4", "battlab test lab",
            "synthetic", "operator", "XPS depth profile", "1", "written by battlab tests", "NORM", "REGULAR",
            str(len(series)), "0", "0", "0", "0", "0", str(len(series) * n)]
    blocks = []
    for i in range(n):  # instruments write all regions of one etch level, then the next level
        for region, s in series.items():
            sp = s.isel(step=i)
            be = sp["binding_energy_eV"].to_numpy()
            t = float(sp["sputter_time_s"])
            species, transition = region.split()
            y = sp.to_numpy()
            block_id = f"{region} / Etch Time {t:g} s" if etch_ids else f"{region} level {i}"
            blocks += [block_id, "SEI sample", "2024", "3", "12", "10", "45", "0", "1", "0", "XPS", "Al", "1486.6",
                       "200", "1E+37", "1E+37", "54.7", "0", "FAT", "20", "1", "4.5", "0", "1E+37", "1E+37", "0", "0",
                       species, transition, "-1", "binding energy", "eV", f"{be[0]:.6f}", f"{be[1] - be[0]:.6f}", "1",
                       "counts", "d", "pulse counting", "0.1", "5", "0", "0", "0", "0", "0", str(y.size),
                       f"{y.min():g}", f"{y.max():g}", *(f"{v:g}" for v in y)]
    return ("\n".join(head + blocks + ["end of experiment"]) + "\n").encode()


def test_vamas_depth_series_with_etch_times(tmp_path, demo):
    sub = {r: s.isel(step=slice(0, 4)) for r, s in demo.data.items()}
    path = tmp_path / "depth.vms"
    path.write_bytes(_vamas(sub, etch_ids=True))
    series = d.read_xps_depth(path)
    assert set(series) == set(sub)
    assert np.allclose(series["Li 1s"]["sputter_time_s"], sub["Li 1s"]["sputter_time_s"])
    assert np.allclose(series["C 1s"].isel(step=2), sub["C 1s"].isel(step=2))
    atomic, _ = d.xps_depth_profile(series, rate_nm_s=0.05)
    truth = demo.truth["atomic"].iloc[:4]
    for el in ("C", "O", "F", "Li"):
        assert np.allclose(atomic[f"{el}_at_pct"], truth[f"{el}_at_pct"], atol=2.0), el


def test_vamas_without_etch_times_needs_the_step_time(tmp_path, demo):
    from battlab.errors import MissingDataError

    sub = {r: s.isel(step=slice(0, 2)) for r, s in demo.data.items()}
    data = _vamas(sub, etch_ids=False)
    with pytest.raises(MissingDataError, match="time_per_step_s"):
        d.read_xps_depth(data, name="x.vms")
    series = d.read_xps_depth(data, name="x.vms", time_per_step_s=40.0)
    assert series["O 1s"]["sputter_time_s"].values.tolist() == [0.0, 40.0]
