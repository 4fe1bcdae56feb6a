"""Figure builders return HoloViews objects holding the analysed numbers."""

import holoviews as hv
import numpy as np
import pytest

from battlab.datasets import make_acoustic, make_ae_waveform, make_dilatometry, make_eqcm, make_moss
from battlab.plot import sensors as P
from battlab.sensors import analyze


def _results():
    e = make_eqcm()
    d = make_dilatometry()
    m = make_moss()
    a = make_acoustic()
    mt = m.truth
    return {
        "eqcm": analyze("eqcm", e.data.sensor, e.data.echem, area_cm2=1.37, clock_offset_s=120.0),
        "dilatometry": analyze("dilatometry", d.data.sensor, d.data.echem, initial_thickness_um=40.0,
                               clock_offset_s=60.0),
        "stress": analyze("stress", m.data.sensor, m.data.echem, clock_offset_s=mt["clock_offset_s"],
                          **{k: mt[k] for k in ("substrate_modulus_GPa", "substrate_poisson",
                                                "substrate_thickness_um", "film_thickness_nm", "distance_m",
                                                "incidence_angle_deg")}),
        "acoustic": analyze("acoustic", a.data.sensor, a.data.echem, clock_offset_s=45.0),
    }


@pytest.fixture(scope="module")
def results():
    return _results()


@pytest.mark.parametrize("kind", ["eqcm", "dilatometry", "stress", "acoustic"])
def test_figures_for_every_sensor(results, kind):
    r = results[kind]
    timeline = P.signal_vs_time(r.aligned, kind)
    assert isinstance(timeline, hv.Layout) and len(timeline) == 2  # signal above, potential below
    sig = timeline[0]
    col = P.SIGNALS[kind][0]
    assert sig.vdims[0].name == col
    assert np.nanmax(sig.dimension_values(1)) == pytest.approx(np.nanmax(r.aligned[col]), rel=1e-9)
    for x in P.X_AXES:
        fig = P.signal_vs_x(r.aligned, kind, x=x)
        assert isinstance(fig, hv.Overlay) and len(fig) == r.aligned["cycle"].max()
    assert isinstance(P.cycle_metrics(r.cycles, kind), (hv.Overlay, hv.Bars))
    hv.render(timeline, backend="bokeh")  # renders without errors


def test_extra_figures(results):
    assert isinstance(P.mpe_vs_potential(results["eqcm"].extra["mpe_vs_potential"]), hv.Overlay)
    assert isinstance(P.hit_clusters(results["acoustic"].aligned), hv.Overlay)
    comp = P.compare_electrodes({"A": results["dilatometry"].aligned, "B": results["dilatometry"].aligned})
    assert len(comp) == 2
    wave = make_ae_waveform(n_hits=5)
    unaligned = analyze("acoustic", wave.data.sensor, None)
    assert isinstance(P.signal_vs_x(unaligned.aligned, "acoustic", x="time"), hv.Overlay)
    assert isinstance(P.signal_vs_x(unaligned.aligned, "acoustic", x="charge"), hv.Text)  # says why it is empty
    assert isinstance(P.cycle_metrics(unaligned.cycles, "acoustic"), hv.Text)
