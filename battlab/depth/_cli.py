"""``battlab depth ndp|sims|sims-map|xps``: depth profiles from NDP spectra, ToF-SIMS exports and ion maps, and
XPS sputter series."""

from __future__ import annotations

from pathlib import Path

__all__ = ["add_parser"]


def _pairs(texts, *, what: str, example: str, numbers: int):
    from battlab.errors import InvalidParameterError

    out = {}
    for text in texts:
        try:
            name, rest = text.split("=", 1)
            values = [float(v) for v in rest.split(",")]
            if len(values) != numbers:
                raise ValueError
        except ValueError:
            raise InvalidParameterError(f"{what} {text!r}: use {example}.") from None
        out[name.strip()] = tuple(values) if numbers > 1 else values[0]
    return out


def _markers(texts) -> dict:
    from battlab.errors import InvalidParameterError

    out = {}
    for text in texts:
        layer, sep, fragment = text.partition("=")
        if not sep or not layer.strip() or not fragment.strip():
            raise InvalidParameterError(f"--marker {text!r}: use LAYER=FRAGMENT, e.g. inner=LiF-.")
        out[layer.strip()] = fragment.strip()
    return out


def _layer_arguments(parser, *, source: str):
    parser.add_argument("--marker", action="append", default=[], metavar="LAYER=FRAGMENT",
                        help=f"layer and the fragment that marks it: its thickness from {source} (repeatable)")
    parser.add_argument("--method", choices=["half", "gradient"], default="half",
                        help="interface: 50 %% crossing or steepest gradient")


def _input_record(frame_or_array, path):
    from battlab.provenance import file_input

    return file_input(path, format=getattr(frame_or_array, "attrs", {}).get("battlab", {}).get("format"))


def _finish(args, tables, analysis, data, params, extra_inputs=()):
    from battlab.provenance import Provenance, write_results

    prov = Provenance.for_data(analysis, data, params, command=args.command_line)
    prov.inputs.extend(extra_inputs)
    written = write_results(args.out, tables, prov)
    return written


