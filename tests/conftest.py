"""Shared fixtures: where the real instrument files are, and the demo datasets."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
REAL_DATA = Path(os.environ.get("BATTLAB_REAL_DATA", REPO.parent / "shared" / "data" / "real"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Folder of real instrument files (../shared/data/real); skip when it is absent."""
    if not (REAL_DATA / "MANIFEST.md").is_file():
        pytest.skip(f"real instrument files not found at {REAL_DATA} (set BATTLAB_REAL_DATA)")
    return REAL_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA
