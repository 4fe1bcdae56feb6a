"""The operando sensors app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pytest

from battlab.apps import APPS, SensorsApp
from battlab.datasets import make_eqcm


def _upload(widget, name, content: bytes):
    widget.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                     "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return SensorsApp()


def test_opens_on_eqcm_demo_with_li_mass_per_electron(app):
    assert app.banner.layout.display == "none", app.banner.value
    assert app.kind.value == "eqcm" and "EQCM" in app.status.value
    charge = app.result.cycles.loc[app.result.cycles["direction"] == "charge", "mass_per_electron_g_mol"]
    np.testing.assert_allclose(charge, 6.94, rtol=0.02)
    assert "m.p.e. (g/mol)" in app.table.value and "Li⁺" in app.table.value
    assert "Sauerbrey applies" in app.note.value
    for pane in (app.time_plot, app.x_plot, app.metrics_plot, app.extra_plot):
        assert pane.widget.children
    assert APPS["SensorsApp"][0] == "11_operando_sensors.ipynb"


def test_eqcm_inputs_change_the_numbers(app):
    before = app.result.aligned["mass_ng"].abs().max()
    rev = app.time_plot.revision
    app.area.value = 2 * app.area.value
    assert app.result.aligned["mass_ng"].abs().max() == pytest.approx(2 * before, rel=1e-9)
    assert app.time_plot.revision == rev + 1
    app.f0.value = 10.0  # C_f falls 4x
    assert app.result.aligned["mass_ng"].abs().max() == pytest.approx(before / 2, rel=1e-9)
    app.area.value = 0.0  # not set: a message, never a default
    assert "area" in app.banner.value
    app.f0.value, app.area.value = 5.0, 1.37
    assert app.banner.layout.display == "none"
    app.diss_limit.value = 0.05  # 5e-9 /Hz: even the rigid film now fails the check
    assert "viscoelastic warning" in app.note.value
    app.diss_limit.value = 4.0


def test_viscoelastic_demo_warns(app):
    app.demo_picker.value = "EQCM: soft (viscoelastic) film"
    app._load_demo(app.demo_picker.value)
    assert "viscoelastic warning" in app.note.value and "Sauerbrey masses are not valid" in app.note.value


def test_sensor_selector_switches_to_each_technique(app):
    app.kind.value = "dilatometry"
    assert app.boxes["dilatometry"].layout.display is None and app.boxes["eqcm"].layout.display == "none"
    assert "Electrode comparison" in app.table.value and "Sb (+110 %)" in app.table.value
    assert app.result.cycles["max_pct"].iloc[0] == pytest.approx(110.0, abs=0.1)
    app.thickness.value = 80.0  # twice as thick: half the relative expansion
    assert app.result.cycles["max_pct"].iloc[0] == pytest.approx(55.0, abs=0.1)

    app.kind.value = "stress"
    c = app.result.cycles
    assert c["max_compressive_GPa"].iloc[0] == pytest.approx(-1.75, rel=0.01)
    app.film_h.value = 216.0
    assert app.result.cycles["max_compressive_GPa"].iloc[0] == pytest.approx(-0.875, rel=0.01)
    rev = app.x_plot.revision
    app.x_axis.value = "potential"
    assert app.x_plot.revision == rev + 1

    app.kind.value = "acoustic"
    n = len(app.result.aligned)
    app.threshold.value = 60.0
    assert 0 < len(app.result.aligned) < n
    assert "cracking" in app.table.value
    app.clusters.value = 3
    assert set(app.result.aligned["cluster"]) == {0, 1, 2}
    app.clusters.value = 2
    app.threshold.value = 40.0

    # A raw waveform without cycling data: hits are detected, the note says they are not aligned.
    app.demo_picker.value = "AE: raw waveform (40 bursts)"
    app._load_demo(app.demo_picker.value)
    assert app.banner.layout.display == "none", app.banner.value
    assert len(app.result.aligned) == 40 and "not aligned on cycling" in app.note.value
    app.hdt.value = 5000.0  # a 5 ms hit definition time merges neighbouring bursts
    assert len(app.result.aligned) < 40
    app.hdt.value = 200.0


def test_bad_upload_shows_banner_and_app_keeps_working(app):
    app.kind.value = "eqcm"
    _upload(app.upload, "../../etc/passwd.csv", b"\x00\x01garbage" * 50)
    assert app.banner.layout.display == "block"
    assert "passwd.csv" in app.banner.value and "../" not in app.banner.value and "Traceback" not in app.banner.value
    _upload(app.upload, "nocols.csv", b"time (s),temperature (C)\n0,25\n1,26\n")
    assert "no a eqcm column" in app.banner.value
    rev = app.time_plot.revision
    app.area.value = 1.0
    assert app.time_plot.revision == rev + 1


def test_upload_sensor_then_cycling_file(tmp_path):
    from battlab.io import write_bdf_csv

    demo = make_eqcm()
    app = SensorsApp()
    csv = demo.data.sensor[["sensor_time_s", "frequency_shift_Hz", "dissipation_shift"]].rename(
        columns={"sensor_time_s": "Time (s)", "frequency_shift_Hz": "Δf3 (Hz)", "dissipation_shift": "ΔD3"})
    _upload(app.upload, "my_eqcm.csv", csv.to_csv(index=False).encode())
    # No potential/current in the file: the app asks for the cycling file.
    assert "now upload the cycling file" in app.banner.value
    write_bdf_csv(demo.data.echem, tmp_path / "cell.csv")
    _upload(app.echem_upload, "cell.csv", (tmp_path / "cell.csv").read_bytes())
    # The demo's crystal area is not carried over to a new sample: the app asks for it.
    assert app.area.value == 0.0 and "electrode area" in app.banner.value
    app.export_button.click()
    assert "nothing analysed yet" in app.banner.value
    app.area.value = 1.37
    assert app.banner.layout.display == "none", app.banner.value
    assert "my_eqcm.csv" in app.status.value and app.overtone.value == 3
    charge = app.result.cycles.loc[app.result.cycles["direction"] == "charge", "mass_per_electron_g_mol"]
    np.testing.assert_allclose(charge, 6.94, rtol=0.02)


def test_export_zip_has_aligned_table_and_provenance():
    app = SensorsApp()
    blob = app.export_zip()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        names = set(zf.namelist())
        prov = json.loads(zf.read("provenance.json"))
        aligned = zf.read("aligned.csv").decode().splitlines()[0].split(",")
    assert {"aligned.csv", "cycles.csv", "mpe_vs_potential.csv", "rigidity_check.csv", "provenance.json",
            "sensor_vs_time.html"} <= names
    assert {"test_time_s", "cycle", "charge_C", "mass_ng", "voltage_V"} <= set(aligned)
    assert prov["parameters"]["area_cm2"] == 1.37 and prov["parameters"]["clock_offset_s"] == 120.0
    assert prov["analysis"] == "battlab.sensors.eqcm"
