"""``battlab secm approach`` (approach-curve fits) and ``battlab secm map`` (SECM/SICM/ESM maps)."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["add_parser"]


def _cmd_approach(args) -> int:
    from battlab.probes.io import read_approach_curve
    from battlab.probes.workflow import analyse_approach
    from battlab.provenance import Provenance, write_results

    curves, inputs = {}, []
    for path in args.inputs:
        c = read_approach_curve(path, distance_unit=args.distance_unit, current_unit=args.current_unit)
        name = Path(path).stem
        if name in curves:
            name = str(path)
        curves[name] = c
        meta = c.attrs["battlab"]
        inputs.append({"name": Path(path).name, "sha256": meta["sha256"], "format": meta["format"]})
    fits, long = analyse_approach(curves, radius_um=args.radius_um, rg=args.rg, model=args.model,
                                  diffusion_cm2_s=args.diffusion_cm2_s, bulk_current_nA=args.bulk_current_nA,
                                  min_L=args.min_L)
    params = {k: getattr(args, k) for k in ("radius_um", "rg", "model", "diffusion_cm2_s", "bulk_current_nA",
                                            "min_L", "distance_unit", "current_unit")}
    params["theory"] = "Cornut & Lefrou (2007, 2008) disk-UME feedback approximations"
    prov = Provenance("battlab.probes.fit_approach_curve", params, inputs, command=args.command_line)
    written = write_results(args.out, {"approach_fits": fits, "approach_curves": long}, prov)
    for row in fits.itertuples():
        k = f", k = {row.k_cm_s:.3g} ± {row.k_err_cm_s:.2g} cm/s" if row.k_cm_s == row.k_cm_s else ""
        print(f"{row.curve}: {row.classification}, κ = {row.kappa:.4g}{k}, d0 = {row.d0_um:.3f} µm, "
              f"I_T,∞ = {row.bulk_current_nA:.4g} nA")
    for row in fits.itertuples():
        if row.note:
            print(f"battlab: note: {row.curve}: {row.note}", file=sys.stderr)
    print(f"wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _cmd_map(args) -> int:
    from battlab.probes.io import read_probe_map
    from battlab.probes.workflow import analyse_probe_map
    from battlab.provenance import Provenance, write_results

    image = read_probe_map(args.input, kind=args.kind, pixel_size_um=args.pixel_size_um, value_unit=args.value_unit,
                           value_column=args.value_column)
    res = analyse_probe_map(image, levelling=args.levelling, bulk_current_nA=args.bulk_current_nA,
                            working_distance_um=args.working_distance_um, radius_um=args.radius_um, rg=args.rg,
                            diffusion_cm2_s=args.diffusion_cm2_s, threshold=args.threshold)
    params = {k: getattr(args, k) for k in ("kind", "pixel_size_um", "value_unit", "value_column", "levelling",
                                            "bulk_current_nA",
                                            "working_distance_um", "radius_um", "rg", "diffusion_cm2_s", "threshold")}
    prov = Provenance.for_data("battlab.probes.analyse_probe_map", image, params, command=args.command_line)
    written = write_results(args.out, res["tables"], prov)
    s = res["tables"]["summary"].iloc[0]
    print(f"{image.attrs['channel']}: {image.sizes['x']}×{image.sizes['y']} px, median {s['median']:.4g} {s['units']}")
    if "active_summary" in res["tables"]:
        a = res["tables"]["active_summary"].iloc[0]
        print(f"active: {a['active_fraction'] * 100:.2f} % of the map, {a['n_sites']} site(s) above {a['threshold']:g} "
              f"{a['units']}")
    print(f"wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def add_parser(sub):
    s = sub.add_parser("secm", help="SECM approach curves (κ, k, contact) and SECM/SICM/ESM maps")
    ss = s.add_subparsers(dest="secm_command", required=True)
    a = ss.add_parser("approach", help="fit approach curves with the Cornut-Lefrou feedback theory")
    a.add_argument("inputs", nargs="+", metavar="FILE", help="text/CSV tables of distance and current")
    a.add_argument("--out", required=True, help="output folder (created)")
    a.add_argument("--radius-um", type=float, required=True, help="disk radius a of the UME (µm); no default")
    a.add_argument("--rg", type=float, default=10.0, help="RG = sheath radius / a (default 10)")
    a.add_argument("--model", choices=["auto", "kinetic", "conductor", "insulator"], default="auto")
    a.add_argument("--diffusion-cm2-s", type=float, help="mediator D (cm²/s), to convert κ into k (cm/s)")
    a.add_argument("--bulk-current-nA", type=float, help="known I_T,∞ (nA); fitted when omitted")
    a.add_argument("--min-L", type=float, default=0.05, help="closest L = d/a used in the fit (default 0.05)")
    a.add_argument("--distance-unit", help="distance unit when the header does not state it (µm, nm)")
    a.add_argument("--current-unit", help="current unit when the header does not state it (nA, pA, A)")
    a.set_defaults(func=_cmd_approach)

    m = ss.add_parser("map", help="SECM/SICM/ESM map: summary, levelling, SECM κ/k map and active sites")
    m.add_argument("input", metavar="FILE", help="x,y,value CSV, text matrix or TIFF map")
    m.add_argument("--out", required=True, help="output folder (created)")
    m.add_argument("--kind", choices=["secm", "sicm-current", "sicm-height", "esm-amplitude", "esm-phase"],
                   default="secm")
    m.add_argument("--pixel-size-um", type=float, help="pixel size for matrix/TIFF maps (µm)")
    m.add_argument("--value-unit", help="unit of the values when the file does not state it (nA, pA, nm, pm, deg)")
    m.add_argument("--value-column", help="column of an x,y,value table to map (default: the first after x, y)")
    m.add_argument("--levelling", choices=["none", "plane", "polynomial", "lines-median", "lines-poly"],
                   default="none", help="background removal (battlab.afm.topography.level)")
    m.add_argument("--bulk-current-nA", type=float, help="SECM: I_T,∞ measured far from the surface (nA)")
    m.add_argument("--working-distance-um", type=float, help="SECM: tip–substrate distance of the map (µm)")
    m.add_argument("--radius-um", type=float, help="SECM: tip radius a (µm)")
    m.add_argument("--rg", type=float, default=10.0)
    m.add_argument("--diffusion-cm2-s", type=float, help="SECM: mediator D (cm²/s) for k in cm/s")
    m.add_argument("--threshold", type=float,
                   help="active-site threshold (cm/s for a k map, Ni for a feedback map, else map units)")
    m.set_defaults(func=_cmd_map)
