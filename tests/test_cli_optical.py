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


@pytest.mark.slow
def test_optical_electrode_run_corrects_drift_and_lists_no_events(files, tmp_path):
    movie, echem, truth = files
    out = tmp_path / "hsv"
    res = run("optical", str(movie), "--echem", str(echem), "--um-per-px", "0.5", "--colour-space", "hsv",
              "--out", str(out))
    assert res.returncode == 0, res.stderr
    frames = pd.read_csv(out / "frames.csv")
    assert np.max(np.abs(frames["drift_dx_px"] - truth["dx_px"])) < 0.15  # drift on by default, 0.15 px
    assert frames["drift_confidence"].min() > 0.8
    assert pd.read_csv(out / "events.csv").empty  # a quietly lithiating electrode: no events
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["colour_space"] == "hsv" and prov["parameters"]["drift_corrected"]


@pytest.mark.slow
def test_optical_plating_run_writes_events_and_dead_li(tmp_path):
    from battlab.datasets.optical import make_plating_movie

    demo = make_plating_movie(short_frame=30.3, crack_frame=12)
    movie = write_movie(demo.data["movie"], tmp_path / "li.tif", format="imagej-tiff", frame_interval_s=300.0)
    echem = tmp_path / "li.csv"
    demo.data["echem"].to_csv(echem, index=False)
    out = tmp_path / "plating"
    res = run("optical", str(movie), "--echem", str(echem), "--um-per-px", "0.5", "--analysis", "plating",
              "--area-cm2", "1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    events = pd.read_csv(out / "events.csv")
    truth = demo.truth["events"].sort_values("time_s").reset_index(drop=True)
    assert list(events["kind"]) == ["local change", "short (voltage collapse)"]
    assert list(events["frame"]) == list(truth["frame"])  # within one frame: the same frame
    assert np.all(np.hypot(events["x_px"] - truth["x_px"], events["y_px"] - truth["y_px"]) < 3.0)  # 3 px
    summary = pd.read_csv(out / "plating_summary.csv")
    assert summary["max_dendrite_count"].iloc[0] >= 3
    frames = pd.read_csv(out / "frames.csv")
    assert {"deposit_thickness_um", "roughness_um", "dendrite_count", "faraday_thickness_um"} <= set(frames.columns)
    np.testing.assert_allclose(frames["porosity"].iloc[2:24], 0.3, atol=0.02)  # the mossy layer before dendrites
    res = run("optical", str(movie), "--echem", str(echem), "--um-per-px", "0.5", "--analysis", "plating",
              "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "--area-cm2" in res.stderr
