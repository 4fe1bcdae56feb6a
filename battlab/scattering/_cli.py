"""``battlab saxs`` and ``battlab reflectometry``: fits of I(q) and R(q) files into CSV tables."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

__all__ = ["add_parser"]


def _curves(files, reader, timestamps, q_units):
    from battlab.scattering.io import _load_series

    exts = (".dat", ".txt", ".csv", ".abs", ".tsv", ".ort", ".refl")
    paths = []
    for f in files:
        p = Path(f)
        paths += sorted(x for x in p.iterdir() if x.suffix.lower() in exts and "timestamp" not in x.name.lower()) \
            if p.is_dir() else [p]
    opts = {"q_units": q_units} if q_units else {}
    return _load_series(reader, paths, exts, timestamps, "*", "curve", opts), paths


def _echem(args):
    from battlab.series import load_cycling

    return load_cycling(args.echem) if args.echem else None


def _warn(caught):
    for w in caught:
        print(f"battlab: warning: {w.message}", file=sys.stderr)


def _cmd_saxs(args) -> int:
    from battlab.errors import BattlabWarning
    from battlab.provenance import Provenance, write_results
    from battlab.scattering.io import read_saxs
    from battlab.scattering.saxs import fit_saxs_series, globule_model
    from battlab.series import cycling_input_record, timestamps_input_record

    series, paths = _curves(args.files, read_saxs, args.timestamps, args.q_units)
    reduction = None
    if args.background or args.thickness_cm is not None or args.calibration_factor != 1.0 \
            or args.sample_transmission != 1.0:
        from battlab.scattering.io import stack_scattering
        from battlab.scattering.saxs import reduce_saxs

        background = read_saxs(args.background, q_units=args.q_units) if args.background else None
        reduction = {"background": Path(args.background).name if args.background else None,
                     "sample_transmission": args.sample_transmission,
                     "background_transmission": args.background_transmission,
                     "background_scale": args.background_scale, "thickness_cm": args.thickness_cm,
                     "calibration_factor": args.calibration_factor}
        opts = {k: v for k, v in reduction.items() if k != "background"}
        curves = [reduce_saxs(series.isel(time=i), background=background, **opts)
                  for i in range(series.sizes["time"])]
        meta = series.attrs["battlab"]
        series = stack_scattering(curves, times=list(series["time"].to_numpy()))
        series.attrs["battlab"] = meta
    echem = _echem(args)
    fixed = {"B_inc": args.fix_background} if args.fix_background is not None else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BattlabWarning)
        table = fit_saxs_series(series, echem=echem, clock_offset_s=args.clock_offset_s, time_basis=args.time_basis,
                                q_min_inv_A=args.q_min, q_max_inv_A=args.q_max, porod_fraction=args.porod_fraction,
                                contrast_1e6_per_A2=args.contrast, fixed=fixed)
    _warn(caught)
    # Data and model of every curve in one long table, for plotting elsewhere.
    import numpy as np
    import pandas as pd

    q = series["q_inv_A"].to_numpy()
    curves = []
    for i in range(series.sizes["time"]):
        row = table.iloc[i]
        model = (globule_model(q, **{k: row[k] for k in ("A_Porod", "A_globule", "R_g_A", "B_inc")})
                 if np.isfinite(row.get("R_g_A", np.nan)) else np.full_like(q, np.nan))
        curves.append(pd.DataFrame({"curve": i, "q_inv_A": q, "intensity": series.isel(time=i).to_numpy(),
                                    "sigma": series["sigma"].isel(time=i).to_numpy(), "model": model}))
    params = {"files": [p.name for p in paths], "q_min_inv_A": args.q_min, "q_max_inv_A": args.q_max,
              "q_units": args.q_units or "from the header (Å⁻¹ when unstated)", "porod_fraction": args.porod_fraction,
              "contrast_1e6_per_A2": args.contrast, "fixed": fixed, "model": "seed Eq. (1) + B_inc",
              "guinier_qRg_limit": 1.3, "reduction": reduction, "notes": table.attrs.get("notes", [])}
    if echem is not None:
        params.update(clock_offset_s=args.clock_offset_s, time_basis=args.time_basis)
    prov = Provenance.for_data("battlab.scattering.fit_saxs_series", series.isel(time=0), params,
                               command=args.command_line)
    prov.inputs = [{"name": p.name, "sha256": _sha(p), "format": "saxs-text"} for p in paths]
    if args.timestamps:  # the times come from it: a re-run must find the same content
        prov.inputs.append(timestamps_input_record(args.timestamps))
    if args.background:
        prov.inputs.append({"name": Path(args.background).name, "sha256": _sha(args.background),
                            "format": "saxs-text", "role": "background"})
    if echem is not None:
        prov.inputs.append(cycling_input_record(echem, args.echem))
    written = write_results(args.out, {"saxs_fits": table, "saxs_curves": pd.concat(curves, ignore_index=True)},
                            prov)
    print(f"saxs: {len(table)} curve(s); R_g {table['R_g_A'].min():.4g}–{table['R_g_A'].max():.4g} Å; wrote "
          f"{', '.join(p.name for p in written)} to {args.out}")
    for note in table.attrs.get("notes", []):
        print(f"battlab: note: {note}", file=sys.stderr)
    return 0


def _sha(path):
    from battlab.provenance import sha256_of

    return sha256_of(path)


def _cmd_reflectometry(args) -> int:
    import pandas as pd

    from battlab.errors import BattlabWarning, InvalidParameterError
    from battlab.provenance import Provenance, write_results
    from battlab.scattering.io import read_reflectivity
    from battlab.scattering.reflectometry import fit_reflectivity_series, read_layers, sld_profile
    from battlab.series import cycling_input_record, timestamps_input_record

    layers = read_layers(args.layers)
    free = [f.strip() for item in args.free for f in item.split(",") if f.strip()]
    if not free:
        raise InvalidParameterError("give --free, e.g. --free SEI:thickness_A,SEI:sld_1e-6_per_A2.")
    potentials = None
    if args.potentials:
        try:
            potentials = [float(v) for v in args.potentials.split(",")]
        except ValueError:
            raise InvalidParameterError("--potentials: comma-separated volts, one per file.") from None
    series, paths = _curves(args.files, read_reflectivity, args.timestamps, args.q_units)
    echem = _echem(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BattlabWarning)
        table, fits = fit_reflectivity_series(series, layers, free=free, potentials_V=potentials, echem=echem,
                                              clock_offset_s=args.clock_offset_s, time_basis=args.time_basis,
                                              scale=args.scale, background=args.background,
                                              resolution_pct=args.resolution_pct, q_min_inv_A=args.q_min,
                                              q_max_inv_A=args.q_max)
    _warn(caught)
    q = series["q_inv_A"].to_numpy()
    curves, profiles, layer_rows = [], [], []
    for i, fit in enumerate(fits):
        if fit is None:
            continue
        dq = series["dq_inv_A"].isel(time=i).to_numpy()
        curves.append(pd.DataFrame({"curve": i, "q_inv_A": q, "reflectivity": series.isel(time=i).to_numpy(),
                                    "sigma": series["sigma"].isel(time=i).to_numpy(),
                                    "model": fit.predict(q, dq_inv_A=dq if fit.resolution_pct is None else None)}))
        profiles.append(sld_profile(fit.layers).assign(curve=i))
        layer_rows.append(fit.layers.assign(curve=i))
    if not curves:
        raise InvalidParameterError("no curve could be fitted; see the notes: " + "; ".join(table.attrs["notes"]))
    params = {"files": [p.name for p in paths], "layers": layers.to_dict("records"), "free": free,
              "scale": args.scale, "background": args.background, "resolution_pct": args.resolution_pct,
              "q_min_inv_A": args.q_min, "q_max_inv_A": args.q_max, "potentials_V": potentials,
              "residuals": "log10 R weighted by dR", "notes": table.attrs.get("notes", [])}
    prov = Provenance.for_data("battlab.scattering.fit_reflectivity_series", series.isel(time=0), params,
                               command=args.command_line)
    prov.inputs = [{"name": p.name, "sha256": _sha(p), "format": "reflectivity-text"} for p in paths]
    prov.inputs.append({"name": Path(args.layers).name, "sha256": _sha(args.layers), "format": "csv",
                        "role": "layers"})
    if args.timestamps:  # the times come from it: a re-run must find the same content
        prov.inputs.append(timestamps_input_record(args.timestamps))
    if echem is not None:
        prov.inputs.append(cycling_input_record(echem, args.echem))
    written = write_results(args.out, {"reflectivity_fits": table,
                                       "reflectivity_curves": pd.concat(curves, ignore_index=True),
                                       "sld_profiles": pd.concat(profiles, ignore_index=True),
                                       "fitted_layers": pd.concat(layer_rows, ignore_index=True)}, prov)
    print(f"reflectometry: {len(table)} curve(s), free {', '.join(free)}; wrote "
          f"{', '.join(p.name for p in written)} to {args.out}")
    for note in table.attrs.get("notes", []):
        print(f"battlab: note: {note}", file=sys.stderr)
    return 0


def _common(s, what):
    s.add_argument("files", nargs="+", metavar="FILE", help=f"{what} text files (.dat/.txt/.csv…) or a folder of them")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--q-units", choices=["A-1", "nm-1"], help="unit of q when the files do not say it")
    s.add_argument("--q-min", type=float, help="lowest q used (Å⁻¹)")
    s.add_argument("--q-max", type=float, help="highest q used (Å⁻¹)")
    s.add_argument("--timestamps", help="CSV with columns file,time (ISO 8601 UTC); default: file-name order")
    s.add_argument("--echem", help="cycling file of the cell: voltage, capacity and SOC are joined to each curve")
    s.add_argument("--clock-offset-s", type=float, default=0.0, help="cycler time = curve time + offset (s)")
    s.add_argument("--time-basis", default="auto", choices=["auto", "test", "unix"],
                   help="match curve times to the cycler's test time or wall clock")


def add_parser(sub):
    s = sub.add_parser("saxs", help="SAXS/SANS: seed Eq. (1) (A_Porod, A_globule, R_g), Guinier, Porod, invariant "
                                    "per curve, trends against the cycling")
    _common(s, "I(q)")
    s.add_argument("--contrast", type=float, help="Δρ in 1e-6 Å⁻² (specific surface and volume fraction; "
                                                  "needs absolute intensities in cm⁻¹)")
    s.add_argument("--porod-fraction", type=float, default=0.3, help="upper fraction of points for the Porod fit")
    s.add_argument("--fix-background", type=float, metavar="B_INC", help="hold the incoherent background B_inc")
    s.add_argument("--background", metavar="FILE", help="empty-cell/solvent I(q) subtracted from every curve first")
    s.add_argument("--sample-transmission", type=float, default=1.0, help="sample transmission (0–1]")
    s.add_argument("--background-transmission", type=float, default=1.0, help="background transmission (0–1]")
    s.add_argument("--background-scale", type=float, default=1.0, help="factor on the background")
    s.add_argument("--thickness-cm", type=float, help="sample thickness in cm (per-thickness intensity)")
    s.add_argument("--calibration-factor", type=float, default=1.0,
                   help="scale to absolute units (cm⁻¹), e.g. from water or glassy carbon")
    s.set_defaults(func=_cmd_saxs)

    r = sub.add_parser("reflectometry", help="neutron/X-ray reflectometry: Parratt fit of chosen layer parameters "
                                             "(SEI thickness, SLD, roughness) per curve, against potential")
    _common(r, "R(q)")
    r.add_argument("--layers", required=True,
                   help="CSV layer table: name,thickness_A,sld_1e-6_per_A2,roughness_A (fronting medium first)")
    r.add_argument("--free", action="append", default=[], metavar="LAYER:PARAM[,…]",
                   help="fitted parameters, e.g. SEI:thickness_A,SEI:sld_1e-6_per_A2 (also scale, background)")
    r.add_argument("--scale", type=float, default=1.0, help="reflectivity scale (start value)")
    r.add_argument("--background", type=float, default=0.0, help="flat background (start value)")
    r.add_argument("--resolution-pct", type=float, help="dq/q FWHM in %% when the files have no dq column")
    r.add_argument("--potentials", help="electrode potential of each file in V, comma-separated (else --echem)")
    r.set_defaults(func=_cmd_reflectometry)
    return s
