"""``battlab afm`` (levelling, roughness, histogram, PSD, grains of every image channel) and
``battlab afm-force`` (contact-mechanics fits of force curves and force-volume maps)."""

from __future__ import annotations

import sys

__all__ = ["add_parser", "analyse_image", "analyse_profile", "analyse_force"]

_LEVELLING = ["none", "plane", "polynomial", "lines-median", "lines-poly"]


def analyse_image(channels, *, channel=None, levelling="plane", order=2, mask_features=False,
                  threshold_sigma=2.0, scars=False, grain_threshold=None, min_grain_px=4):
    """Tables for an image file: roughness of every channel; histogram, PSD and grains of one.

    The same analysis serves the command line and the app's export.
    """
    import pandas as pd

    from battlab.afm.topography import (
        grain_summary,
        height_histogram,
        level,
        line_roughness,
        psd,
        remove_scars,
        roughness,
        segment_grains,
    )
    from battlab.errors import InvalidParameterError

    if channel is not None and channel not in channels:
        raise InvalidParameterError(f"no channel {channel!r}; the file has {', '.join(channels)}.")
    rows, levelled = [], {}
    for name, image in channels.items():
        img = remove_scars(image) if scars else image
        lv = level(img, method=levelling, order=order, mask_features=mask_features, threshold_sigma=threshold_sigma)
        levelled[name] = lv
        r = roughness(lv)
        line = line_roughness(lv)
        rows.append({"channel": name, "units": r["units"], **{k: r[k] for k in
                     ("Sa", "Sq", "Ssk", "Sku", "Sp", "Sv", "Sz", "Sdr")}, "Ra": line["Ra"], "Rq": line["Rq"],
                     "scan_x_um": r["scan_size_um"][0], "scan_y_um": r["scan_size_um"][1],
                     "pixel_size_um": r["pixel_size_um"], "nx": image.sizes["x"], "ny": image.sizes["y"],
                     "levelling": levelling if levelling != "polynomial" else f"polynomial order {order}"})
    main = channel or _height_channel(channels)
    tables = {"roughness": pd.DataFrame(rows), "histogram": height_histogram(levelled[main]),
              "psd": psd(levelled[main])}
    grains = segment_grains(levelled[main], threshold=grain_threshold, min_area_px=min_grain_px)
    tables["grains"] = grains
    tables["grain_summary"] = pd.DataFrame([{"channel": main, **grain_summary(grains, levelled[main])}])
    return tables, levelled, main


def analyse_profile(image, line_um, *, width_um=0.0):
    """Tables for a profile line ``(x0, y0, x1, y1)`` in µm: the samples and one summary row
    (length, Ra, Rq, step height across the line)."""
    import numpy as np
    import pandas as pd

    from battlab.afm.topography import line_profile, profile_roughness, profile_step_height
    from battlab.errors import BattlabError

    x0, y0, x1, y1 = (float(v) for v in line_um)
    profile = line_profile(image, (x0, y0), (x1, y1), width_um=width_um)
    rough = profile_roughness(profile)
    try:
        step = profile_step_height(profile)
    except BattlabError:
        step = None
    summary = {"x0_um": x0, "y0_um": y0, "x1_um": x1, "y1_um": y1, "width_um": profile.attrs["width_um"],
               "length_um": profile.attrs["length_um"], "Ra": rough["Ra"], "Rq": rough["Rq"],
               "step_height": step["step_height"] if step else np.nan,
               "step_edge_um": step["edge_um"] if step else np.nan, "units": rough["units"]}
    # The fits go along for the figure (terrace lines) without a second computation.
    profile.attrs.update({"roughness": rough, "step_fit": step})
    return {"profile": profile, "profile_summary": pd.DataFrame([summary])}


def _height_channel(channels):
    for name, image in channels.items():
        if "height" in name.lower() and image.attrs.get("units") == "nm":
            return name
    return next(iter(channels))


def analyse_force(curves, *, model="hertz", tip_radius_nm=20.0, half_angle_deg=20.0, poisson=0.5,
                  max_indentation_nm=None, min_r_squared=0.9):
    """One row per curve (modulus, contact point, adhesion, indentation, R²)."""
    from battlab.afm.force import fit_force_curves

    return fit_force_curves(curves, model=model, min_r_squared=min_r_squared, tip_radius_nm=tip_radius_nm,
                            half_angle_deg=half_angle_deg, poisson=poisson, max_indentation_nm=max_indentation_nm)


