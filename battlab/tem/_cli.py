"""``battlab tem`` (movies, images, EELS, EDS, 4D-STEM), ``battlab saed`` (ring patterns → d → phases) and
``battlab holography`` (off-axis hologram or phase image → phase profile, potential step)."""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["add_parser"]


def _source_record(data, role=None) -> dict:
    """The provenance ``inputs`` entry of a TEM image or series (``open_tem`` hashed its file)."""
    from battlab.provenance import data_input

    attrs = data.attrs  # open_tem keeps its source at the top level of the attrs
    return data_input({"source_name": attrs.get("source_name"), "sha256": attrs.get("source_sha256"),
                       "format": attrs.get("source_format")}, role=role)


def _floats(text, n, what):
    from battlab.errors import InvalidParameterError

    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) != n:
        raise InvalidParameterError(f"{what} {text!r}: give {n} comma-separated numbers.")
    return vals


def _open(args):
    from battlab.tem.io import open_tem

    return open_tem(args.input, pixel_size_nm=args.pixel_size_nm, voltage_kV=args.voltage_kv,
                    frame_time_s=getattr(args, "frame_time_s", None))


def _write(args, analysis, data, result, params, extra_inputs=()):
    from battlab.provenance import Provenance, write_results

    params = {**result.options, **params, "notes": result.notes}
    prov = Provenance.for_data(analysis, None, params, command=args.command_line)
    prov.inputs = [_source_record(data), *extra_inputs]
    return write_results(args.out, result.tables, prov)


def _cmd_tem(args) -> int:
    from battlab.errors import InvalidParameterError
    from battlab.tem.workflow import analyse_image, analyse_movie, analyse_spectrum

    data = _open(args)
    kind = data.attrs.get("kind")
    radiography, extra_inputs = None, []
    if args.preset == "neutron-radiography":
        data, radiography, extra_inputs = _radiography(args, data)
    elif args.open_beam or args.dark or args.roi:
        raise InvalidParameterError("--open-beam, --dark and --roi belong to --preset neutron-radiography.")
    if kind == "movie":
        line = _floats(args.line, 4, "--line") if args.line else None
        roi = [int(v) for v in _floats(args.drift_roi, 4, "--drift-roi")] if args.drift_roi else None
        result = analyse_movie(data, line=line, line_width_px=args.line_width, front_method=args.front_method,
                               level=args.level, direction=args.direction, two_sided=args.two_sided,
                               drift=args.drift, drift_roi=roi,
                               morphometry=args.morphometry, shape=args.shape, particles=args.particles,
                               invert=args.invert, threshold=args.threshold, min_area_px=args.min_area,
                               max_displacement_px=args.max_displacement, n_bootstrap=args.bootstrap,
                               dose_rate_e_A2_s=args.dose_rate)
        if args.echem:
            import warnings

            import battlab
            from battlab.imaging.timing import per_frame_echem
            from battlab.series import cycling_input_record

            cycler = battlab.load(args.echem, kind="echem")
            extra_inputs.append(cycling_input_record(cycler, args.echem))  # frame_echem comes from it
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result.tables["frame_echem"] = per_frame_echem(data["time_s"].to_numpy(), cycler,
                                                               clock_offset_s=args.clock_offset_s)
            result.notes.extend(str(w.message) for w in caught)
        if radiography is not None:
            result.tables["radiography_rois"] = radiography
            result.options.update(preset="neutron radiography", cross_section_barn=args.cross_section_barn,
                                  molar_mass_g_mol=args.molar_mass)
        summary = f"movie: {data.sizes['time']} frames"
        if args.preset == "neutron-radiography":
            summary += " (neutron radiography, −ln T)"
        if "front_models" in result.tables:
            best = result.tables["front_models"].iloc[0]
            summary += f"; best front model {best['model']} (AIC {best['aic']:.1f})"
        if "counts" in result.tables:
            summary += f"; {int(result.tables['counts']['count'].iloc[-1])} particles in the last frame"
    elif kind == "image":
        result = analyse_image(data)
        spots = result.tables.get("fft_spots")
        summary = "image" + (f": strongest FFT spot d = {spots['d_A'].iloc[0]:.3f} Å" if spots is not None else "")
    elif kind in ("spectrum", "spectrum image") and (args.eds or "EDS" in str(data.attrs.get("signal_type") or "")):
        result, summary = _eds(args, data)
    elif kind == "spectrum":
        result = analyse_spectrum(data)
        summary = f"EELS spectrum: {len(result.tables['edges'])} edge(s) in range"
    elif kind == "4D-STEM":
        from battlab.tem.workflow import analyse_4dstem

        adf = _floats(args.adf_px, 2, "--adf-px") if args.adf_px else None
        result = analyse_4dstem(data, bf_outer_px=args.bf_outer_px, adf_px=adf, com_mask_px=args.com_mask_px)
        o = result.options
        summary = (f"4D-STEM {data.sizes['y']}×{data.sizes['x']} scan: virtual BF (r < {o['bf_outer_px']:.1f} px), "
                   f"ADF (r ≥ {o['adf_px'][0]:.1f} px), centre-of-mass shifts")
    elif kind == "diffraction":
        raise InvalidParameterError("this file holds a diffraction pattern: use `battlab saed`.")
    elif kind == "spectrum image":
        raise InvalidParameterError("this spectrum image does not say it is EDS: add --eds O,Mn,Co,Ni (the elements "
                                    "to map); EELS spectrum images are analysed in Python (bl.tem.edge_map, "
                                    "bl.tem.decompose_spectrum_image).")
    else:
        raise InvalidParameterError(f"battlab tem does not analyse a {kind} yet.")
    written = _write(args, f"battlab.tem.workflow ({kind})", data, result, {"input_kind": kind}, extra_inputs)
    print(f"{summary}; wrote {', '.join(p.name for p in written)} to {args.out}")
    for note in result.notes:
        print(f"battlab: note: {note}", file=sys.stderr)
    return 0


