"""The web-facing stack is at or above the releases that fixed its published advisories.

``pip-audit`` needs a vulnerability service (PyPI's per-release JSON or OSV), which this
CI cannot reach, so the advisories that concern the gallery server are listed here with
their fixed releases and checked against what is installed and what pyproject.toml
allows. Add a row when an advisory is published; ``make audit`` runs pip-audit where a
vulnerability service is reachable.
"""

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# (package, advisory, first fixed release, what it was)
ADVISORIES = [
    ("jupyter_server", "GHSA-fcw5-x6j4-ccmp", "2.20.0", "stored XSS through the nbconvert handlers"),
    ("jupyter_server", "GHSA-c3mw-737p-c7g2", "2.21.0", "Referer header leaked in 5xx request logs"),
    ("tornado", "GHSA-mpf4-983q-p7j4", "6.5.8", "urlencoded body parsing without a field limit stalls the loop"),
    ("tornado", "GHSA-8423-8fgw-73vq", "6.5.8", "multipart parsing amplifies memory before its part limit"),
    ("tornado", "GHSA-wwv5-g3v4-889x", "6.5.8", "cookie attribute injection through set_cookie"),
]


def _release(text: str) -> tuple[int, ...]:
    parts = [int(part) for part in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # "2.21" is 2.21.0


@pytest.mark.parametrize("package, advisory, fixed, what", ADVISORIES, ids=[a[1] for a in ADVISORIES])
def test_installed_release_has_the_fix(package, advisory, fixed, what):
    assert _release(version(package)) >= _release(fixed), f"{package} {version(package)}: {advisory} ({what})"


@pytest.mark.parametrize("package", sorted({a[0] for a in ADVISORIES}))
def test_pyproject_floor_excludes_every_affected_release(package):
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = meta["dependencies"] + [r for extra in meta["optional-dependencies"].values() for r in extra]
    floors = [r for r in requirements if re.match(rf"{package}\s*>=", r, flags=re.IGNORECASE)]
    assert floors, f"pyproject.toml sets no floor for {package}"
    needed = max(_release(fixed) for name, _, fixed, _ in ADVISORIES if name == package)
    assert _release(floors[0].split(">=")[1]) >= needed
