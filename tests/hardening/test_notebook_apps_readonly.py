"""Every notebook's app, built by the notebook's own cell, reads a read-only input folder.

The real instrument files are copied into a folder made read-only, and the folder is
offered to the apps the way a deployment does (``BATTLAB_DATA_DIRS``). For each notebook
the cell that builds its app is executed as written; the app then opens files of that
folder through its server-file picker and exports its results elsewhere. Afterwards
every input hashes the same (sha256) and nothing new sits in the folder. The working
directory is the read-only folder itself, so a stray relative write fails loudly.
"""

import os
import time
from pathlib import Path

import nbformat
import pytest

import battlab
from battlab.errors import BattlabError
from tests.hardening._readonly import readonly_copy, snapshot

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
#: each app tries the files its picker lists until one opens or this many were tried (keeps the run short)
FILES_PER_APP = 4


def _app_cell(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and "App(" in c.source]
    return cells[0] if cells else None


@pytest.fixture(scope="module")
def readonly_inputs(real_data, tmp_path_factory):
    with readonly_copy([real_data], tmp_path_factory.mktemp("nb-readonly") / "inputs") as folder:
        yield folder


@pytest.mark.slow
def test_every_notebook_app_reads_a_readonly_folder_and_leaves_it_unchanged(readonly_inputs, tmp_path, monkeypatch):
    folder = readonly_inputs
    before = snapshot(folder)
    monkeypatch.setenv("BATTLAB_DATA_DIRS", str(folder))
    monkeypatch.chdir(folder)
    apps_built, files_opened, results = 0, 0, {}
    for notebook in NOTEBOOKS:
        cell = _app_cell(notebook)
        if cell is None:
            continue  # the gallery has no app of its own
        started = time.perf_counter()
        namespace = {"bl": battlab}
        exec(compile(cell, str(notebook), "exec"), namespace)  # the notebook's own code
        app = namespace["app"]
        apps_built += 1
        assert [Path(p).resolve().is_relative_to(folder) for _, p in app.server_picker.options].count(False) == 0
        for _label, path in list(app.server_picker.options)[:FILES_PER_APP]:
            if any(v == "opened" for (nb, _), v in results.items() if nb == notebook.name):
                break
            app.server_picker.value = path
            app.server_button.click()  # the page's own path: confined, guarded, isolated where native
            text = app.banner.value
            assert "Traceback" not in text and str(folder) not in text, text
            if app.banner.layout.display == "none":
                files_opened += 1
            results[(notebook.name, Path(path).name)] = "opened" if app.banner.layout.display == "none" else text
        try:
            written = app.export(tmp_path / notebook.stem)
        except BattlabError:  # an app may have nothing to export for a file it refused
            written = []
        assert all(Path(p).resolve().is_relative_to(tmp_path) for p in written)
        assert snapshot(folder) == before, f"{notebook.name}: an input changed or a file appeared beside them"
        opened = sum(v == "opened" for (nb, _), v in results.items() if nb == notebook.name)
        print(f"{notebook.name}: {opened} server file(s) opened, {time.perf_counter() - started:.1f} s")
    print(f"{apps_built} notebook apps, {files_opened} of {len(results)} server files opened, inputs unchanged")
    assert apps_built == len(NOTEBOOKS) - 1
    assert files_opened >= 8, results  # the apps really read the folder, not only refused it
    assert snapshot(folder) == before
    # (root ignores permission bits; the hashes are the proof that counts)
    assert not os.access(folder, os.W_OK) or os.geteuid() == 0