def _eds(args, data):
    from battlab.errors import InvalidParameterError
    from battlab.tem.workflow import analyse_eds

    elements = [e.strip() for e in (args.eds or "O,Mn,Co,Ni").split(",") if e.strip()]
    ks = {}
    for item in args.k_factor:
        name, _, value = item.partition("=")
        try:
            ks[name.strip()] = float(value)
        except ValueError:
            raise InvalidParameterError(f"--k-factor {item!r}: write ELEMENT=VALUE, e.g. Ni=1.45.") from None
    lines = [v.strip() for v in args.calibrate_lines.split(",")] if args.calibrate_lines else None
    result = analyse_eds(data, elements=elements, k_factors=ks or None, background=args.eds_background,
                         calibrate_lines=lines, n_components=args.nmf, ratios=tuple(args.ratio))
    comp = result.tables["eds_composition"]
    summary = "EDS: " + ", ".join(f"{r.element} {r.at_pct:.1f}" for r in comp.itertuples()) + " at.% (Cliff–Lorimer)"
    if "eds_maps" in result.tables:
        summary += f"; maps of {data.sizes['y']}×{data.sizes['x']} pixels"
    return result, summary


def _radiography(args, frames):
    """Open-beam/dark normalised attenuation movie, with --roi the per-region table, and the open-beam/dark
    input records."""
    from battlab.errors import InvalidParameterError, MissingDataError
    from battlab.imaging.presets import areal_density, radiograph_attenuation, roi_attenuation
    from battlab.tem.io import open_tem

    if frames.attrs.get("kind") != "movie":
        raise InvalidParameterError("--preset neutron-radiography needs a (time, y, x) stack of radiographs.")
    if not args.open_beam:
        raise MissingDataError("neutron radiographs are normalised by an open-beam image: give --open-beam FILE "
                               "(and --dark FILE when the camera has a dark current).")

    records = []

    def image(path, role):
        data = open_tem(path, pixel_size_nm=args.pixel_size_nm or 1.0, lazy=False)
        # The attenuation is divided by them: recorded like the radiographs, for a re-run to check.
        records.append(_source_record(data, role))
        return np.asarray(data.values, float)

    att = radiograph_attenuation(frames, open_beam=image(args.open_beam, "open beam"),
                                 dark=image(args.dark, "dark") if args.dark else None)
    if not args.roi:
        return att, None, records
    rois = {}
    for text in args.roi:
        name, _, box = text.partition("=")
        if not name or not box:
            raise InvalidParameterError(f"--roi {text!r}: give NAME=Y0,Y1,X0,X1 in px.")
        rois[name] = [int(v) for v in _floats(box, 4, f"--roi {name}")]
    table = roi_attenuation(att, rois)
    if args.cross_section_barn:
        col = "delta_areal_density_mg_cm2" if args.molar_mass else "delta_areal_density_atoms_cm2"
        table[col] = areal_density(table["delta_attenuation"].to_numpy(), cross_section_barn=args.cross_section_barn,
                                   molar_mass_g_mol=args.molar_mass)
    return att, table, records


