"""Properties of the depth scale and the interface finder over many drawn cases."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

import battlab.depth as d


@settings(max_examples=40, deadline=None)
@given(s0=st.floats(5.0, 500.0), p=st.floats(0.0, 1.5), depths=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5))
def test_depth_and_energy_round_trip(s0, p, depths):
    e = np.linspace(50.0, 3000.0, 60)
    table = d.stopping_table(e, s0 * (2727.0 / e) ** p)
    x_max = float(d.energy_to_depth(100.0, table))
    x = np.asarray(depths) * x_max
    energy = d.depth_to_energy(x, table)
    assert np.all(np.diff(energy[np.argsort(x)]) <= 1e-9)  # deeper never leaves with more energy
    assert np.allclose(d.energy_to_depth(energy, table), x, atol=1e-3 * max(x_max, 1e-3))


@settings(max_examples=40, deadline=None)
@given(z=st.floats(5.0, 45.0), sigma=st.floats(0.2, 3.0), low=st.floats(0.0, 100.0), high=st.floats(200.0, 1e5),
       falling=st.booleans(), method=st.sampled_from(["half", "gradient"]))
def test_one_erf_step_is_found_within_a_tenth_of_its_width(z, sigma, low, high, falling, method):
    x = np.arange(0.0, 50.0, 0.05)
    step = 0.5 * (1 + erf((x - z) / (np.sqrt(2) * sigma)))
    y = low + (high - low) * (1 - step if falling else step)
    found = d.find_interfaces(x, y, method=method)
    assert len(found) == 1
    assert abs(found.position.iloc[0] - z) < max(0.1 * sigma, 0.02)
    assert found.direction.iloc[0] == ("falling" if falling else "rising")
