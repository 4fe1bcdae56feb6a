"""Optional progress callbacks of the long loops: they report fractions that rise to 1."""

import numpy as np

from battlab.datasets.xrm import make_packed_spheres
from battlab.xrm import local_thickness, tortuosity
from battlab.xrm.workflow import analyse_volume


def test_loops_report_rising_fractions_ending_at_one():
    demo = make_packed_spheres(shape=(32, 32, 32), seed=1)
    seen = {"lt": [], "tau": [], "all": []}
    labels = np.asarray(demo.truth["labels"])
    local_thickness(labels, phase=0, voxel_size_um=0.5, on_progress=seen["lt"].append)
    tortuosity(labels, axes=("z", "x"), on_progress=seen["tau"].append)
    res = analyse_volume(demo.data, on_progress=lambda f, msg: seen["all"].append((f, msg)))
    for values in (seen["lt"], seen["tau"], [f for f, _ in seen["all"]]):
        assert values[-1] == 1.0 and np.all(np.diff(values) >= 0) and len(values) > 3
    assert 0.5 in seen["tau"]  # one of two axes done
    assert {msg for _, msg in seen["all"]} >= {"connectivity…", "done"}
    assert res.tables["tortuosity"]["tortuosity_factor"].notna().all()