def _cmd_saed(args) -> int:
    from battlab.errors import InvalidParameterError
    from battlab.tem.io import open_pattern
    from battlab.tem.workflow import analyse_saed

    data = open_pattern(args.input, voltage_kV=args.voltage_kv)
    if data.ndim == 3:
        return _saed_series(args, data)
    if data.ndim != 2:
        raise InvalidParameterError(f"battlab saed reads one 2-D pattern or a (time, y, x) series; this file holds "
                                    f"{dict(data.sizes)}.")
    center = _floats(args.center, 2, "--center") if args.center else None
    phases = [p.strip() for p in args.phases.split(",")] if args.phases else None
    result = analyse_saed(data, camera_constant=args.camera_constant, voltage_kV=args.voltage_kv or
                          data.attrs.get("voltage_kV"), camera_length_mm=args.camera_length_mm,
                          detector_pixel_um=args.detector_pixel_um, standard=args.standard, center=center,
                          beam_stop_px=args.beam_stop, tolerance_pct=args.tolerance_pct, phases=phases,
                          max_rings=args.max_rings)
    written = _write(args, "battlab.tem.workflow.analyse_saed", data, result, {})
    rings = result.tables["rings"]
    msg = f"SAED: {len(rings)} ring(s)"
    if "matches" in result.tables and len(result.tables["matches"]):
        msg += f"; candidates: {', '.join(result.tables['matches']['phase'][:4])}"
    print(f"{msg}; wrote {', '.join(p.name for p in written)} to {args.out}")
    for note in result.notes:
        print(f"battlab: note: {note}", file=sys.stderr)
    return 0


def _saed_series(args, data) -> int:
    from battlab.errors import MissingDataError
    from battlab.tem.workflow import analyse_saed_series

    if not args.camera_constant:
        raise MissingDataError("a pattern series needs --camera-constant (calibrate on a standard pattern first).")
    if args.frame_time_s:
        data = data.assign_coords(time_s=("time", np.arange(data.sizes["time"]) * args.frame_time_s))
    center = _floats(args.center, 2, "--center") if args.center else None
    result = analyse_saed_series(data, camera_constant=args.camera_constant, reactant=args.reactant,
                                 product=args.product, center=center, beam_stop_px=args.beam_stop,
                                 tolerance_pct=args.tolerance_pct)
    written = _write(args, "battlab.tem.workflow.analyse_saed_series", data, result, {})
    frac = result.tables["phase_fraction"]
    print(f"SAED series: {data.sizes['time']} patterns, {frac['reactant'].iloc[0]} → {frac['product'].iloc[0]}, "
          f"final product fraction {frac['product_fraction'].iloc[-1]:.2f}; wrote "
          f"{', '.join(p.name for p in written)} to {args.out}")
    return 0


def _open_image(path, pixel_size_nm, what):
    from battlab.errors import InvalidParameterError
    from battlab.tem.io import open_tem

    data = open_tem(path, pixel_size_nm=pixel_size_nm, lazy=False)
    if data.ndim == 3 and data.sizes.get("time", 0) == 1:
        data = data.isel(time=0)
    if data.ndim != 2:
        raise InvalidParameterError(f"the {what} {path} holds {dict(data.sizes)}; battlab holography reads one 2-D "
                                    "image (pick one frame first).")
    return data


