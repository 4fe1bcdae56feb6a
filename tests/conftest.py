"""Shared fixtures: where the real instrument files are, and the demo datasets."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

# The suite tries the same property cases on every run, so a CI result never depends on
# a random draw; HYPOTHESIS_PROFILE=explore draws new cases (for hunting bugs locally).
settings.register_profile("battlab", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "battlab"))

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


@pytest.fixture(scope="session", autouse=True)
def upload_store_in_tmp(tmp_path_factory):
    """Uploads made by the tests (and by the Voila servers they start) stay out of ~/.cache."""
    folder = tmp_path_factory.mktemp("upload-store")
    old = os.environ.get("BATTLAB_UPLOAD_DIR")
    os.environ["BATTLAB_UPLOAD_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("BATTLAB_UPLOAD_DIR", None)
    else:
        os.environ["BATTLAB_UPLOAD_DIR"] = old
