"""Spectra results on the cycling timeline: G band and edge against capacity and SOC."""

import numpy as np
import pytest

from battlab.correlate.timeline import charge_timeline
from battlab.datasets.spectra import make_raman_graphite_series, make_xas_mixture_series, make_xps_sei
from battlab.errors import MissingDataError
from battlab.series import ECHEM_COLUMNS
from battlab.spectra.workflow import analyse_spectra


def _x(table, echem):
    """Lithiation x from the capacity column (the generators' charge / lithiation charge)."""
    return -table["capacity_mAh"].to_numpy() / -float(charge_timeline(echem)["charge_mAh"].min())


def test_raman_g_band_vs_capacity_follows_the_law():
    demo = make_raman_graphite_series(n_spectra=30)
    echem = demo.truth["echem"]
    result = analyse_spectra(demo.data, echem=echem)
    d_to_g = result.tables["d_to_g"]
    x = _x(d_to_g, echem)
    np.testing.assert_allclose(x, demo.truth["bands"]["x_in_LixC6"], atol=1e-6)
    law = 1580.0 + 22.0 * np.minimum(x / 0.5, 1.0)
    assert np.max(np.abs(d_to_g["g_center_cm1"] - law)) < 0.5  # cm⁻¹, as the position test without echem
    np.testing.assert_allclose(d_to_g["id_ig"], 0.15 + 0.35 * x, rtol=0.03)  # I_D/I_G heights, 3 %
    for key in ("bands", "d_to_g", "pca_scores"):
        assert set(ECHEM_COLUMNS) <= set(result.tables[key].columns), key
    assert "capacity_mAh" not in result.tables["pca_components"]
    assert [len(t) for t in result.echem.values()] == [30]
    assert result.options["alignment"]["time_basis"] == "unix"


def test_xas_edge_and_lcf_vs_capacity():
    demo = make_xas_mixture_series(n_spectra=20)
    echem = demo.truth["echem"]
    result = analyse_spectra(demo.data, echem=echem, references=demo.truth["references"])
    lcf = result.tables["lcf"]
    x = _x(lcf, echem)
    # Generator: Mn4+ fraction 0.5 + 0.45 x; LCF within 2 percentage points (issue tolerance).
    assert np.max(np.abs(lcf["Mn4+_fraction"] - (0.5 + 0.45 * x))) < 0.02
    edge = result.tables["edge"]
    shift = edge["edge_shift_eV"].to_numpy()
    # The edge shift follows x: strongly correlated along the capacity axis.
    assert np.corrcoef(shift, _x(edge, echem))[0, 1] > 0.95


def test_xps_without_acquisition_times_needs_an_offset():
    demo = make_xps_sei()
    echem = make_raman_graphite_series(n_spectra=3).truth["echem"]
    with pytest.raises(MissingDataError, match="clock offset"):
        analyse_spectra(demo.data, echem=echem)  # no acquisition time: the test clock from 0 s, before the record
    result = analyse_spectra(demo.data, echem=echem, clock_offset_s=5000.0)
    comp = result.tables["composition"]
    assert result.options["alignment"] == {"time_basis": "test", "clock_offset_s": 5000.0}
    assert (comp["test_time_s"] == 5000.0).all() and comp["voltage_V"].notna().all()


def test_raman_workflow_reuses_its_d_and_g_band_fits_for_the_ratio():
    """The workflow's I_D/I_G comes from its band table; it equals fitting D and G again (1e-12)."""
    import pandas as pd

    from battlab.spectra.raman import d_to_g_ratio

    demo = make_raman_graphite_series(n_spectra=12)
    result = analyse_spectra(demo.data)
    again = d_to_g_ratio(result.processed[next(iter(result.processed))], model=result.options.get("model", "lorentzian"))
    shown = result.tables["d_to_g"]
    pd.testing.assert_frame_equal(shown[again.columns], again, check_exact=False, rtol=1e-12)
    assert shown.attrs["battlab"]["analysis"] == "battlab.spectra.d_to_g_ratio"
