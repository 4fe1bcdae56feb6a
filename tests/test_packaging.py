"""The environment files, Binder, Voila settings and notebooks stay in step with the code."""

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_runtime():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    return {_name(r) for r in meta["dependencies"] + extras["apps"] + extras["biologic"]}


def _conda_env(path):
    env = yaml.safe_load(path.read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(r) for r in dep.get("pip", []) if not r.startswith("-")}
        elif not dep.startswith(("python=", "pip")) or dep.startswith("pip:"):
            names.add(_name(dep))
    return names


def test_environment_files_match_pyproject():
    wanted = _pyproject_runtime()
    assert _conda_env(REPO / "environment.yml") == wanted
    assert _conda_env(REPO / "binder" / "environment.yml") == wanted


def test_binder_installs_battlab_and_its_voila_template():
    post = (REPO / "binder" / "postBuild").read_text()
    assert "pip install --no-deps ." in post
    assert "voila/templates" in post and "voila.json" in post


def test_voila_json_matches_the_gallery_settings():
    from battlab.cli import VOILA_SETTINGS

    assert json.loads((REPO / "voila.json").read_text()) == VOILA_SETTINGS
    assert VOILA_SETTINGS["VoilaConfiguration"]["show_tracebacks"] is False


@pytest.mark.parametrize("limit_mb, expected", [(None, 100_000_000 + 2**20), ("5", 5_000_000 + 2**20),
                                                ("0.25", 250_000 + 2**20)])
def test_the_server_websocket_limit_follows_the_upload_limit(monkeypatch, limit_mb, expected):
    from battlab.cli import VOILA_SETTINGS, voila_command

    if limit_mb is None:
        monkeypatch.delenv("BATTLAB_UPLOAD_LIMIT_MB", raising=False)
        assert VOILA_SETTINGS["Voila"]["tornado_settings"]["websocket_max_message_size"] == expected
    else:
        monkeypatch.setenv("BATTLAB_UPLOAD_LIMIT_MB", limit_mb)
    args, _env = voila_command(REPO / "notebooks")
    assert f"--Voila.tornado_settings={{'websocket_max_message_size': {expected}}}" in args


def test_notebooks_are_stripped_and_listed_in_the_gallery():
    import nbformat

    from battlab.apps import APPS

    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    gallery = nbformat.read(REPO / "notebooks" / "00_gallery.ipynb", as_version=4)
    gallery_text = "".join(c.source for c in gallery.cells)
    for nb_path in notebooks:
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, nb_path.name
                assert "def " not in cell.source and "%pip" not in cell.source, nb_path.name
        if nb_path.name != "00_gallery.ipynb":
            assert f"({nb_path.name})" in gallery_text, f"{nb_path.name} missing from the gallery"
    assert {nb for nb, _ in APPS.values()} == {p.name for p in notebooks} - {"00_gallery.ipynb"}


def test_import_battlab_stays_light():
    import subprocess
    import sys

    code = ("import sys, battlab; heavy = [m for m in ('holoviews', 'panel', 'bokeh', 'ipywidgets', 'scipy') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_unsafe_deserialisation_in_the_library():
    pattern = re.compile(r"allow_pickle\s*=\s*True|pickle\.loads?\(|read_pickle\(|joblib\.load\(|[^_.\w]eval\(")
    offenders = [f"{p.relative_to(REPO)}:{n}" for p in (REPO / "battlab").rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_gallery_index_names_every_technique_command_and_real_modules():
    """The gallery's "where each technique lives" table covers every analysis command of the
    CLI, and every library path it cites resolves."""
    import importlib
    import re

    import nbformat

    from battlab.cli import build_parser

    gallery = nbformat.read(REPO / "notebooks" / "00_gallery.ipynb", as_version=4)
    index = next(c.source for c in gallery.cells if c.source.startswith("## Where each technique lives"))
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    housekeeping = {"formats", "info", "gallery", "rerun"}
    for command in sorted(set(sub.choices) - housekeeping):
        assert f"`battlab {command}" in index, f"battlab {command} missing from the gallery index"
    for path in set(re.findall(r"`(?:bl|battlab)\.([a-z_.]+)`", index)):
        module = importlib.import_module("battlab")
        for part in path.split("."):
            module = getattr(module, part, None) or importlib.import_module(f"{module.__name__}.{part}")
        assert module is not None, path
