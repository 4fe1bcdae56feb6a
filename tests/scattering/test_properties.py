"""Property tests: readers fed damaged bytes raise only battlab errors; Parratt stays a reflectivity."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from battlab.errors import BattlabError
from battlab.scattering import parratt, read_reflectivity, read_saxs

GOOD = ("# q (1/A) I(q) sigma\n" + "\n".join(f"{q:.5f} {100 * np.exp(-(q * 40) ** 2 / 3):.6g} 0.5"
                                           for q in np.linspace(0.005, 0.2, 30)) + "\n").encode()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_curve_files_raise_only_battlab_errors(data):
    raw = bytearray(GOOD)
    for _ in range(data.draw(st.integers(1, 12))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    for reader in (read_saxs, read_reflectivity):
        try:
            curve = reader(bytes(raw[:cut]), name="mutated.dat")
        except BattlabError:
            continue
        q = curve["q_inv_A"].to_numpy()
        assert q.size >= 5 and np.all(q > 0) and np.all(np.diff(q) >= 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 500), st.floats(-2, 10), st.floats(0, 20)), min_size=0, max_size=4),
       st.floats(-1, 8), st.floats(-1, 8))
def test_parratt_is_between_0_and_1_and_total_below_the_edge(layers, front, back):
    d = [0.0] + [t for t, _, _ in layers] + [0.0]
    rho = [front] + [s for _, s, _ in layers] + [back]
    sig = [0.0] + [r for _, _, r in layers] + [3.0]
    q = np.linspace(1e-4, 0.3, 200)
    r = parratt(q, d, rho, sig)
    assert np.all(np.isfinite(r)) and np.all(r >= 0) and np.all(r <= 1 + 1e-9)
