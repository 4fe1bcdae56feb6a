"""`battlab holography` as a real subprocess on generated holograms and phase images."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import tifffile

from battlab.datasets.imaging import make_hologram, make_phase_step


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.slow
def test_phase_image_potential_step_within_2_percent(tmp_path):
    demo = make_phase_step()
    np.save(tmp_path / "phase.npy", demo.data.values)
    ny, nx = demo.data.shape
    res = run("holography", str(tmp_path / "phase.npy"), "--kv", "300", "--pixel-size-nm", "1",
              "--line", f"{ny / 2},8,{ny / 2},{nx - 8}", "--width", "64", "--thickness-nm", "60",
              "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert "holography (phase)" in res.stdout
    step = pd.read_csv(tmp_path / "out" / "potential_step.csv").iloc[0]
    assert step["delta_potential_V"] == pytest.approx(demo.truth["step_V"], rel=0.02)
    profile = pd.read_csv(tmp_path / "out" / "profile.csv")
    assert {"s_nm", "phase_rad", "phase_sem_rad", "projected_potential_V_nm", "potential_V"} <= set(profile)
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert prov["parameters"]["kind"] == "phase" and prov["parameters"]["voltage_kV"] == 300
    assert len(prov["inputs"][0]["sha256"]) == 64
    np.testing.assert_allclose(tifffile.imread(tmp_path / "out" / "map_phase.tif"), demo.data.values, rtol=1e-6)


@pytest.mark.slow
def test_hologram_with_reference_is_recognised_and_reconstructed(tmp_path):
    demo = make_hologram()
    np.save(tmp_path / "holo.npy", demo.data["hologram"].values)
    np.save(tmp_path / "ref.npy", demo.data["reference"].values)
    res = run("holography", str(tmp_path / "holo.npy"), "--reference", str(tmp_path / "ref.npy"), "--kv", "300",
              "--pixel-size-nm", "0.5", "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert "holography (hologram)" in res.stdout
    phase = tifffile.imread(tmp_path / "out" / "map_phase.tif")
    diff = (phase - demo.truth["phase_rad"])[16:-16, 16:-16]
    assert np.sqrt(np.mean((diff - diff.mean()) ** 2)) < 0.05  # rad RMS, as in the library test
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert prov["parameters"]["reference_corrected"] is True
    assert prov["parameters"]["sideband_px"] == pytest.approx(demo.truth["sideband_px"], abs=0.2)
    assert [i["role"] for i in prov["inputs"]] == ["image", "reference"]


def test_bad_input_exits_with_one_line_reason(tmp_path, capsys):
    from battlab.cli import main  # in-process: the same entry point, without a new interpreter

    np.save(tmp_path / "movie.npy", np.zeros((3, 32, 32)))
    code = main(["holography", str(tmp_path / "movie.npy"), "--kv", "300", "--pixel-size-nm", "1", "--out",
                 str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and "2-D image" in err
    np.save(tmp_path / "p.npy", make_phase_step().data.values)
    code = main(["holography", str(tmp_path / "p.npy"), "--pixel-size-nm", "1", "--out", str(tmp_path / "o")])
    assert code != 0 and "--kv" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_xrm_preset_labels_the_volume_technique(tmp_path, capsys):
    from battlab.cli import main
    from battlab.datasets.imaging import make_mri_volume

    demo = make_mri_volume()
    np.save(tmp_path / "mri.npy", demo.data.values)
    threshold = 0.2 * float(demo.data.max())  # the seed's 0.2·I_max
    code = main(["xrm", str(tmp_path / "mri.npy"), "--voxel-um", "25", "--preset", "mri-1h", "--method", "manual",
                 "--threshold", f"{threshold}", "--no-tortuosity", "--out", str(tmp_path / "out")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.out.startswith("xrm (MRI 1H)")
    summary = pd.read_csv(tmp_path / "out" / "summary.csv").iloc[0]
    assert summary["technique"] == "MRI 1H"
    assert 1 - summary["porosity"] == pytest.approx(demo.truth["electrolyte_fraction"], abs=1e-3)
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert prov["parameters"]["technique"] == "MRI 1H" and prov["parameters"]["units"] == "a.u."


@pytest.mark.slow
def test_tem_neutron_radiography_preset_gives_exact_areal_density(tmp_path):
    from battlab.datasets.imaging import make_neutron_radiography_series

    demo = make_neutron_radiography_series(noise=False)
    np.save(tmp_path / "nr.npy", demo.data["frames"].values)
    np.save(tmp_path / "open.npy", demo.data["open_beam"])
    np.save(tmp_path / "dark.npy", demo.data["dark"])
    rois = [f"--roi={name}={','.join(map(str, box))}" for name, box in demo.truth["rois"].items()]
    common = ["tem", str(tmp_path / "nr.npy"), "--pixel-size-nm", "20000", "--frame-time-s", "600",
              "--preset", "neutron-radiography"]
    res = run(*common, "--open-beam", str(tmp_path / "open.npy"), "--dark", str(tmp_path / "dark.npy"), *rois,
              "--cross-section-barn", "70.5", "--molar-mass", "6.94", "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert "neutron radiography" in res.stdout
    table = pd.read_csv(tmp_path / "out" / "radiography_rois.csv")
    for name in demo.truth["rois"]:
        sub = table[table["roi"] == name]
        # noise-free Beer–Lambert: exact to rounding
        np.testing.assert_allclose(sub["delta_areal_density_mg_cm2"], demo.truth["delta_areal_density_mg_cm2"][name],
                                   atol=1e-9)
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert prov["parameters"]["preset"] == "neutron radiography"
    assert prov["parameters"]["cross_section_barn"] == 70.5



def test_tem_radiography_preset_needs_an_open_beam(tmp_path, capsys):
    from battlab.cli import main

    np.save(tmp_path / "nr.npy", np.ones((3, 32, 32)))
    code = main(["tem", str(tmp_path / "nr.npy"), "--pixel-size-nm", "20000", "--frame-time-s", "600",
                 "--preset", "neutron-radiography", "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert code != 0 and "--open-beam" in err and "Traceback" not in err
