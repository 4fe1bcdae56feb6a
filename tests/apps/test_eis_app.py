"""The impedance app, driven headless by setting widget values (no browser).

Known answers: the app's fit of the Randles demo recovers the generator's parameters
within 2 % (0.3 % noise); series mode reproduces R_ct(SOC) within 3 %.
"""

import datetime
import io
import json
import zipfile

import holoviews as hv
import numpy as np
import pytest

from battlab.apps import APPS, EISApp
from battlab.datasets import eis as demos


def _upload(app, name, content: bytes):
    app.upload.value = ({"name": name, "type": "", "size": len(content),
                         "content": memoryview(content), "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return EISApp()


def test_registered_in_gallery():
    assert APPS["EISApp"][0] == "03_impedance.ipynb"


def test_opens_on_demo_with_fit(app):
    assert app.banner.layout.display == "none"
    assert app.circuit.value == "R0-p(R1,CPE1)-W1"
    truth = demos.make_randles().truth["parameters"]
    fitted = dict(zip(app.model.circuit_.param_names, app.model.parameters_))
    for name, value in truth.items():
        assert fitted[name] == pytest.approx(value, rel=0.02), name
    assert "χ²" in app.table.value and "Lin-KK passes" in app.table.value
    assert "DRT peaks" in app.table.value
    for pane in (app.nyquist_plot, app.bode_plot, app.drt_plot, app.kk_plot, app.residual_plot):
        assert pane.widget.children, "every plot shows something"
    # Fit residuals of the demo (0.3 % noise) scatter within a few percent of |Z|.
    resid = [el for el in app.residual_plot.object if isinstance(el, hv.Curve)]
    assert len(resid) == 2 and all(np.abs(el.dimension_values(1)).max() < 2.0 for el in resid)
    assert app.series_box.layout.display == "none"  # one spectrum: no series controls


def test_bad_circuit_shows_banner_and_app_recovers(app):
    app.circuit.value = "R0-p(R1,CPE1"
    assert app.banner.layout.display == "block"
    assert "p(a,b)" in app.banner.value and "Traceback" not in app.banner.value
    assert "invalid" in app.circuit_check.value
    app.circuit.value = "R0-p(R1,C1)"
    assert app.banner.layout.display == "none"
    assert list(app._param_rows) == ["R0", "R1", "C1"]
    assert app.model.circuit == "R0-p(R1,C1)"
    app.circuit.value = "R0-p(R1,CPE1)-W1"


def test_freeze_checkbox_holds_a_parameter(app):
    val, frz, _ = app._param_rows["CPE1_alpha"]
    val.value = 0.8
    frz.value = True
    app.fit_button.click()
    assert app.model.parameters_["CPE1_alpha"] == 0.8
    assert app.model.frozen_["CPE1_alpha"]
    assert "yes" in app.table.value  # the results table marks it frozen
    frz.value = False
    app.fit_button.click()
    assert app.model.parameters_["CPE1_alpha"] == pytest.approx(0.9, rel=0.02)


def test_parameter_slider_redraws_the_model_without_fitting(app):
    app.fit_button.click()

    def r1():
        return dict(zip(app.model.circuit_.param_names, app.model.parameters_))["R1"]

    fitted_r1 = r1()
    val, _, _ = app._param_rows["R1"]
    slider = app._param_sliders["R1"]
    assert slider.value == pytest.approx(val.value, rel=1e-3)  # slider follows the fit
    rev = app.nyquist_plot.revision
    slider.value = 2 * fitted_r1
    assert val.value == pytest.approx(2 * fitted_r1, rel=1e-3)
    assert app.nyquist_plot.revision == rev + 1 and not app.fit_ok  # one redraw, model as set
    # The Nyquist frame follows the measured points, so a trial model patches the figure on
    # show; every measured point stays inside the equal-scale frame.
    patched = app.nyquist_plot.patched
    slider.value = 1.5 * fitted_r1
    assert app.nyquist_plot.patched == patched + 1
    f, z = app.current
    frame = app.nyquist_plot.model
    assert frame.x_range.start <= z.real.min() and frame.x_range.end >= z.real.max()
    assert frame.y_range.start <= (-z.imag).min() and frame.y_range.end >= (-z.imag).max()
    assert "press Fit" in app.status.value
    # Typing a value far outside the slider's range re-centres the range on it.
    val.value = 1000 * fitted_r1
    assert slider.min <= np.log10(val.value) <= slider.max
    app.fit_button.click()  # fitting from there converges back to the demo's R1
    assert r1() == pytest.approx(fitted_r1, rel=1e-3)
    assert app._param_sliders["CPE1_alpha"].value == pytest.approx(app.model.parameters_["CPE1_alpha"], abs=0.005)


def test_frequency_marker_is_the_same_point_on_nyquist_and_bode(app):
    f, z = app.current
    app.marker_f.value = 10.0
    k = int(np.argmin(np.abs(np.log10(f) - 1.0)))
    marked = [el for el in app.nyquist_plot.object if el.label == "marked f"]
    assert len(marked) == 1 and marked[0].data.iloc[0, 0] == pytest.approx(z[k].real)
    assert marked[0].data.iloc[0, 2] == pytest.approx(f[k]), "f on hover"
    bode_marks = [el for panel in app.bode_plot.object for el in panel if el.label == "marked f"]
    assert len(bode_marks) == 2 and bode_marks[0].data.iloc[0, 0] == pytest.approx(f[k])
    assert f"f = {f[k]:.4g} Hz" in app.marker_readout.value


def test_weighting_lambda_and_threshold_change_results(app):
    chi = app.model.chi_squared_
    app.weighting.value = "unit"
    assert app.model.chi_squared_ != chi
    app.weighting.value = "modulus"
    rev = app.drt_plot.revision
    app.auto_lambda.value = False
    app.lam.value = 1e-1
    assert app.drt_result.lambda_ == pytest.approx(1e-1) and app.drt_result.lambda_method == "user"
    assert app.drt_plot.revision > rev
    app.auto_lambda.value = True
    assert app.drt_result.lambda_method == "GCV"
    app.kk_threshold.value = 0.1  # 0.3 % noise cannot pass a 0.1 % threshold
    assert "FAILS" in app.table.value
    app.kk_threshold.value = 2.0
    assert "passes" in app.table.value


def test_diffusion_coefficient_from_inputs(app):
    assert app.diffusion_coefficient() is None  # inputs not set: no silent default
    app.molar_volume.value, app.area.value, app.dEdx.value = 20.0, 1.0, -0.5
    sigma = app.model.parameters_["W1_sigma_ohm_s^-0.5"]
    assert app.diffusion_coefficient() == pytest.approx(
        0.5 * (20.0 * 0.5 / (96485.33212 * sigma)) ** 2)
    assert "cm²/s" in app.table.value


def test_export_contains_fit_drt_and_provenance(app):
    data = app.export_zip()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        assert {"fit_parameters.csv", "spectrum.csv", "drt.csv", "drt_peaks.csv",
                "kk_residuals.csv", "provenance.json"} <= names
        prov = json.loads(zf.read("provenance.json"))
        assert prov["parameters"]["circuit"] == "R0-p(R1,CPE1)-W1"
        assert "z_real_fit_ohm" in zf.read("spectrum.csv").decode()


def test_garbage_upload_shows_message_and_app_keeps_working(app):
    _upload(app, "junk.csv", b"\x00\x01garbage" * 50)
    assert app.banner.layout.display == "block" and "Traceback" not in app.banner.value
    rev = app.nyquist_plot.revision
    app.fit_button.click()
    assert app.nyquist_plot.revision == rev + 1


def test_series_mode_fits_rct_along_soc():
    app = EISApp()
    app.demo_picker.value = "200 spectra along SOC (series)"
    app.demo_button.click()
    assert app.series_box.layout.display == "flex" and app.spectrum.max == 199
    assert app.trend_x.value == "soc"
    app.series_button.click()
    table = app.series
    assert len(table) == 200 and table["success"].all()
    np.testing.assert_allclose(table["R1_ohm"], demos.rct_soc_curve(table["soc"]), rtol=0.03)
    rev = app.nyquist_plot.revision
    app.spectrum.value = 120
    assert app.nyquist_plot.revision > rev
    assert app.model.parameters_["R1_ohm"] == pytest.approx(
        demos.rct_soc_curve(table["soc"].iloc[120]), rel=0.03)
    assert "series_fit" in app._results()
