"""``battlab optical``, run as a real subprocess on a synthetic movie with known answers."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.optical import make_graphite_movie, write_movie


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], check=False, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("optical")
    demo = make_graphite_movie(n_frames=30, lithiation_frames=20)
    movie = write_movie(demo.data["movie"], folder / "cell.ome.tif", format="ome-tiff", frame_interval_s=60.0,
                        pixel_size_um=0.5)
    echem = folder / "cycler.csv"
    demo.data["echem"].to_csv(echem, index=False)
    return movie, echem, demo.truth


def test_optical_writes_frames_aligned_on_the_cycling(files, tmp_path):
    movie, echem, truth = files
    out = tmp_path / "res"
    res = run("optical", str(movie), "--echem", str(echem), "--um-per-px", "0.5", "--out", str(out))
    assert res.returncode == 0, res.stderr
    frames = pd.read_csv(out / "frames.csv")
    assert len(frames) == 30
    np.testing.assert_allclose(frames["thickness_um"], truth["thickness_um"], rtol=0.02)  # 2 %
    lith = truth["lithiation_frames"]
    assert np.nanmax(np.abs(frames["front_depth_um"][:lith] - truth["front_depth_um"][:lith])) < 0.5  # 1 px
    assert frames["voltage_V"].notna().all() and (frames["current_A"][:lith - 1] < 0).all()
    assert (out / "depth_hysteresis.csv").is_file()
    kin = pd.read_csv(out / "front_kinetics.csv")
    assert kin["n"].iloc[0] == pytest.approx(0.5, abs=0.05)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["pixel_size_um"] == 0.5
    assert [i["name"] for i in prov["inputs"]] == ["cell.ome.tif", "cycler.csv"]
    assert len(prov["inputs"][0]["sha256"]) == 64


def test_optical_bad_input_is_one_line_exit_2(files, tmp_path):
    movie, _, _ = files
    res = run("optical", str(movie), "--um-per-px", "0", "--out", str(tmp_path / "a"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "pixel_size_um" in res.stderr
    res = run("optical", str(movie), "--um-per-px", "0.5", "--roi", "1,2,3", "--out", str(tmp_path / "b"))
    assert res.returncode == 2 and "--roi" in res.stderr and "Traceback" not in res.stderr
    garbage = tmp_path / "junk.tif"
    garbage.write_bytes(b"not a tiff" * 20)
    res = run("optical", str(garbage), "--um-per-px", "0.5", "--out", str(tmp_path / "c"))
    assert res.returncode == 2 and "Traceback" not in res.stderr and res.stderr.startswith("battlab: error:")
