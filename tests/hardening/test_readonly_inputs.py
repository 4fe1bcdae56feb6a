"""Raw inputs are never written: apps and CLI run against a read-only folder.

A few real files (and the sensor fixture, as no real sensor table ships) are copied into
a folder that is then made read-only; every app and CLI subcommand reads them, writes
its results elsewhere, and afterwards the inputs hash the same and nothing new sits
beside them.
"""

import os
import subprocess
import sys

import pytest

import battlab
from tests.conftest import TEST_DATA
from tests.hardening._readonly import readonly_copy, snapshot

REAL = {  # app/CLI name -> file under the real-data folder
    "cycling": "biologic/yadg_gcpl.issue_149.mpt",
    "cv": "biologic/yadg_cv.mpr",
    "eis": "gamry/impedancepy_exampleDataGamry.DTA",
    "gitt": "biologic/cellpy_biol.mpr",
}
SENSOR_FIXTURE = "sensor_moss.csv"


@pytest.fixture(scope="module")
def readonly_dir(real_data, tmp_path_factory):
    sources = [real_data / rel for rel in REAL.values()] + [TEST_DATA / SENSOR_FIXTURE]
    with readonly_copy(sources, tmp_path_factory.mktemp("readonly") / "inputs") as folder:
        before = snapshot(folder)
        yield folder, before
        assert snapshot(folder) == before, "an input file changed or a file appeared beside the inputs"


def _check_unchanged(folder, before):
    assert snapshot(folder) == before
    # (root ignores the permission bits; the hashes above are the proof that counts)
    assert not os.access(folder, os.W_OK) or os.geteuid() == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REAL))
def test_app_reads_readonly_input_and_exports_elsewhere(readonly_dir, name, tmp_path):
    from battlab.apps import cv, cycling, eis, gitt

    folder, before = readonly_dir
    path = folder / REAL[name].split("/")[-1]
    cls = {"cycling": cycling.CyclingApp, "cv": cv.CVApp, "eis": eis.EISApp, "gitt": gitt.GITTApp}[name]
    kwargs = {"mass_mg": 1.0, "molar_mass_g_mol": 28.09, "molar_volume_cm3_mol": 12.06,
              "area_cm2": 1.0} if name == "gitt" else {}
    app = cls(battlab.load(path), data_dirs=[folder], **kwargs)
    assert app.banner.layout.display == "none", app.banner.value
    # The server-file picker is the other way an app reads from disk.
    app._load_server_file(str(path))
    assert app.banner.layout.display == "none", app.banner.value
    written = app.export(tmp_path / "out")
    assert written and all(p.parent == tmp_path / "out" for p in written)
    _check_unchanged(folder, before)


def test_sensors_app_reads_readonly_server_file(readonly_dir):
    from battlab.apps.sensors import SensorsApp

    folder, before = readonly_dir
    app = SensorsApp(data_dirs=[folder])
    app.kind.value = "stress"
    app._load_server_file(str(folder / SENSOR_FIXTURE))
    # The table was read; the app now asks for the cycling file it ran with.
    assert "read 4 sensor rows" in app.banner.value
    _check_unchanged(folder, before)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], check=False, capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.mark.slow
def test_every_cli_subcommand_leaves_readonly_inputs_untouched(readonly_dir, tmp_path):
    folder, before = readonly_dir
    f = {k: str(folder / v.split("/")[-1]) for k, v in REAL.items()}
    runs = [
        ("cycling", f["cycling"], "--no-mass"),
        ("cv", f["cv"]),
        ("eis", f["eis"], "--circuit", "R0-p(R1,CPE1)"),
        ("gitt", f["gitt"], "--mass-mg", "1", "--molar-mass-g-mol", "28.09", "--molar-volume-cm3-mol", "12.06",
         "--area-cm2", "1"),
        ("sensors", "stress", str(folder / SENSOR_FIXTURE)),
    ]
    for args in runs:
        out = tmp_path / f"out_{args[0]}"
        # Run from inside the read-only folder: a stray relative write would fail loudly.
        res = _cli(*args, "--out", str(out), cwd=folder)
        assert res.returncode in (0, 2), res.stderr
        assert "Traceback" not in res.stderr
        if res.returncode == 0:
            assert (out / "provenance.json").is_file()
        _check_unchanged(folder, before)
    assert sum((tmp_path / f"out_{a[0]}" / "provenance.json").is_file() for a in runs) >= 4