def _cmd_afm(args) -> int:
    from battlab.afm.io import read_afm
    from battlab.provenance import Provenance, write_results

    channels = read_afm(args.input, pixel_size_um=args.pixel_size_um, z_unit=args.z_unit)
    tables, levelled, main = analyse_image(channels, channel=args.channel, levelling=args.levelling, order=args.order,
                                    mask_features=args.mask_features, threshold_sigma=args.threshold_sigma,
                                    scars=args.remove_scars, grain_threshold=args.grain_threshold,
                                    min_grain_px=args.min_grain_px)
    params = {k: getattr(args, k) for k in ("channel", "levelling", "order", "mask_features", "threshold_sigma",
                                            "remove_scars", "grain_threshold", "min_grain_px", "pixel_size_um",
                                            "z_unit", "profile", "profile_width_um")}
    params["analysed_channel"] = main
    if args.profile:
        tables.update(analyse_profile(levelled[main], args.profile, width_um=args.profile_width_um))
    prov = Provenance.for_data("battlab.afm (level, roughness, psd, grains)", channels[main], params,
                               command=args.command_line)
    written = write_results(args.out, tables, prov)
    r = tables["roughness"].set_index("channel").loc[main]
    print(f"{len(channels)} channel(s); {main}: Sa {r['Sa']:.4g} {r['units']}, Sq {r['Sq']:.4g} {r['units']}, "
          f"{len(tables['grains'])} grain(s); wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _cmd_afm_force(args) -> int:
    from battlab.afm.io import read_force_curves
    from battlab.provenance import Provenance, write_results

    curves = read_force_curves(args.input, max_curves=args.max_curves)
    table = analyse_force(curves, model=args.model, tip_radius_nm=args.tip_radius_nm,
                          half_angle_deg=args.half_angle_deg, poisson=args.poisson,
                          max_indentation_nm=args.max_indentation_nm, min_r_squared=args.min_r_squared)
    params = {k: getattr(args, k) for k in ("model", "tip_radius_nm", "half_angle_deg", "poisson",
                                            "max_indentation_nm", "min_r_squared", "max_curves")}
    params["spring_constants_N_per_m"] = [c.get("spring_constant_N_per_m")
                                          for c in curves.attrs.get("battlab", {}).get("curves", [])]
    prov = Provenance.for_data(f"battlab.afm.fit_force_curve ({args.model})", curves, params,
                               command=args.command_line)
    written = write_results(args.out, {"force_fits": table}, prov)
    ok = int(table.get("fit_ok", []).sum()) if "fit_ok" in table else 0
    median = table["modulus_GPa"].median() if "modulus_GPa" in table else float("nan")
    print(f"{len(table)} curve(s), {ok} fitted with R² ≥ {args.min_r_squared}; median E = {median:.4g} GPa; "
          f"wrote {', '.join(p.name for p in written)} to {args.out}")
    for note in table.get("note", []).dropna() if "note" in table else []:
        print(f"battlab: note: {note}", file=sys.stderr)
    return 0


def add_parser(sub):
    s = sub.add_parser("afm", help="AFM image: levelling, roughness (ISO 25178/4287), histogram, PSD, grains")
    s.add_argument("input", metavar="FILE", help=".gwy, Nanoscope .spm/.000, JPK .jpk, Nanonis .sxm, Asylum .ibw "
                                                 "image, or a text/CSV/TIFF height map")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--channel", help="channel for histogram, PSD and grains (default: the height channel)")
    s.add_argument("--levelling", choices=_LEVELLING, default="plane", help="background removal (default plane)")
    s.add_argument("--order", type=int, default=2, help="polynomial order for --levelling polynomial")
    s.add_argument("--mask-features", action="store_true", help="leave features out of the levelling fit")
    s.add_argument("--threshold-sigma", type=float, default=2.0, help="feature threshold in robust σ")
    s.add_argument("--remove-scars", action="store_true", help="repair scan-line scars first")
    s.add_argument("--grain-threshold", type=float, help="grain height threshold (map unit; default Otsu)")
    s.add_argument("--min-grain-px", type=int, default=4, help="smallest grain kept (pixels)")
    s.add_argument("--pixel-size-um", type=float, help="pixel size for text/TIFF maps (required for those)")
    s.add_argument("--z-unit", help="unit of a text/TIFF map's values (nm, m, V …; required for those)")
    s.add_argument("--profile", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"),
                   help="a profile line between two points in µm: profile.csv and profile_summary.csv "
                        "(length, Ra, Rq, step height)")
    s.add_argument("--profile-width-um", type=float, default=0.0, help="average the profile over this width (µm)")
    s.set_defaults(func=_cmd_afm)

    f = sub.add_parser("afm-force", help="force curves / force-volume map: Hertz, Sneddon, DMT or JKR modulus, "
                                         "contact point, adhesion")
    f.add_argument("input", metavar="FILE", help=".jpk-force, .jpk-force-map or Asylum .ibw force curve")
    f.add_argument("--out", required=True, help="output folder (created)")
    f.add_argument("--tip-radius-nm", type=float, required=True, help="tip radius (nm); no default, it sets E")
    f.add_argument("--model", choices=["hertz", "sneddon", "dmt", "jkr"], default="hertz")
    f.add_argument("--half-angle-deg", type=float, default=20.0, help="cone half-angle for --model sneddon")
    f.add_argument("--poisson", type=float, default=0.5, help="sample Poisson ratio (default 0.5)")
    f.add_argument("--max-indentation-nm", type=float, help="fit only this far past the contact point")
    f.add_argument("--min-r-squared", type=float, default=0.9, help="fits below this R² are flagged")
    f.add_argument("--max-curves", type=int, help="read only the first N curves of a map")
    f.set_defaults(func=_cmd_afm_force)
    return s
