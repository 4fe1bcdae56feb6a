"""Dilatometry: relative thickness change and reversible / irreversible expansion per cycle."""

import numpy as np
import pandas as pd
import pytest

from battlab.datasets import make_dilatometry
from battlab.datasets.sensors import DILATOMETRY_ELECTRODES, make_dilatometry_pair
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.sensors import analyze, dilatometry


@pytest.fixture(scope="module", params=list(DILATOMETRY_ELECTRODES))
def result(request):
    demo = make_dilatometry(electrode=request.param)
    res = analyze("dilatometry", demo.data.sensor, demo.data.echem, initial_thickness_um=demo.truth[
        "initial_thickness_um"], clock_offset_s=demo.truth["clock_offset_s"])
    return demo, res


def test_per_cycle_expansion_matches_truth(result):
    demo, res = result
    truth = demo.truth["cycles"]
    assert list(res.cycles["cycle"]) == list(truth["cycle"])
    # Tolerance 0.1 percentage points (displacement noise 5 nm on a 40 µm electrode).
    for col in ("max_pct", "end_pct", "breathing_pct", "reversible_expansion_pct", "irreversible_expansion_pct",
                "cumulative_irreversible_pct"):
        np.testing.assert_allclose(res.cycles[col], truth[col], atol=0.1, err_msg=col)


def test_first_cycle_peak_and_residual_as_in_the_seed(result):
    demo, res = result
    first = res.cycles.iloc[0]
    assert first["max_pct"] == pytest.approx(demo.truth["peak_expansion_pct"], abs=0.1)
    assert first["irreversible_expansion_pct"] == pytest.approx(demo.truth["first_cycle_residual_pct"], abs=0.1)


def test_compare_electrodes():
    pair = make_dilatometry_pair()
    summaries = {}
    for run in pair.data:
        t = pair.truth[run.label]
        summaries[run.label] = analyze("dilatometry", run.sensor, run.echem,
                                       initial_thickness_um=t["initial_thickness_um"],
                                       clock_offset_s=t["clock_offset_s"]).cycles
    table = dilatometry.compare_electrodes(summaries).set_index("electrode")
    assert table.loc["Sb (+110 %)", "first_cycle_peak_pct"] == pytest.approx(110.0, abs=0.1)
    assert table.loc["Sb2Se3-like (+40 %)", "first_cycle_peak_pct"] == pytest.approx(40.0, abs=0.1)
    assert table.loc["Sb (+110 %)", "first_cycle_irreversible_pct"] == pytest.approx(40.0, abs=0.1)
    # Breathing fades with capacity in the generator: strongly correlated.
    assert (table["breathing_capacity_correlation"] > 0.95).all()


def test_strain_column_and_inputs():
    t = pd.DataFrame({"strain_pct": [0.0, 5.0, 2.0]})
    out = dilatometry.relative_thickness_change(t, initial_thickness_um=10.0)
    np.testing.assert_allclose(out["thickness_um"], [10.0, 10.5, 10.2])
    with pytest.raises(InvalidParameterError, match="initial electrode thickness"):
        dilatometry.relative_thickness_change(pd.DataFrame({"displacement_um": [0.0, 1.0]}), initial_thickness_um=None)
    with pytest.raises(InvalidParameterError):
        dilatometry.relative_thickness_change(t, initial_thickness_um=-1.0)
    with pytest.raises(MissingDataError):
        dilatometry.summarize_dilatometry(pd.DataFrame({"x": [1]}))