def _cmd_ndp(args) -> int:
    from battlab.depth.ndp import (
        layer_inventory,
        ndp_depth_profile,
        ndp_series,
        read_ndp_spectra,
        read_stopping_table,
    )
    from battlab.errors import InvalidParameterError

    if (args.stopping is None) == (args.stopping_keV_um is None):
        raise InvalidParameterError("give the stopping power: --stopping TABLE.csv (energy keV, keV/µm) or "
                                    "--stopping-kev-um S for a constant.")
    spectra = read_ndp_spectra(args.input, offset_keV=args.offset_kev, gain_keV_per_channel=args.gain_kev)
    stopping = read_stopping_table(args.stopping) if args.stopping else args.stopping_keV_um
    layers = _pairs(args.layer, what="--layer", example="NAME=TOP_UM,BOTTOM_UM, e.g. surface=0,1", numbers=2)
    window = tuple(args.energy_window_kev) if args.energy_window_kev else None
    opts = {"particle": args.particle, "bin_um": args.bin_um, "max_depth_um": args.max_depth_um,
            "energy_window_keV": window, "fluence_n_cm2": args.fluence,
            "solid_angle_fraction": args.solid_angle_fraction,
            "li6_abundance": args.li6_abundance, "energy_resolution_keV": args.energy_resolution_kev}
    tables = {}
    if spectra.ndim == 1:
        profile = ndp_depth_profile(spectra, stopping, **opts)
        tables["ndp_profile"] = profile
        if layers:
            tables["ndp_layers"] = layer_inventory(profile, layers)
        notes = profile.attrs["battlab"]["notes"]
        summary = f"ndp: 1 spectrum → {len(profile)} depth bins of {args.bin_um:g} µm"
    else:
        echem = None
        if args.echem:
            from battlab.series import cycling_input_record, load_cycling

            echem = load_cycling(args.echem)
        arr, table = ndp_series(spectra, stopping, layers=layers or None, echem=echem,
                                clock_offset_s=args.clock_offset_s, **opts)
        long = arr.to_dataframe(name=arr.attrs["long_name"].replace(" ", "_")).reset_index()
        tables["ndp_profiles"] = long
        tables["ndp_series"] = table
        notes = table.attrs["battlab"]["notes"]
        summary = f"ndp: {arr.sizes['time']} spectra → {arr.sizes['depth_um']} depth bins of {args.bin_um:g} µm"
    params = dict(opts, stopping=args.stopping or f"constant {args.stopping_keV_um} keV/µm",
                  offset_keV=args.offset_kev, gain_keV_per_channel=args.gain_kev, layers=layers,
                  clock_offset_s=args.clock_offset_s)
    extra = [_input_record(stopping, args.stopping)] if args.stopping else []
    if args.echem and spectra.ndim > 1:
        extra.append(cycling_input_record(echem, args.echem))
    elif args.echem:
        notes = notes + ["--echem ignored: one spectrum has no time series to place on the cycling clock"]
    params["notes"] = notes
    written = _finish(args, tables, "battlab.depth.ndp_depth_profile", spectra, params, extra)
    print(f"{summary}; wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _cmd_sims(args) -> int:
    from battlab.depth.sims import (
        calibrate_depth,
        fragment_ratio,
        layer_thicknesses,
        normalize_profile,
        read_sims_profile,
        sims_interfaces,
        sims_long,
    )

    raw = read_sims_profile(args.input, time_per_scan_s=args.time_per_scan_s)
    profile, cal = calibrate_depth(raw, rate_nm_s=args.rate_nm_s, crater_depth_nm=args.crater_depth_nm,
                                   reference_depth_nm=args.reference_depth_nm,
                                   reference_fragment=args.reference_fragment)
    if args.normalize != "none":
        profile = normalize_profile(profile, to=args.normalize)
    for ratio in args.ratio:
        num, _, den = ratio.partition("/")
        profile[ratio] = fragment_ratio(profile, num.strip(), den.strip()).to_numpy()
    tables = {"sims_profile": profile, "sims_profile_long": sims_long(profile),
              "sims_interfaces": sims_interfaces(profile, method=args.method)}
    markers = _markers(args.marker)
    if markers:
        tables["sims_layers"] = layer_thicknesses(profile, markers, method=args.method)
    params = {"calibration": cal, "normalize": args.normalize, "ratios": args.ratio, "markers": markers,
              "method": args.method, "time_per_scan_s": args.time_per_scan_s}
    written = _finish(args, tables, "battlab.depth.sims", raw, params)
    print(f"sims: {len(profile)} sputter steps, {len(raw.attrs['fragments'])} fragments, rate "
          f"{cal['rate_nm_s']:.4g} nm/s ({cal['method']}); wrote {', '.join(p.name for p in written)} to {args.out}")
    if "sims_layers" in tables:
        for r in tables["sims_layers"].itertuples():
            print(f"  {r.layer}: {r.thickness:.2f} {r.units} ({r.marker})")
    return 0


def _cmd_sims_map(args) -> int:
    from battlab.depth.sims import lateral_average, layer_thicknesses, ratio_map, read_sims_maps
    from battlab.errors import InvalidParameterError
    from battlab.provenance import Provenance, write_results

    sources = {}
    for text in args.map:
        if "=" not in text:
            raise InvalidParameterError(f"--map {text!r}: use FRAGMENT=FILE or FRAGMENT=FILE.h5:DATASET.")
        fragment, path = text.split("=", 1)
        if ":" in path and Path(path.rsplit(":", 1)[0]).suffix.lower() in (".h5", ".hdf5", ".nxs"):
            path, dataset = path.rsplit(":", 1)
            sources[fragment.strip()] = (path, dataset)
        else:
            sources[fragment.strip()] = path
    maps = read_sims_maps(sources, pixel_size_um=args.pixel_size_um, depth_per_scan_nm=args.depth_per_scan_nm)
    profile = lateral_average(maps)
    tables = {"sims_map_profile": profile}
    for ratio in args.ratio:
        num, _, den = ratio.partition("/")
        rm = ratio_map(maps, num.strip(), den.strip())
        tables[f"ratio_map_{num.strip()}_over_{den.strip()}"] = rm.to_dataframe(name=ratio).reset_index()
    markers = _markers(args.marker)
    if markers:
        axis = "depth_nm" if "depth_nm" in profile else "scan"
        tables["sims_map_layers"] = layer_thicknesses(profile, markers, axis=axis, method=args.method)
    params = {"pixel_size_um": args.pixel_size_um, "depth_per_scan_nm": args.depth_per_scan_nm,
              "ratios": args.ratio, "markers": markers, "method": args.method}
    prov = Provenance(analysis="battlab.depth.sims_maps", parameters=params, inputs=list(maps.attrs["inputs"]),
                      command=args.command_line)
    written = write_results(args.out, tables, prov)
    print(f"sims-map: {maps.sizes['fragment']} fragments × {maps.sizes['depth']} scans × {maps.sizes['y_um']}×"
          f"{maps.sizes['x_um']} px; wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _cmd_xps(args) -> int:
    from battlab.depth.xps_depth import read_xps_depth, xps_depth_long, xps_depth_profile

    series = read_xps_depth(args.input, **({"time_per_step_s": args.time_per_step_s}
                                           if args.time_per_step_s else {}))
    rsf = _pairs(args.rsf, what="--rsf", example="ELEMENT=VALUE, e.g. Li=0.0568", numbers=1) or None
    atomic, species = xps_depth_profile(series, rate_nm_s=args.rate_nm_s, rsf=rsf, background=args.background)
    first = next(iter(series.values()))
    tables = {"xps_atomic": atomic, "xps_atomic_long": xps_depth_long(atomic), "xps_species": species}
    params = {"rate_nm_s": args.rate_nm_s, "rsf": rsf or "Scofield (Al Kα)", "background": args.background,
              "regions": list(series), "time_per_step_s": args.time_per_step_s}
    written = _finish(args, tables, "battlab.depth.xps_depth_profile", first, params)
    print(f"xps: {len(atomic)} sputter steps × {len(series)} regions; wrote "
          f"{', '.join(p.name for p in written)} to {args.out}")
    return 0


def add_parser(sub):
    s = sub.add_parser("depth", help="depth profiles: NDP (Li vs depth), ToF-SIMS (sputter depth, layers), XPS series")
    dsub = s.add_subparsers(dest="depth_command", required=True)

    n = dsub.add_parser("ndp", help="Li concentration vs depth from NDP energy spectra and a stopping-power table")
    n.add_argument("input", help="CSV: channel or energy_keV, then one counts column per spectrum")
    n.add_argument("--out", required=True, help="output folder (created)")
    n.add_argument("--stopping", help="CSV stopping table: energy (keV; MeV if the header says so), keV/µm")
    n.add_argument("--stopping-kev-um", dest="stopping_keV_um", type=float, help="constant stopping power, keV/µm")
    n.add_argument("--offset-kev", type=float, default=0.0, help="energy of channel 0, keV")
    n.add_argument("--gain-kev", type=float, help="keV per channel (needed when the file is in channels)")
    n.add_argument("--particle", choices=["triton", "alpha"], default="triton")
    n.add_argument("--energy-window-kev", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="channels used (default: above the α line for tritons)")
    n.add_argument("--bin-um", type=float, default=0.25, help="depth-bin width, µm")
    n.add_argument("--max-depth-um", type=float, help="deepest bin edge, µm")
    n.add_argument("--fluence", type=float, help="neutron fluence, n/cm² (with --solid-angle-fraction: atoms/cm³)")
    n.add_argument("--solid-angle-fraction", type=float, help="detector Ω/4π × efficiency")
    n.add_argument("--li6-abundance", type=float, default=0.0759, help="⁶Li atom fraction (natural 0.0759)")
    n.add_argument("--energy-resolution-kev", type=float, help="detector FWHM, keV (depth-resolution note)")
    n.add_argument("--layer", action="append", default=[], metavar="NAME=TOP,BOTTOM",
                   help="layer for the Li inventory, µm (repeatable)")
    n.add_argument("--echem", metavar="CYCLING_FILE",
                   help="cycling file: voltage, capacity_mAh and soc at each spectrum of a series")
    n.add_argument("--clock-offset-s", type=float, default=0.0,
                   help="cycler test time at spectrum time 0 (the header times of the spectra columns)")
    n.set_defaults(func=_cmd_ndp)

    m = dsub.add_parser("sims", help="ToF-SIMS depth profile: sputter depth, normalisation, ratios, layers")
    m.add_argument("input", help="CSV export: sputter time (s) or scan, then one column per fragment")
    m.add_argument("--out", required=True, help="output folder (created)")
    cal = m.add_mutually_exclusive_group(required=True)
    cal.add_argument("--rate-nm-s", type=float, help="sputter rate, nm/s")
    cal.add_argument("--crater-depth-nm", type=float, help="crater depth from profilometry, nm")
    cal.add_argument("--reference-depth-nm", type=float, help="known depth of --reference-fragment's first interface")
    m.add_argument("--reference-fragment", help="fragment marking the reference interface")
    m.add_argument("--time-per-scan-s", type=float, help="sputter seconds per scan when the axis counts scans")
    m.add_argument("--normalize", default="none", help="'none', 'total' or a matrix fragment name")
    m.add_argument("--ratio", action="append", default=[], metavar="A/B", help="fragment ratio column (repeatable)")
    _layer_arguments(m, source="the profile")
    m.set_defaults(func=_cmd_sims)

    g = dsub.add_parser("sims-map", help="ToF-SIMS ion maps: ratio maps, lateral-average profile, layers")
    g.add_argument("--map", action="append", required=True, metavar="FRAGMENT=FILE",
                   help="one stack per fragment: .npy, multi-page .tif or FILE.h5:DATASET (repeatable)")
    g.add_argument("--out", required=True, help="output folder (created)")
    g.add_argument("--pixel-size-um", type=float, required=True, help="lateral pixel size, µm")
    g.add_argument("--depth-per-scan-nm", type=float, help="sputtered depth per scan, nm (else scan numbers)")
    g.add_argument("--ratio", action="append", default=[], metavar="A/B", help="ratio map, summed over depth")
    _layer_arguments(g, source="the lateral-average profile")
    g.set_defaults(func=_cmd_sims_map)

    x = dsub.add_parser("xps", help="XPS sputter series: atomic %% vs depth (Shirley + SEI components per step)")
    x.add_argument("input", help="VAMAS .vms (one block per region and sputter step) or a long CSV: region, "
                                 "sputter_time_s, binding_energy_eV, intensity")
    x.add_argument("--time-per-step-s", type=float,
                   help="VAMAS: sputter seconds between steps when the block names do not say (Etch Time … s)")
    x.add_argument("--out", required=True, help="output folder (created)")
    x.add_argument("--rate-nm-s", type=float, help="sputter rate, nm/s (adds depth_nm)")
    x.add_argument("--rsf", action="append", default=[], metavar="EL=VALUE", help="sensitivity factor (repeatable)")
    x.add_argument("--background", choices=["shirley", "tougaard", "linear"], default="shirley")
    x.set_defaults(func=_cmd_xps)
    return s
