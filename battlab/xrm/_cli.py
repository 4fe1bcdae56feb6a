"""``battlab xrm VOLUME --voxel-um V --out DIR`` and ``battlab xanes STACK --energies ... --out DIR``."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["add_parser", "parse_energies"]


def parse_energies(text: str):
    """Energies from ``START:STOP:STEP`` (inclusive), ``E1,E2,…`` or a text/CSV file (first column)."""
    import re

    import numpy as np

    from battlab.errors import InvalidParameterError

    text = str(text).strip()
    path = Path(text)
    try:
        if path.is_file():
            if path.stat().st_size > 10_000_000:
                raise InvalidParameterError(f"--energies {path.name}: over 10 MB; an energy list is a short text file.")
            # First field of each line (comma, semicolon, tab or space separated); header lines
            # before the numbers are skipped. (A delimiter sniffer takes the "." of 7.102e+03 for one.)
            energies = []
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                field = re.split(r"[,;\s]+", line.split("#", 1)[0].strip())[0]
                if not field:
                    continue
                try:
                    energies.append(float(field))
                except ValueError:
                    if energies:
                        raise
            if not energies or not np.all(np.isfinite(energies)):
                raise ValueError
            return np.asarray(energies, float)
        if ":" in text:
            start, stop, step = (float(v) for v in text.split(":"))
            if step <= 0 or stop <= start:
                raise ValueError
            return np.arange(start, stop + step / 2, step)
        return np.asarray([float(v) for v in text.split(",") if v.strip()], float)
    except ValueError:
        raise InvalidParameterError(f"--energies {text!r}: give START:STOP:STEP in eV (e.g. 7102:7192:2), a comma "
                                    "list, or a file with one energy per line.") from None


def _write_maps(out_dir, maps):
    """Each (y, x) map as a float32 TIFF with its pixel size (ImageJ-readable)."""
    import io

    import numpy as np
    import tifffile

    from battlab.provenance import atomic_write

    written = []
    for name, m in maps.items():
        buf = io.BytesIO()
        px = float(m.attrs.get("pixel_size_um", 1.0))
        tifffile.imwrite(buf, np.asarray(m.values, np.float32), imagej=True, resolution=(1 / px, 1 / px),
                         metadata={"unit": "um", "Info": f"{name} ({m.attrs.get('units', '')})"})
        written.append(atomic_write(Path(out_dir) / f"map_{name}.tif", buf.getvalue()))
    return written


#: --preset choices → battlab.imaging.presets names (the volume techniques)
_PRESETS = {"xray-ct": "X-ray CT", "neutron-tomography": "neutron tomography", "mri-1h": "MRI 1H"}


def _cmd_xrm(args) -> int:
    from battlab.provenance import Provenance, write_results
    from battlab.xrm.io import open_volume
    from battlab.xrm.workflow import analyse_volume

    vol = open_volume(args.input, voxel_size_um=args.voxel_um, dataset=args.dataset, axes=args.axes,
                      shape=tuple(args.shape) if args.shape else None, dtype=args.dtype)
    res = analyse_volume(vol, method=args.method, classes=args.classes, thresholds=args.threshold or None,
                         pore_phase=args.pore_phase, min_size_voxels=args.min_size_voxels, axis=args.axis,
                         max_voxels_in_memory=args.max_voxels_in_memory,
                         tortuosity_axes=() if args.no_tortuosity else ("z", "y", "x"),
                         progress=(lambda msg: print(f"battlab xrm: {msg}", file=sys.stderr)) if args.verbose
                         else None)
    params = dict(res.options)
    params.update({"dataset": args.dataset, "axes": args.axes, "notes": res.notes + vol.attrs.get("notes", [])})
    technique = "X-ray CT"
    if args.preset:
        from battlab.imaging.presets import apply_preset

        technique = _PRESETS[args.preset]
        vol = apply_preset(vol, technique)
        params.update(technique=technique, units=vol.attrs["units"], preset_units=vol.attrs["preset_units"],
                      display_clim=list(vol.attrs["display_clim"]))
    res.tables["summary"].insert(0, "technique", technique)
    prov = Provenance.for_data("battlab.xrm.analyse_volume", vol, params, command=args.command_line)
    tables = {k: v for k, v in res.tables.items() if len(v)}
    written = write_results(args.out, tables, prov)
    s = res.tables["summary"].iloc[0]
    print(f"xrm ({technique}): {vol.sizes['z']}×{vol.sizes['y']}×{vol.sizes['x']} voxels, porosity {s['porosity']:.4f}; wrote "
          f"{', '.join(p.name for p in written)} to {args.out}")
    for note in res.notes:
        print(f"battlab: note: {note}", file=sys.stderr)
    return 0


def _cmd_xanes(args) -> int:
    from battlab.errors import InvalidParameterError
    from battlab.provenance import Provenance, file_input, write_results
    from battlab.spectra._cli import reference_input_records, reference_spectra
    from battlab.xrm.io import open_volume
    from battlab.xrm.workflow import analyse_xanes
    from battlab.xrm.xanes import make_xanes_stack_array

    energies = parse_energies(args.energies)
    vol = open_volume(args.input, voxel_size_um=(1.0, args.pixel_um, args.pixel_um), dataset=args.dataset,
                      axes=args.axes)
    if vol.sizes["z"] != energies.size:
        raise InvalidParameterError(f"{Path(args.input).name} holds {vol.sizes['z']} images but --energies gives "
                                    f"{energies.size} energies; they must match one to one.")
    stack = make_xanes_stack_array(vol.values, energies_eV=energies, pixel_size_um=args.pixel_um)
    stack.attrs["battlab"] = vol.attrs["battlab"]
    if len(args.reference) < 2:
        raise InvalidParameterError("give at least two --reference NAME=FILE end-member spectra (e.g. the "
                                    "discharged and the charged material) for the state-of-charge map.")
    references = reference_spectra(args.reference, technique="xas")
    res = analyse_xanes(stack, references, charged=args.charged, e0=args.e0, min_step_fraction=args.min_step_fraction)
    params = dict(res.options)
    params.update({"energies_eV": [float(e) for e in energies], "pixel_size_um": args.pixel_um, "notes": res.notes})
    prov = Provenance.for_data("battlab.xrm.analyse_xanes", stack, params, command=args.command_line)
    prov.inputs += reference_input_records(references)  # they set the SOC map: recorded like the stack
    if Path(str(args.energies).strip()).is_file():  # the energy axis came from it
        prov.inputs.append(file_input(str(args.energies).strip(), role="energies"))
    written = write_results(args.out, res.tables, prov)
    written += _write_maps(args.out, res.maps)
    s = res.tables["summary"].iloc[0]
    print(f"xanes: {energies.size} energies, {s['n_sample_pixels']} sample pixels, {s['n_particles']} particles, "
          f"mean SOC {s['mean_soc']:.3f}; wrote {len(written)} files to {args.out}")
    return 0


def add_parser(sub):
    s = sub.add_parser("xrm", help="tomography volume: segmentation, porosity, profiles, sizes, tortuosity",
                       description="Segment a volume into phases and write phase fractions, the per-slice profile, "
                                   "connectivity, pore sizes, particles and tortuosity per axis as CSV with "
                                   "provenance.json. Fractions and profiles are computed chunk by chunk (any size).")
    s.add_argument("input", metavar="VOLUME", help="TIFF/OME-TIFF stack, folder of TIFF slices, HDF5/NeXus, zarr, "
                                                   ".npy, .mhd or raw (with --shape/--dtype)")
    s.add_argument("--voxel-um", type=float, help="voxel size in µm (required unless the file states it)")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--dataset", help="HDF5 dataset / zarr array path inside the file")
    s.add_argument("--axes", default="zyx", help="stored axis order, e.g. yxz (default zyx)")
    s.add_argument("--shape", type=int, nargs=3, metavar=("NZ", "NY", "NX"), help="raw files: volume shape")
    s.add_argument("--dtype", help="raw files: NumPy dtype, e.g. uint16 or >f4")
    s.add_argument("--method", default="multiotsu", choices=["otsu", "multiotsu", "manual", "local"])
    s.add_argument("--classes", type=int, default=3, help="phases for multi-Otsu (default 3: pore, binder, active)")
    s.add_argument("--threshold", type=float, action="append", default=[],
                   help="manual grey-level threshold (repeatable; with --method manual)")
    s.add_argument("--pore-phase", type=int, default=0, help="phase number of the pores (0 = darkest)")
    s.add_argument("--min-size-voxels", type=int, default=5, help="islands smaller than this are reassigned")
    s.add_argument("--axis", default="z", choices=["z", "y", "x"], help="through-thickness axis of the profile")
    s.add_argument("--max-voxels-in-memory", type=int, default=128 ** 3,
                   help="size of the central sub-volume for connectivity, sizes and tortuosity")
    s.add_argument("--no-tortuosity", action="store_true", help="skip the diffusion simulation")
    s.add_argument("--verbose", action="store_true", help="print each step to stderr")
    s.add_argument("--preset", choices=list(_PRESETS), help="imaging technique of the volume: its units and display "
                                                            "limits go into provenance.json and the summary")
    s.set_defaults(func=_cmd_xrm)

    x = sub.add_parser("xanes", help="XANES image stack: edge-energy, white-line and state-of-charge maps",
                       description="Normalise every pixel's spectrum, map the edge energy and white line, fit the "
                                   "references (non-negative LCF) and write per-particle SOC, histograms, PCA and "
                                   "each map as a 32-bit TIFF.")
    x.add_argument("input", metavar="STACK", help="image stack, one image per energy (TIFF, HDF5, zarr, .npy)")
    x.add_argument("--energies", required=True, help="START:STOP:STEP (eV, inclusive), E1,E2,… or a file")
    x.add_argument("--pixel-um", type=float, required=True, help="pixel size at the sample, µm")
    x.add_argument("--reference", action="append", default=[], metavar="NAME=FILE",
                   help="end-member XAS spectrum (repeatable, at least two)")
    x.add_argument("--charged", help="reference whose fraction is the SOC (default: the last)")
    x.add_argument("--e0", type=float, help="edge energy, eV (default: from the mean spectrum)")
    x.add_argument("--min-step-fraction", type=float, default=0.1, help="background cut on the edge step")
    x.add_argument("--dataset", help="HDF5 dataset / zarr array path")
    x.add_argument("--axes", default="zyx", help="stored axis order with z = energy (default zyx)")
    x.add_argument("--out", required=True, help="output folder (created)")
    x.set_defaults(func=_cmd_xanes)
    return s