def _cmd_holography(args) -> int:
    import pandas as pd

    from battlab.errors import InvalidParameterError, MissingDataError
    from battlab.provenance import Provenance, write_results
    from battlab.tem import holography as H
    from battlab.xrm._cli import _write_maps

    data = _open_image(args.input, args.pixel_size_nm, "image")
    kv = args.kv or data.attrs.get("voltage_kV")
    if not kv:
        raise MissingDataError("the file does not state the accelerating voltage: give --kv (e.g. 300).")
    kind = args.kind
    if kind == "auto":
        kind = "hologram" if H.looks_like_hologram(data) else "phase"
    inputs = [data]
    if kind == "hologram":
        ref = _open_image(args.reference, args.pixel_size_nm, "reference hologram") if args.reference else None
        if ref is not None:
            inputs.append(ref)
        sideband = _floats(args.sideband, 2, "--sideband") if args.sideband else None
        phase = H.reconstruct_phase(data, reference=ref, sideband=sideband, aperture_px=args.aperture_px,
                                    voltage_kV=kv, unwrap=not args.no_unwrap)
    else:
        if args.reference:
            raise InvalidParameterError("--reference applies to holograms; this input was read as a phase image "
                                        "(use --kind hologram if it is one).")
        phase = H.as_phase_image(data)
    ny, nx = phase.shape
    line = _floats(args.line, 4, "--line") if args.line else [ny / 2, nx * 0.05, ny / 2, nx * 0.95]
    profile = H.phase_profile(phase, line[:2], line[2:], width_px=args.width, step_px=args.step_px)
    left = _floats(args.left, 2, "--left") if args.left else None
    right = _floats(args.right, 2, "--right") if args.right else None
    step = H.potential_step(profile, voltage_kV=kv, thickness_nm=args.thickness_nm, left=left, right=right)
    profile["projected_potential_V_nm"] = profile["phase_rad"] / step["interaction_constant_rad_per_V_nm"]
    if args.thickness_nm:
        profile["potential_V"] = profile["projected_potential_V_nm"] / args.thickness_nm
    tables = {"profile": profile, "potential_step": pd.DataFrame([{k: (str(v) if isinstance(v, tuple) else v)
                                                                  for k, v in step.items()}])}
    params = {"kind": kind, "voltage_kV": kv, "line_px": line, "width_px": args.width, "step_px": args.step_px,
              "thickness_nm": args.thickness_nm, "left": left, "right": right,
              "pixel_size_nm": phase.attrs.get("pixel_size_nm")}
    if kind == "hologram":
        params.update(sideband_px=list(phase.attrs["sideband_px"]), aperture_px=phase.attrs["aperture_px"],
                      reference_corrected=phase.attrs["reference_corrected"], unwrapped=phase.attrs["unwrapped"])
    prov = Provenance.for_data("battlab.tem.holography", None, params, command=args.command_line)
    prov.inputs = [_source_record(d, role) for d, role in zip(inputs, ("image", "reference"), strict=False)]
    px_nm = phase.attrs.get("pixel_size_nm") or 1.0
    written = _write_maps(args.out, {"phase": phase.assign_attrs(pixel_size_um=px_nm / 1e3)})
    written += write_results(args.out, tables, prov)
    msg = (f"holography ({kind}): phase step {step['delta_phase_rad']:.4f} ± {step['delta_phase_err_rad']:.4f} rad "
           f"at {kv:g} kV")
    if args.thickness_nm:
        msg += f" = {step['delta_potential_V']:.4f} ± {step['delta_potential_err_V']:.4f} V"
    print(f"{msg}; wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _common(s):
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--voltage-kv", type=float, help="accelerating voltage when the file has none")


def add_parser(sub):
    s = sub.add_parser("tem", help="TEM movies (drift, fronts and kinetics, morphometry, nucleation, dose), "
                                   "HRTEM FFT spacings, EELS edges and thickness, EDS quantification and maps, "
                                   "4D-STEM virtual images")
    s.add_argument("input", metavar="FILE", help=".dm3/.dm4, .emi/.ser, .emd, .mrc, .tif stack or .npy")
    _common(s)
    s.add_argument("--pixel-size-nm", type=float, help="pixel size when the file has none (or to override it)")
    s.add_argument("--frame-time-s", type=float, help="time between frames when the file has none")
    s.add_argument("--line", metavar="Y0,X0,Y1,X1", help="kymograph line in px: track the reaction front along it")
    s.add_argument("--line-width", type=int, default=5, help="lines averaged across the kymograph line (px)")
    s.add_argument("--front-method", choices=["threshold", "gradient", "erf"], default="erf")
    s.add_argument("--level", type=float, help="front intensity level (default halfway between both sides)")
    s.add_argument("--direction", choices=["forward", "backward"], default="forward",
                   help="walk from the line's start or end to the front")
    s.add_argument("--two-sided", action="store_true",
                   help="the line crosses the whole object: track the half-width between both fronts (drift-free)")
    s.add_argument("--drift", action="store_true", help="correct stage drift first (phase correlation)")
    s.add_argument("--drift-roi", metavar="Y0,Y1,X0,X1", help="region used for drift estimation")
    s.add_argument("--morphometry", action="store_true", help="size and expansion of the largest object per frame")
    s.add_argument("--shape", choices=["projected", "sphere", "cylinder"], default="projected",
                   help="expansion definition")
    s.add_argument("--particles", action="store_true", help="detect and link particles: N(t), growth exponent")
    s.add_argument("--invert", action="store_true", help="objects are darker than the background (e.g. Li in HAADF)")
    s.add_argument("--threshold", type=float, help="segmentation threshold (default Otsu)")
    s.add_argument("--min-area", type=int, default=5, help="smallest object kept (px)")
    s.add_argument("--max-displacement", type=float, default=5.0, help="largest frame-to-frame move when linking (px)")
    s.add_argument("--bootstrap", type=int, default=200, help="bootstrap refits for the kinetics intervals")
    s.add_argument("--dose-rate", type=float, metavar="E_PER_A2_S", help="dose rate: per-frame and cumulative dose")
    s.add_argument("--echem", metavar="FILE", help="cycler/potentiostat file: voltage, current, charge at every frame")
    s.add_argument("--clock-offset-s", type=float, default=0.0,
                   help="cycler time at the first frame (when the two clocks were not started together)")
    s.add_argument("--preset", choices=["tem", "neutron-radiography"], default="tem",
                   help="neutron-radiography: normalise the frames by --open-beam/--dark to −ln T first (the "
                        "movie tools then run on the attenuation); give the pixel size in nm (20 µm = 20000)")
    s.add_argument("--open-beam", metavar="FILE", help="radiography: open-beam image or stack (averaged)")
    s.add_argument("--dark", metavar="FILE", help="radiography: dark-current image or stack (averaged)")
    s.add_argument("--roi", action="append", default=[], metavar="NAME=Y0,Y1,X0,X1",
                   help="radiography: region whose mean attenuation change is tabulated (repeatable)")
    s.add_argument("--cross-section-barn", type=float,
                   help="radiography: cross-section of the element seen (natural Li 70.5 b) → areal density")
    s.add_argument("--molar-mass", type=float, metavar="G_PER_MOL",
                   help="radiography: with --cross-section-barn, areal density in mg/cm² (Li 6.94)")
    s.add_argument("--eds", metavar="ELEMENTS", help="EDS spectrum or spectrum image: net line counts, Cliff–Lorimer "
                                                     "at.%% and (spectrum image) element maps of these elements, "
                                                     "e.g. O,Mn,Co,Ni or 'Mn La' (EDS files are recognised anyway)")
    s.add_argument("--k-factor", action="append", default=[], metavar="EL=K",
                   help="EDS: Cliff–Lorimer k-factor (repeatable; defaults are approximate 200 kV values vs Si)")
    s.add_argument("--eds-background", choices=["linear", "powerlaw"], default="linear",
                   help="EDS: background under each line from windows either side")
    s.add_argument("--calibrate-lines", metavar="LINE,LINE", help="EDS: recalibrate the energy axis on two known "
                                                                  "lines first, e.g. 'O Ka,Ni Ka'")
    s.add_argument("--nmf", type=int, default=0, metavar="N", help="EDS spectrum image: NMF into N components")
    s.add_argument("--ratio", action="append", default=[], metavar="A/B",
                   help="EDS spectrum image: atomic ratio map, e.g. Ni/Mn (repeatable; k-factor corrected)")
    s.add_argument("--bf-outer-px", type=float, help="4D-STEM: bright-field disc radius in detector px "
                                                    "(default from the mean pattern)")
    s.add_argument("--adf-px", metavar="INNER,OUTER", help="4D-STEM: annular detector radii in px "
                                                           "(default 1.5× BF radius to the edge)")
    s.add_argument("--com-mask-px", type=float, help="4D-STEM: centre of mass inside this radius only")
    s.set_defaults(func=_cmd_tem)

    s = sub.add_parser("saed", help="SAED ring pattern: centre, profile, rings → d (camera equation), phase matches")
    s.add_argument("input", metavar="FILE", help="a diffraction pattern (.dm3/.dm4, .emd, .ser, .tif, .npy)")
    _common(s)
    s.add_argument("--camera-constant", type=float, metavar="PX_A", help="K = λL/p in px·Å (d = K / R)")
    s.add_argument("--standard", help="calibrate K on this pattern as a standard (Au, Si, Cu, Ni)")
    s.add_argument("--camera-length-mm", type=float, help="nominal camera length (with --voltage-kv, --detector-pixel-um)")
    s.add_argument("--detector-pixel-um", type=float, help="detector pixel pitch")
    s.add_argument("--center", metavar="Y,X", help="beam centre in px (default: found from the pattern's symmetry)")
    s.add_argument("--beam-stop", type=float, metavar="PX", help="mask this radius around the centre")
    s.add_argument("--tolerance-pct", type=float, default=1.5, help="phase matching tolerance on d")
    s.add_argument("--phases", help="comma-separated library subset (default: all bundled phases)")
    s.add_argument("--max-rings", type=int, default=12)
    s.add_argument("--reactant", help="series: phase whose ring fades (default: best match of the first pattern)")
    s.add_argument("--product", help="series: phase whose ring grows (default: best match of the last pattern)")
    s.add_argument("--frame-time-s", type=float, help="series: time between patterns")
    s.set_defaults(func=_cmd_saed)

    s = sub.add_parser("holography", help="electron holography: hologram → phase (sideband filtering) or a phase "
                                          "image; phase profile along a line, potential step across an interface",
                       description="Reconstruct the phase of an off-axis hologram (optionally divided by a vacuum "
                                   "reference hologram) or read a phase image in rad; write the phase as a 32-bit "
                                   "TIFF, the width-averaged phase profile along --line and the phase/potential "
                                   "step between its two ends with its uncertainty.")
    s.add_argument("input", metavar="PHASE_OR_HOLOGRAM", help="a hologram or a phase image (rad): .dm3/.dm4, .emd, "
                                                             ".ser, .mrc, .tif or .npy")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--kv", type=float, help="accelerating voltage in kV (sets C_E; default from the file)")
    s.add_argument("--kind", choices=["auto", "hologram", "phase"], default="auto",
                   help="what the input is (auto: a hologram when its spectrum has an isolated sideband)")
    s.add_argument("--reference", metavar="FILE", help="vacuum reference hologram (removes distortions)")
    s.add_argument("--pixel-size-nm", type=float, help="pixel size when the file has none")
    s.add_argument("--sideband", metavar="KY,KX", help="sideband position in FFT px from the centre (default: found)")
    s.add_argument("--aperture-px", type=float, help="sideband aperture radius in FFT px (default 1/3 of its distance)")
    s.add_argument("--no-unwrap", action="store_true", help="keep the phase wrapped to (−π, π]")
    s.add_argument("--line", metavar="Y0,X0,Y1,X1", help="profile line in px, (row, column) as in `battlab tem` "
                                                         "(default: across the middle row)")
    s.add_argument("--width", type=int, default=5, help="parallel lines averaged across the profile (px)")
    s.add_argument("--step-px", type=float, default=1.0, help="sampling step along the line (px)")
    s.add_argument("--thickness-nm", type=float, help="specimen thickness: the step is then a potential in V")
    s.add_argument("--left", metavar="A,B", help="left plateau window along the line (nm, or px without a pixel "
                                                 "size; default the first quarter)")
    s.add_argument("--right", metavar="A,B", help="right plateau window (default the last quarter)")
    s.set_defaults(func=_cmd_holography)
    return s
