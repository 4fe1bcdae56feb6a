"""The depth readers fed mutated bytes: they return or raise battlab's own errors, nothing else."""

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import battlab.depth as d
from battlab.errors import BattlabError


def _seeds():
    e = np.arange(2000.0, 2100.0, 5.0)
    ndp = pd.DataFrame({"channel": np.arange(e.size), "counts": np.arange(e.size) % 7}).to_csv(index=False)
    stop = "Energy (MeV),dE/dx (keV/um)\n0.1,200\n1.0,80\n3.0,50\n"
    sims = pd.DataFrame({"Time (s)": [0, 2, 4, 6], "LiF-": [1, 5, 9, 2], "C2H-": [9, 4, 1, 0]}).to_csv(index=False)
    rows = [{"region": "C 1s", "sputter_time_s": t, "binding_energy_eV": 280 + 0.5 * k, "intensity": 100 + k}
            for t in (0, 60) for k in range(12)]
    xps = pd.DataFrame(rows).to_csv(index=False)
    from battlab.datasets.depth import make_xps_depth_series
    from tests.depth.test_xps_depth import _vamas

    demo = make_xps_depth_series(sputter_time_s=(0, 60), step_eV=0.5)
    vms = _vamas(demo.data, etch_ids=True)
    return {
        "vamas": (vms, lambda b: d.read_xps_depth(b, name="x.vms")),
        "ndp": (ndp.encode(), lambda b: d.read_ndp_spectra(b, name="n.csv", offset_keV=0.0, gain_keV_per_channel=3.0)),
        "stopping": (stop.encode(), lambda b: d.read_stopping_table(b, name="s.csv")),
        "sims": (sims.encode(), lambda b: d.read_sims_profile(b, name="p.csv")),
        "xps": (xps.encode(), lambda b: d.read_xps_depth_csv(b, name="x.csv")),
    }


SEEDS = _seeds()


def _mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for kind, pos, value in ops:
        if not buf:
            break
        i = pos % len(buf)
        if kind == 0:
            buf[i] = value
        elif kind == 1:
            del buf[i:i + 1 + value % 8]
        elif kind == 2:
            buf[i:i] = bytes([value]) * (1 + value % 5)
        else:
            buf = buf[:i]
    return bytes(buf)


@pytest.mark.parametrize("reader", list(SEEDS))
def test_seeds_read(reader):
    data, read = SEEDS[reader]
    assert read(data) is not None


@pytest.mark.parametrize("reader", list(SEEDS))
@settings(max_examples=int(os.environ.get("BATTLAB_FUZZ_EXAMPLES", "60")), deadline=None)
@given(ops=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                    max_size=6))
def test_mutated_bytes_raise_only_battlab_errors(reader, ops):
    data, read = SEEDS[reader]
    try:
        read(_mutate(data, ops))
    except BattlabError:
        pass
