"""EELS on generated spectra with known answers, and on the real Gatan carbon K-edge spectrum."""

import numpy as np
import pytest

from battlab.datasets.tem import make_eels_spectrum, make_eels_spectrum_image
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.tem import eels


@pytest.fixture(scope="module")
def spectrum():
    return make_eels_spectrum()


def test_energy_calibration_and_log_ratio(spectrum):
    cal, shift = eels.calibrate_energy(spectrum.data)
    assert shift == pytest.approx(spectrum.truth["zlp_shift_eV"], abs=0.02)
    assert "shifted" in cal.attrs["notes"][-1]
    res = eels.log_ratio_thickness(cal)
    # t/λ from ln(I_t/I_0) within 2 % of the generated 0.40
    assert res["t_over_lambda"] == pytest.approx(spectrum.truth["t_over_lambda"], rel=0.02)
    with pytest.raises(MissingDataError):
        eels.log_ratio_thickness(cal.sel(energy=cal["energy_eV"] > 100))


@pytest.mark.parametrize(("edge", "noise"), [("C K", True), ("O K", False)])
def test_single_edge_signal_and_background(edge, noise):
    # O K sits on ~5 counts per channel: with Poisson noise its 30 eV power-law fit is not
    # a known-answer test, so it is checked noiseless
    demo = make_eels_spectrum(edges=(edge,), noise=noise)
    cal, _ = eels.calibrate_energy(demo.data)
    res = eels.edge_signal(cal, edge, signal_width_eV=50)
    truth = demo.truth["edges"][edge]
    assert res["r"] == pytest.approx(3.0, abs=0.05)  # the generated A·E^-3 background
    assert res["signal"] == pytest.approx(truth["signal_50eV"], rel=0.05)
    assert eels.edge_onset(cal, edge) == pytest.approx(truth["onset_eV"], abs=1.0)


def test_li_k_map_follows_interface():
    demo = make_eels_spectrum_image()
    m = eels.edge_map(demo.data, "Li K", pre_window=(35, 52))
    assert m.dims == ("y", "x")
    profile = m.mean("y").to_numpy()
    np.testing.assert_allclose(profile / profile[:5].mean(), demo.truth["li_fraction"], atol=0.03)
    with pytest.raises(InvalidParameterError):
        eels.edge_map(demo.data, "Xx K")


def test_real_carbon_k_edge(real_data):
    pytest.importorskip("rsciio")
    from battlab.tem.io import open_tem

    spec = open_tem(real_data / "tem" / "ncempy_08_carbon.dm3")
    res = eels.edge_signal(spec, "C K", pre_window=(250, 280), signal_width_eV=50)
    # amorphous carbon: a clear C K edge above the power-law background (r between 2 and 6)
    assert res["signal"] > 0 and res["snr"] > 10 and 2 < res["r"] < 6
    assert 280 < eels.edge_onset(spec, "C K", pre_window=(250, 280)) < 292
    table = eels.edge_table(spec)
    assert table["edge"].tolist() == ["C K"]
    with pytest.raises(MissingDataError):
        eels.log_ratio_thickness(spec)  # a core-loss record has no zero loss


@pytest.mark.parametrize("method", ["nmf", "pca"])
def test_decomposition_separates_the_li_component(method):
    demo = make_eels_spectrum_image()
    maps, spectra, explained = eels.decompose_spectrum_image(demo.data, n_components=2, method=method)
    assert maps.dims == ("component", "y", "x") and spectra.sizes["component"] == 2
    profiles = maps.mean("y").to_numpy()
    # one component's abundance follows the generated Li fraction across the interface
    corr = [abs(np.corrcoef(p, demo.truth["li_fraction"])[0, 1]) for p in profiles]
    assert max(corr) > 0.98
    if method == "nmf":
        assert explained[0] < 0.05  # relative reconstruction error
        assert (spectra.values >= 0).all() and (maps.values >= 0).all()


def test_edge_shift_series_follows_a_moving_edge():
    import xarray as xr

    e = np.arange(140.0, 220.0, 0.1)
    shifts = np.linspace(0, 2.0, 6)  # the S L2,3 edge moves up by 2 eV
    rows = [1e7 * e ** -3.0 + np.where(e >= 165 + s, 50 * (np.clip(e, 165 + s, None) / (165 + s)) ** -2, 0)
            for s in shifts]
    series = xr.DataArray(np.array(rows), dims=("time", "energy"),
                          coords={"time_s": ("time", np.arange(6) * 10.0), "energy_eV": ("energy", e)})
    table = eels.edge_shift_series(series, "S L2,3", pre_window=(145, 160))
    np.testing.assert_allclose(table["shift_eV"], shifts, atol=0.1)  # within one channel
