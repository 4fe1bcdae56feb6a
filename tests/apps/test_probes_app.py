"""The probes app (SECM approach curves, probe maps, element maps), driven headless."""

import datetime
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import tifffile

from battlab.apps.probes import ProbesApp
from battlab.datasets.elements import make_nmc_element_maps
from battlab.datasets.probes import make_approach_curve

CURVES = "SECM approach curves: conductor, insulator, κ = 0.3, 1, 3"
SECM_MAP = "SECM map: insulating film with 3 active spots of known k"
SICM = "SICM: topography and ion current of two particles"
ESM = "ESM: strain amplitude and phase of fast grains"
EDS = "EDS maps: NMC Ni-rich core / Mn-rich shell + shifted SEM"


def _demo(app, name):
    app.demo_picker.value = name
    app.demo_button.click()
    assert app.banner.layout.display == "none", app.banner.value


def _upload(widget, name, content: bytes):
    widget.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                     "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return ProbesApp()


@pytest.mark.slow
def test_opens_on_approach_curves_and_recovers_kappa(app):
    assert app.mode == "approach" and app.banner.layout.display == "none"
    fits = app.fits.set_index("curve")
    for name, truth in app.truth["curves"].items():
        assert abs(fits.loc[name, "d0_um"] - truth["d0_um"]) < 0.05 * truth["radius_um"]
        if truth["kind"] == "kinetic":
            assert fits.loc[name, "kappa"] == pytest.approx(truth["kappa"], rel=0.1)
    assert "κ" in app.table.value and app.main_plot.widget.children
    # a control changes the result: forcing the conductor model worsens the κ = 0.3 fit
    rms = fits.loc["kinetic κ=0.3", "rmse"]
    app.model.value = "conductor"
    assert app.fits.set_index("curve").loc["kinetic κ=0.3", "rmse"] > 5 * rms
    app.model.value = "auto"


@pytest.mark.slow
def test_secm_map_rates_and_active_sites(app):
    _demo(app, SECM_MAP)
    assert app.mode == "map" and app.tabs.selected_index == 1
    active = app.tables["active_summary"].iloc[0]
    assert active["n_sites"] == 3
    assert active["active_fraction"] == pytest.approx(app.truth["active_fraction"], abs=0.005)
    panes = (app.main_plot, app.second_plot, app.third_plot)
    revisions = [p.revision for p in panes]
    app.threshold.value = 0.03  # only the fastest spot (0.05 cm/s) stays active
    assert app.tables["active_summary"].iloc[0]["n_sites"] == 1
    # The threshold enters only the site table: the unchanged maps are not drawn and sent again.
    assert [p.revision for p in panes] == revisions
    _demo(app, SICM)
    assert app.tables["active_summary"].iloc[0]["units"] == "nm"  # the threshold is in the map's unit here
    app.levelling.value = "plane"
    assert app.banner.layout.display == "none", app.banner.value
    assert "plane" in str(app.map_result["levelled"].attrs["levelling"])
    _demo(app, ESM)
    # the threshold starts halfway between the 5th and 95th percentiles: the fast grains' area
    active = app.tables["active_summary"].iloc[0]
    assert active["units"] == "pm" and active["active_fraction"] == pytest.approx(app.truth["active_fraction"], abs=0.01)


@pytest.mark.slow
def test_element_maps_ratio_phases_registration_and_export(app):
    _demo(app, EDS)
    assert app.mode == "elements" and app.tabs.selected_index == 2
    reg = app.tables["registration"].iloc[0]
    dy, dx = app.truth["sem_shift_px"]
    assert reg["shift_y_px"] == pytest.approx(-dy, abs=0.5) and reg["shift_x_px"] == pytest.approx(-dx, abs=0.5)
    assert app.tables["ratio_summary"].iloc[0]["ratio"] == "Ni/Mn"
    app.numerator.value, app.denominator.value = "F", "C"
    assert app.tables["ratio_summary"].iloc[0]["median"] == pytest.approx(0.5, rel=0.05)
    payload = app.export_zip()
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        names = zf.namelist()
        prov = json.loads(zf.read("provenance.json"))
    assert "ratio_maps.csv" in names and "phases.csv" in names
    assert prov["parameters"]["ratio"] == "F/C"


@pytest.mark.slow
def test_uploads_in_each_tab(app, tmp_path):
    # approach curve (pA, nm in the header)
    d = make_approach_curve(kind="kinetic", kappa=1.0)
    text = "Distance (nm),Current (pA)\n" + "\n".join(f"{a * 1e3},{b * 1e3}" for a, b in
                                                     zip(d.data["distance_um"], d.data["current_nA"], strict=True))
    app.tabs.selected_index = 0
    _upload(app.upload, "curve.csv", text.encode())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.mode == "approach" and app.fits.iloc[0]["kappa"] == pytest.approx(1.0, rel=0.1)
    # element maps as a multi-page TIFF: the reader asks for names, the app shows that message
    maps = make_nmc_element_maps(size_px=64).data["maps"]
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tw:
        for e in maps["element"].values:
            tw.write(maps.sel(element=e).values.astype("float32"), description=str(e), metadata=None)
    app.tabs.selected_index = 2
    _upload(app.upload, "eds.tif", buf.getvalue())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.mode == "elements" and app.elements.sizes["x"] == 64
    _upload(app.upload, "broken.tif", b"II*\x00broken")
    assert app.banner.layout.display != "none" and "Traceback" not in app.banner.value
    # a probe map as an x, y, value table
    yy, xx = np.mgrid[0:10, 0:12]
    table = pd.DataFrame({"x (um)": xx.ravel() * 2.0, "y (um)": yy.ravel() * 2.0, "I (nA)": 1.0 + 0.01 * xx.ravel()})
    app.tabs.selected_index = 1
    _upload(app.upload, "map.csv", table.to_csv(index=False).encode())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.mode == "map" and app.maps["map"].attrs["pixel_size_um"] == pytest.approx(2.0)


@pytest.mark.slow
def test_tabs_switch_between_loaded_data(app):
    # Each tab keeps its own data: going back to a tab redraws what it last held, no reload.
    _demo(app, CURVES)
    _demo(app, SECM_MAP)
    app.tabs.selected_index = 0
    assert app.mode == "approach" and len(app.curves) == 5 and "κ" in app.table.value
    app.tabs.selected_index = 1
    assert app.mode == "map" and "active fraction" in app.table.value
