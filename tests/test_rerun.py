"""Results reproduce from their provenance.json: `battlab rerun` gives the same numbers.

The input is the synthetic cycling demo (known capacities) written as a BDF CSV into a
folder whose name has a space, which the recorded command must survive. Every other
command that writes tables is then run on a small synthetic input and re-run from its
provenance.json: byte-equal tables, the same parameters and inputs, every input file recorded.
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.cli import main
from battlab.datasets import make_cycling
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.io import write_bdf_csv
from battlab.provenance import rerun_argv, sha256_of


@pytest.fixture()
def first_run(tmp_path):
    folder = tmp_path / "my cells"
    folder.mkdir()
    cell = folder / "cell A.csv"
    demo = make_cycling(n_cycles=4)
    write_bdf_csv(demo.data, cell)
    out = tmp_path / "first"
    assert main(["cycling", str(cell), "--mass-mg", "12.5", "--window-mV", "20", "--out", str(out)]) == 0
    return cell, out, demo


def test_rerun_reproduces_the_numbers(first_run, tmp_path):
    cell, out, demo = first_run
    record = json.loads((out / "provenance.json").read_text())
    assert "'" in record["command"]  # the paths with spaces are quoted, so the command splits back
    proc = subprocess.run([sys.executable, "-m", "battlab.cli", "rerun", str(out / "provenance.json"),
                           "--out", str(tmp_path / "again")], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    for name in ("cycles.csv", "rate_capability.csv", "dqdv.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    again = json.loads((tmp_path / "again" / "provenance.json").read_text())
    assert again["parameters"] == record["parameters"] and again["inputs"] == record["inputs"]
    # and the numbers are the right ones: the demo's capacities within 0.1 %
    cycles = pd.read_csv(tmp_path / "again" / "cycles.csv")
    truth = demo.truth["cycles"]["delithiation_capacity_mAh"].to_numpy()
    assert cycles["charge_capacity_mAh"].to_numpy() == pytest.approx(truth, rel=1e-3)


def test_a_moved_input_is_found_by_content(first_run, tmp_path):
    cell, out, _ = first_run
    moved = tmp_path / "archive" / "renamed.csv"
    moved.parent.mkdir()
    shutil.move(cell, moved)
    with pytest.raises(MissingDataError, match="--input"):
        rerun_argv(out / "provenance.json", out_dir=tmp_path / "x")
    argv = rerun_argv(out / "provenance.json", out_dir=tmp_path / "again", inputs=[moved])
    assert str(moved) in argv
    assert main(argv) == 0
    assert (tmp_path / "again" / "cycles.csv").read_bytes() == (out / "cycles.csv").read_bytes()


def test_changed_input_and_unsafe_requests_are_refused(first_run, tmp_path):
    cell, out, _ = first_run
    with pytest.raises(InvalidParameterError, match="write over"):
        rerun_argv(out / "provenance.json", out_dir=out)
    write_bdf_csv(make_cycling(n_cycles=2).data, cell)  # same name, other content
    with pytest.raises(MissingDataError, match="cell A.csv"):
        rerun_argv(out / "provenance.json", out_dir=tmp_path / "x")


def test_app_exports_say_why_they_cannot_be_rerun(tmp_path):
    from battlab.apps import CyclingApp

    record = next(p for p in CyclingApp().export(tmp_path / "app") if p.name == "provenance.json")
    with pytest.raises(MissingDataError, match="exported from an app"):
        rerun_argv(record, out_dir=tmp_path / "x")


# --- the other techniques' commands reproduce too -------------------------------------------
def _eis_case(tmp_path):
    from battlab.datasets import make_randles

    demo = make_randles(noise=0.003)
    path = tmp_path / "in" / "randles.csv"
    path.parent.mkdir()
    demo.data.rename(columns={"frequency_Hz": "Frequency (Hz)", "z_real_ohm": "Z' (Ohm)",
                              "z_imag_ohm": "Z'' (Ohm)"}).to_csv(path, index=False)
    return ["eis", str(path), "--circuit", "R0-p(R1,CPE1)-W1"]


def _gitt_case(tmp_path):
    from battlab.datasets import make_gitt

    demo = make_gitt(n_pulses=12)
    t = demo.truth
    path = tmp_path / "in" / "film gitt.csv"
    path.parent.mkdir()
    write_bdf_csv(demo.data, path)
    return ["gitt", str(path), "--mass-mg", repr(t["active_mass_mg"]), "--molar-mass-g-mol",
            repr(t["molar_mass_g_mol"]), "--molar-volume-cm3-mol", repr(t["molar_volume_cm3_mol"]),
            "--area-cm2", repr(t["area_cm2"]), "--thickness-um", repr(t["thickness_um"])]


def _xrd_case(tmp_path):
    from battlab.datasets import make_operando_graphite
    from tests.test_cli_xrd import _write_folder

    demo = make_operando_graphite(n_patterns=8)
    folder = tmp_path / "in" / "scans"
    folder.parent.mkdir()
    _write_folder(demo.data, folder)
    args = ["xrd", str(folder), "--anode", "Cu", "--doublet", "off", "--timestamps", str(folder / "timestamps.csv")]
    for name, (lo, hi) in demo.truth["windows"].items():
        args += ["--window", f"{name}={lo},{hi}"]
    return args


def _xrd_poni_case(tmp_path):
    pytest.importorskip("pyFAI")
    import tifffile

    from tests.diffraction.test_integrate import PONI_TEXT, TRUE_TTH, synthetic_frame

    folder = tmp_path / "in" / "frames"
    folder.mkdir(parents=True)
    rows = []
    for i in range(3):
        tifffile.imwrite(folder / f"f{i}.tif", synthetic_frame(0.05 * i).astype(np.float32))
        rows.append({"file": f"f{i}.tif", "time": f"2026-02-01T10:0{i}:00Z"})
    pd.DataFrame(rows).to_csv(tmp_path / "in" / "times.csv", index=False)
    (tmp_path / "in" / "g.poni").write_text(PONI_TEXT)
    return ["xrd", str(folder), "--poni", str(tmp_path / "in" / "g.poni"), "--timestamps",
            str(tmp_path / "in" / "times.csv"), "--window", f"110={TRUE_TTH[1] - 0.4},{TRUE_TTH[1] + 0.4}",
            "--doublet", "off"]


def _ndp_case(tmp_path):
    from battlab.datasets import make_ndp_profile

    demo = make_ndp_profile()
    folder = tmp_path / "in"
    folder.mkdir()
    spec = demo.data["spectrum"]
    pd.DataFrame({"channel": spec["channel"].to_numpy(), "counts": spec.to_numpy()}).to_csv(folder / "ndp.csv",
                                                                                           index=False)
    demo.data["stopping"].to_csv(folder / "stopping.csv", index=False)
    return ["depth", "ndp", str(folder / "ndp.csv"), "--stopping", str(folder / "stopping.csv"), "--offset-kev", "5",
            "--gain-kev", "3", "--fluence", "1e12", "--solid-angle-fraction", "1e-3", "--max-depth-um", "10",
            "--energy-resolution-kev", "15", "--layer", "graphite=1,8"]


def _cv_case(tmp_path):
    from battlab.datasets import make_cv
    from tests.test_cli_cv import WINDOWS

    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for k, table in enumerate(make_cv(scan_rates_mV_s=(0.5, 1.0), n_cycles=1, separate_files=True).data):
        paths.append(folder / f"cv rate{k}.csv")  # one file per scan rate, names with a space
        write_bdf_csv(table, paths[-1])
    return ["cv", *map(str, paths), "--n-electrons", "1", "--area-cm2", "1", "--concentration-mol-cm3", "1e-5",
            *WINDOWS]


def _sensors_case(kind):
    def case(tmp_path):
        from battlab import datasets
        from tests.test_cli_sensors import _write

        folder = tmp_path / "in"
        folder.mkdir()
        if kind == "eqcm":
            sensor, echem = _write(datasets.make_eqcm(n_cycles=1), folder, {
                "sensor_time_s": "Time (s)", "frequency_shift_Hz": "Δf3 (Hz)"})
            return ["sensors", "eqcm", str(sensor), "--echem", str(echem), "--area-cm2", "1.37",
                    "--clock-offset-s", "120"]
        if kind == "dilatometry":
            sensor, echem = _write(datasets.make_dilatometry(n_cycles=1), folder, {
                "sensor_time_s": "time (s)", "displacement_um": "Displacement (µm)"})
            return ["sensors", "dilatometry", str(sensor), "--echem", str(echem), "--thickness-um", "40",
                    "--clock-offset-s", "60"]
        if kind == "stress":
            demo = datasets.make_moss(n_cycles=1)
            t = demo.truth
            sensor, echem = _write(demo, folder, {"sensor_time_s": "time (s)", "spot_spacing": "spot spacing (px)"})
            return ["sensors", "stress", str(sensor), "--echem", str(echem), "--substrate-modulus-GPa", "130",
                    "--poisson", "0.28", "--substrate-thickness-um", "500", "--film-thickness-nm", "108",
                    "--distance-m", repr(t["distance_m"]), "--angle-deg", repr(t["incidence_angle_deg"]),
                    "--clock-offset-s", repr(t["clock_offset_s"])]
        # acoustic: the hit types come from k-means, whose start must not change between runs
        sensor, echem = _write(datasets.make_acoustic(n_cycles=1, first_lithiation_hits=60, later_hits=20,
                                                      gas_hits=20), folder,
                               {"sensor_time_s": "Time (s)", "amplitude_dB": "Amplitude (dB)",
                                "peak_frequency_Hz": "Peak frequency (Hz)",
                                "centroid_frequency_Hz": "Centroid frequency (Hz)"})
        return ["sensors", "acoustic", str(sensor), "--echem", str(echem), "--clock-offset-s", "45"]

    return case


def _optical_case(tmp_path):
    from battlab.datasets.optical import make_graphite_movie, write_movie
    from battlab.optical.colour import default_calibration

    demo = make_graphite_movie(n_frames=8, lithiation_frames=5)
    folder = tmp_path / "in"
    folder.mkdir()
    movie = write_movie(demo.data["movie"], folder / "cell.ome.tif", format="ome-tiff", pixel_size_um=0.5)
    demo.data["echem"].to_csv(folder / "cycler.csv", index=False)
    pd.DataFrame({"time_s": np.arange(8) * 60.0}).to_csv(folder / "frame times.csv", index=False)
    default_calibration().to_csv(folder / "colours.csv", index=False)
    return ["optical", str(movie), "--echem", str(folder / "cycler.csv"), "--um-per-px", "0.5", "--timestamps",
            str(folder / "frame times.csv"), "--calibration", str(folder / "colours.csv")]


def _spectra_case(tmp_path):
    from battlab.datasets.spectra import make_raman_graphite_series
    from tests.test_cli_spectra import _write_raman_folder

    folder = tmp_path / "in" / "raman scans"
    folder.parent.mkdir()
    _write_raman_folder(make_raman_graphite_series(n_spectra=4).data, folder)
    return ["spectra", str(folder), "--timestamps", str(folder / "timestamps.csv"), "--pca-components", "2"]


def _mossbauer_case(tmp_path):
    from tests.test_cli_spectra import write_mossbauer_pair

    # An α-Fe calibration spectrum corrects the sample's velocity axis.
    (tmp_path / "in").mkdir()
    write_mossbauer_pair(tmp_path / "in", n_points=400)
    return ["spectra", str(tmp_path / "in" / "sample.csv"), "--calibration", str(tmp_path / "in" / "alpha.csv")]


def _mossbauer_raw_case(tmp_path):
    from tests.test_cli_spectra import write_raw_mossbauer_pair

    # Raw multichannel counts, folded and calibrated by an α-Fe raw-channel file.
    folder = tmp_path / "in"
    folder.mkdir()
    write_raw_mossbauer_pair(folder)
    return ["spectra", str(folder / "lfp_raw.txt"), "--raw-channels", "--calibration", str(folder / "alpha_fe.txt")]


def _afm_case(tmp_path):
    from battlab.datasets.afm import make_rough_surface

    path = tmp_path / "in" / "height map.txt"
    path.parent.mkdir()
    np.savetxt(path, make_rough_surface(size_px=64).data["height"].values)
    return ["afm", str(path), "--pixel-size-um", "0.01", "--z-unit", "nm", "--profile", "0.05", "0.1", "0.55", "0.3"]


def _afm_force_case(tmp_path):
    from tests.conftest import REAL_DATA

    # No force-curve writer exists in battlab; the smallest real map (2 × 2 curves) stands in.
    path = REAL_DATA / "afm" / "afmformats_fmt-jpk-fd_map2x2_extracted.jpk-force-map"
    if not path.is_file():
        pytest.skip(f"real instrument files not found at {REAL_DATA} (set BATTLAB_REAL_DATA)")
    return ["afm-force", str(path), "--tip-radius-nm", "1000"]


def _tem_case(tmp_path):
    from battlab.datasets.tem import make_si_nanowire_movie

    wire = make_si_nanowire_movie(n_frames=12, size=96)
    path = tmp_path / "in" / "wire movie.npy"
    path.parent.mkdir()
    np.save(path, np.asarray(wire.data.values))
    ax = wire.truth["axis_y_px"]
    time_s = np.linspace(0, 30, 301)  # a potentiostat log on the movie's clock
    pd.DataFrame({"time/s": time_s, "Ewe/V": 0.5 - 0.001 * time_s, "I/mA": -0.2}).to_csv(path.parent / "cell.csv",
                                                                                       index=False)
    # --bootstrap draws random refits: their seed must come out the same on the re-run.
    return ["tem", str(path), "--pixel-size-nm", "1", "--frame-time-s", "1", "--line", f"{ax - 30},30,{ax + 30},30",
            "--level", "0.6", "--bootstrap", "10", "--dose-rate", "0.1", "--echem", str(path.parent / "cell.csv"),
            "--clock-offset-s", "10"]


def _tem_eds_case(tmp_path):
    pytest.importorskip("rsciio")
    from battlab.datasets.tem import make_eds_spectrum_image
    from tests.test_cli_tem import _write_emd

    demo = make_eds_spectrum_image(ny=8, nx=8, radius_px=3, core_radius_px=2, n_channels=512, dispersion_eV=20.0)
    axes = [{"name": "y", "units": "nm", "scale": 2.0, "offset": 0, "size": 8, "navigate": True},
            {"name": "x", "units": "nm", "scale": 2.0, "offset": 0, "size": 8, "navigate": True},
            {"name": "Energy", "units": "keV", "scale": 0.02, "offset": 0.01, "size": 512, "navigate": False}]
    (tmp_path / "in").mkdir()
    _write_emd(tmp_path / "in" / "eds.emd", demo.data.values, axes)
    return ["tem", str(tmp_path / "in" / "eds.emd"), "--eds", "O,Mn,Co,Ni", "--ratio", "Ni/Mn", "--nmf", "2"]


def _tem_radiography_case(tmp_path):
    from battlab.datasets.imaging import make_neutron_radiography_series

    demo = make_neutron_radiography_series(n_frames=4)
    folder = tmp_path / "in"
    folder.mkdir()
    for name, array in (("nr", demo.data["frames"].values), ("open", demo.data["open_beam"]),
                        ("dark", demo.data["dark"])):
        np.save(folder / f"{name}.npy", array)
    rois = [f"--roi={name}={','.join(map(str, box))}" for name, box in demo.truth["rois"].items()]
    return ["tem", str(folder / "nr.npy"), "--pixel-size-nm", "20000", "--frame-time-s", "600", "--preset",
            "neutron-radiography", "--open-beam", str(folder / "open.npy"), "--dark", str(folder / "dark.npy"), *rois,
            "--cross-section-barn", "70.5", "--molar-mass", "6.94"]


def _saed_case(tmp_path):
    from battlab.datasets.tem import make_saed_pattern

    demo = make_saed_pattern(phases={"Au": 1.0}, size=256, center=(130.3, 124.7))
    path = tmp_path / "in" / "au.npy"
    path.parent.mkdir()
    np.save(path, demo.data.values)
    return ["saed", str(path), "--standard", "Au", "--beam-stop", "12"]


def _holography_case(tmp_path):
    from battlab.datasets.imaging import make_hologram

    demo = make_hologram()
    folder = tmp_path / "in"
    folder.mkdir()
    np.save(folder / "holo.npy", demo.data["hologram"].values)
    np.save(folder / "ref.npy", demo.data["reference"].values)
    return ["holography", str(folder / "holo.npy"), "--reference", str(folder / "ref.npy"), "--kv", "300",
            "--pixel-size-nm", "0.5", "--thickness-nm", "50"]


def _xrm_case(tmp_path):
    import tifffile

    from battlab.datasets.xrm import make_packed_spheres

    path = tmp_path / "in" / "vol.tif"
    path.parent.mkdir()
    tifffile.imwrite(path, make_packed_spheres(shape=(24, 24, 24), seed=2).data.values)
    return ["xrm", str(path), "--voxel-um", "0.5"]


def _xanes_case(tmp_path):
    import tifffile

    from battlab.datasets.xrm import make_xanes_stack

    demo = make_xanes_stack(shape=(24, 24))
    folder = tmp_path / "in"
    folder.mkdir()
    tifffile.imwrite(folder / "stack.tif", demo.data.values.astype(np.float32))
    refs = []
    for name, ref in demo.truth["references"].items():
        path = folder / f"{name}.csv"
        pd.DataFrame({"energy_eV": ref["energy_eV"].values, "mu": ref.values}).to_csv(path, index=False)
        refs += ["--reference", f"{name}={path}"]  # NAME=FILE: the recorded path sits inside the option
    np.savetxt(folder / "energies.txt", demo.data["energy_eV"].values)  # an energy axis from a file
    return ["xanes", str(folder / "stack.tif"), "--energies", str(folder / "energies.txt"), "--pixel-um", "0.05",
            *refs, "--charged", "FePO4"]


def _correlate_case(mode):
    def case(tmp_path):
        if mode == "demo":  # the bundled demo: no input files
            return ["correlate", "demo"]
        folder = tmp_path / "in"
        folder.mkdir()
        if mode in ("cell", "population"):
            from battlab.datasets.population import population_demo

            cells = population_demo(n_cells=3, max_cycles=60, points_per_half_cycle=10)  # the fewest it makes
            for name, table in list(cells.data.items())[:1 if mode == "cell" else None]:
                write_bdf_csv(table, folder / f"{name}.csv")
            if mode == "cell":
                return ["correlate", "cell", str(folder / f"{next(iter(cells.data))}.csv"), "--cycle-a", "5",
                        "--cycle-b", "40"]
            return ["correlate", "population", str(folder), "--workers", "0", "--cycle-a", "5", "--cycle-b", "40"]
        from battlab.datasets.correlation import make_multimodal

        demo = make_multimodal(n_frames=20, n_particles=12)
        exp = demo.data
        if mode in ("maps", "maps-landmarks"):
            import tifffile

            tifffile.imwrite(folder / "xray.tif", exp.images["xray_absorption"].to_numpy().astype("float32"))
            np.savetxt(folder / "afm.csv", exp.images["afm_height"].to_numpy(), delimiter=",")
            args = ["correlate", "maps", "--reference", str(folder / "xray.tif"), "--reference-pixel-um", "0.5",
                    "--moving", str(folder / "afm.csv"), "--moving-pixel-um", "0.12"]
            if mode == "maps":
                return args
            # three point pairs placed by the demo's own transform
            from tests.test_cli_correlate import landmark_table

            landmark_table([[3.0, 4.0], [25.0, 6.0], [12.0, 27.0]], **demo.truth["afm_to_xray"]).to_csv(
                folder / "points.csv", index=False)
            return [*args, "--landmarks", str(folder / "points.csv")]
        write_bdf_csv(exp.cycling, folder / "cell.csv")
        exp.tables["xrd"].to_csv(folder / "xrd.csv", index=False)
        exp.tables["optical"].to_csv(folder / "optical.csv", index=False)
        # NAME=FILE@OFFSET: the recorded path sits inside the option value
        return ["correlate", "timeline", "--cycling", str(folder / "cell.csv"),
                "--table", f"xrd={folder / 'xrd.csv'}@{demo.truth['clock_offsets_s']['xrd']}",
                "--table", f"optical={folder / 'optical.csv'}", "--estimate-offsets", "--signal",
                "optical=thickness_um"]

    return case


def _saxs_case(tmp_path):
    from battlab.datasets.scattering import make_saxs_series
    from tests.test_cli_scattering import _write_series

    (tmp_path / "in").mkdir()
    folder = _write_series(make_saxs_series(n_curves=2, n_q=60).data, tmp_path / "in" / "sans", "I", nm=True)
    return ["saxs", str(folder), "--timestamps", str(folder / "timestamps.csv"), "--contrast", "3.0"]


def _reflectometry_case(tmp_path):
    from battlab.datasets.scattering import make_reflectivity_series
    from tests.test_cli_scattering import _write_series

    demo = make_reflectivity_series(n_curves=2, n_q=60)
    (tmp_path / "in").mkdir()
    folder = _write_series(demo.data, tmp_path / "in" / "nr", "R")
    demo.truth["layers"].to_csv(tmp_path / "in" / "layers.csv", index=False)
    return ["reflectometry", str(folder), "--timestamps", str(folder / "timestamps.csv"), "--layers",
            str(tmp_path / "in" / "layers.csv"),
            "--free", "SEI:thickness_A,SEI:sld_1e-6_per_A2", "--background", repr(demo.truth["background"])]


def _sims_case(tmp_path):
    from battlab.datasets.depth import make_sims_profile

    path = tmp_path / "in" / "sims.csv"
    path.parent.mkdir()
    make_sims_profile(total_s=300.0).data.to_csv(path, index=False)
    return ["depth", "sims", str(path), "--crater-depth-nm", "30", "--ratio", "LiF-/C2H-", "--marker",
            "organic=C2H-", "--marker", "inner=LiF-"]


def _sims_map_case(tmp_path):
    import h5py

    from battlab.datasets.depth import make_sims_map

    stack = make_sims_map(size_px=12, n_scans=16, depth_per_scan_nm=2.5).data
    folder = tmp_path / "in"
    folder.mkdir()
    np.save(folder / "lif.npy", stack.sel(fragment="LiF-").values)
    with h5py.File(folder / "maps.h5", "w") as h5:
        h5["C2H-"] = stack.sel(fragment="C2H-").values
    # FRAGMENT=FILE and FRAGMENT=FILE.h5:DATASET: the recorded paths sit inside the option values
    return ["depth", "sims-map", "--map", f"LiF-={folder / 'lif.npy'}", "--map", f"C2H-={folder / 'maps.h5'}:C2H-",
            "--pixel-size-um", "0.5", "--depth-per-scan-nm", "2.5", "--ratio", "LiF-/C2H-", "--marker", "inner=LiF-"]


def _xps_depth_case(tmp_path):
    from battlab.datasets.depth import make_xps_depth_series
    from tests.depth.test_xps_depth import _vamas

    path = tmp_path / "in" / "depth.vms"
    path.parent.mkdir()
    path.write_bytes(_vamas(make_xps_depth_series(sputter_time_s=(0, 200, 500)).data, etch_ids=False))
    return ["depth", "xps", str(path), "--time-per-step-s", "100", "--rate-nm-s", "0.05"]


def _secm_approach_case(tmp_path):
    from battlab.datasets.probes import make_approach_curves

    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for k, curve in enumerate(make_approach_curves(kappas=(1.0,)).data.values()):
        paths.append(folder / f"curve_{k}.csv")
        curve.rename(columns={"distance_um": "Distance (um)", "current_nA": "Current (nA)"}).to_csv(paths[-1],
                                                                                                 index=False)
    return ["secm", "approach", *map(str, paths), "--radius-um", "5", "--rg", "10", "--diffusion-cm2-s", "7.8e-6"]


def _secm_map_case(tmp_path):
    from battlab.datasets.probes import make_secm_map

    demo = make_secm_map(size_px=32, pixel_size_um=3.0)
    t = demo.truth
    path = tmp_path / "in" / "map.txt"
    path.parent.mkdir()
    np.savetxt(path, demo.data["tip current"].values * 1e-9)
    return ["secm", "map", str(path), "--pixel-size-um", "3", "--value-unit", "A", "--bulk-current-nA",
            repr(t["bulk_current_nA"]), "--working-distance-um", repr(t["working_distance_um"]), "--radius-um",
            repr(t["radius_um"]), "--diffusion-cm2-s", repr(t["diffusion_cm2_s"]), "--threshold", "0.004"]


def _elements_case(tmp_path):
    import tifffile

    from battlab.datasets.elements import make_nmc_element_maps

    demo = make_nmc_element_maps(size_px=32, n_particles=3)
    maps = demo.data["maps"]
    els = [str(e) for e in maps["element"].values]
    path = tmp_path / "in" / "eds.tif"
    path.parent.mkdir()
    tifffile.imwrite(path, np.stack([maps.sel(element=e).values for e in els]).astype("float32"))
    tifffile.imwrite(tmp_path / "in" / "sem.tif", demo.data["sem"].values.astype("float32"))
    # k-means phases and the registration onto the SEM image must come out the same
    return ["elements", str(path), "--pixel-size-um", "0.1", "--elements", ",".join(els), "--ratio", "Ni/Mn",
            "--phases", "2", "--phase-elements", "Ni,Mn,Co", "--register-to", str(tmp_path / "in" / "sem.tif"),
            "--register-element", "O"]


CASES = {"eis": _eis_case, "gitt": _gitt_case, "xrd": _xrd_case, "xrd-poni": _xrd_poni_case, "cv": _cv_case,
         **{f"sensors-{kind}": _sensors_case(kind) for kind in ("eqcm", "dilatometry", "stress", "acoustic")},
         "optical": _optical_case, "spectra": _spectra_case, "spectra-mossbauer": _mossbauer_case,
         "spectra-mossbauer-raw": _mossbauer_raw_case,
         "afm": _afm_case, "afm-force": _afm_force_case, "tem": _tem_case, "tem-eds": _tem_eds_case,
         "tem-radiography": _tem_radiography_case, "saed": _saed_case, "holography": _holography_case,
         "xrm": _xrm_case, "xanes": _xanes_case,
         **{f"correlate-{mode}": _correlate_case(mode)
            for mode in ("timeline", "maps", "maps-landmarks", "cell", "population")},
         "saxs": _saxs_case, "reflectometry": _reflectometry_case, "depth-ndp": _ndp_case, "depth-sims": _sims_case,
         "depth-sims-map": _sims_map_case, "depth-xps": _xps_depth_case, "secm-approach": _secm_approach_case,
         "secm-map": _secm_map_case, "elements": _elements_case}


def test_every_analysis_command_has_a_rerun_case():
    import argparse

    from battlab.cli import build_parser

    def commands(parser):
        return next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))

    ids = {*CASES, "correlate-demo", "cycling"}  # cycling: test_rerun_reproduces_the_numbers
    # batch writes no provenance.json of its own: each file's result folder has one (its own command).
    for name, parser in commands(build_parser()).items():
        if name in ("formats", "info", "gallery", "batch", "rerun"):
            continue
        if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):  # depth, correlate, secm
            missing = {f"{name}-{mode}" for mode in commands(parser)} - ids
        else:
            missing = set() if name in ids or any(i.startswith(f"{name}-") for i in ids) else {name}
        assert not missing, f"no re-run case for {', '.join(sorted(missing))}"


@pytest.mark.parametrize("case", [_correlate_case("timeline"), _sims_map_case],
                         ids=["NAME=FILE@OFFSET", "NAME=FILE:DATASET"])
def test_a_moved_input_named_inside_an_option_value_is_found(case, tmp_path):
    args = case(tmp_path)
    out = tmp_path / "first"
    assert main([*args, "--out", str(out)]) == 0
    moved = tmp_path / "archive"
    shutil.move(tmp_path / "in", moved)
    with pytest.raises(MissingDataError, match="--input"):
        rerun_argv(out / "provenance.json", out_dir=tmp_path / "x")
    argv = rerun_argv(out / "provenance.json", out_dir=tmp_path / "again", inputs=[moved])
    # only the path inside the value changes: the NAME= before it and the @OFFSET or :DATASET after it stay
    assert argv == [a.replace(str(tmp_path / "in"), str(moved)) for a in args] + ["--out", str(tmp_path / "again")]
    assert main(argv) == 0
    for name in sorted(p.name for p in out.glob("*.csv")):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.parametrize("case", [*CASES.values(),
                                  # its size is fixed (the bundled demo, no options): about 5 s for both runs
                                  pytest.param(_correlate_case("demo"), marks=pytest.mark.slow)],
                         ids=[*CASES.keys(), "correlate-demo"])
def test_other_commands_reproduce_from_their_provenance(case, tmp_path):
    args = case(tmp_path)
    out = tmp_path / "first"
    assert main([*args, "--out", str(out)]) == 0
    argv = rerun_argv(out / "provenance.json", out_dir=tmp_path / "again")
    assert main(argv) == 0
    tables = sorted(p.name for p in out.glob("*.csv"))
    assert tables, "the command wrote result tables"
    for name in tables:
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    first = json.loads((out / "provenance.json").read_text())
    again = json.loads((tmp_path / "again" / "provenance.json").read_text())
    assert again["parameters"] == first["parameters"] and again["inputs"] == first["inputs"]
    # Every file the command read (all of in/) is recorded, so a changed or moved one is noticed on a re-run.
    read = {sha256_of(p) for p in (tmp_path / "in").rglob("*") if p.is_file()}
    assert read <= {i["sha256"] for i in first["inputs"]}, first["inputs"]


@pytest.mark.parametrize("rename", [False, True], ids=["moved", "moved-and-renamed"])
def test_a_moved_input_folder_is_found(rename, tmp_path):
    args = _spectra_case(tmp_path)  # the spectra come as a folder of files (plus timestamps inside it)
    out = tmp_path / "first"
    assert main([*args, "--out", str(out)]) == 0
    old = tmp_path / "in" / "raman scans"
    new = tmp_path / "archive" / ("spectra of cell 3" if rename else "raman scans")
    new.parent.mkdir()
    shutil.move(old, new)
    with pytest.raises(MissingDataError, match="--input"):
        rerun_argv(out / "provenance.json", out_dir=tmp_path / "x")
    # the user points at the new folder itself, or (same name) at a folder above it
    argv = rerun_argv(out / "provenance.json", out_dir=tmp_path / "again", inputs=[new if rename else new.parent])
    assert argv == [a.replace(str(old), str(new)) for a in args] + ["--out", str(tmp_path / "again")]
    assert main(argv) == 0
    for name in sorted(p.name for p in out.glob("*.csv")):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
