"""Impedance figures and robustness of the numeric routines on arbitrary input."""

import holoviews as hv
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from battlab.datasets import eis as demos
from battlab.echem import eis
from battlab.errors import BattlabError
from battlab.plot import eis as P


@pytest.fixture(scope="module")
def spectrum():
    return eis.impedance_from_table(demos.make_two_arc(noise=0.003).data)


def test_nyquist_has_equal_axes_and_minus_zimag_up(spectrum):
    f, z = spectrum
    fig = P.nyquist(f, z, fit=z)
    assert fig.opts.get("plot").kwargs["data_aspect"] == 1
    data = fig.get(0)
    np.testing.assert_allclose(data.dimension_values(1), -z.imag)  # −Z″ upward: positive for arcs
    plot = hv.render(fig)
    assert plot.match_aspect and plot.aspect_scale == 1  # one ohm is as long on both axes


def test_other_figures_render(spectrum):
    f, z = spectrum
    for fig in (P.bode(f, z, fit=z), P.drt(eis.drt(f, z)), P.kk_residuals(eis.kramers_kronig(f, z)),
                P.parameter_trend(pd.DataFrame({"soc": [0.1, 0.5], "R1_ohm": [3.0, 2.0],
                                                "R1_ohm_se": [0.1, 0.1]}), ["R1_ohm"], x="soc", current=0.5),
                P.parameter_trend(None, ["R1_ohm"]), P.drt(None), P.nyquist([], [])):
        assert hv.render(fig) is not None


finite = st.floats(-1e4, 1e4, allow_nan=False)


@pytest.mark.filterwarnings("ignore::battlab.errors.BattlabWarning")
@given(st.lists(st.tuples(st.floats(1e-3, 1e6), finite, finite), min_size=0, max_size=40))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_analyses_raise_only_battlab_errors(points):
    f = np.array([p[0] for p in points])
    z = np.array([complex(p[1], p[2]) for p in points])
    for call in (lambda: eis.kramers_kronig(f, z), lambda: eis.drt(f, z),
                 lambda: eis.guess_parameters("R0-p(R1,CPE1)-W1", f, z),
                 lambda: eis.EquivalentCircuit("R0-p(R1,C1)").fit(f, z)):
        try:
            with np.errstate(all="ignore"):
                call()
        except BattlabError:
            pass
