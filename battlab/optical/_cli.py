"""``battlab optical MOVIE --echem FILE --um-per-px X --out DIR``: side-view metrics per frame."""

from __future__ import annotations

import sys
import warnings

__all__ = ["add_parser", "run"]


def add_parser(sub):
    s = sub.add_parser("optical", help="side-view operando optical movie: thickness, colour stages, front per frame",
                       description="Measure electrode thickness/expansion, colour-stage fractions and the "
                                   "lithiation front in every frame of a side-view movie (after automatic stage-drift "
                                   "correction), joined with the cycling file; or, with --analysis plating, the Li "
                                   "deposit height, roughness, dendrites, Faraday thickness and dead Li. Writes "
                                   "frames.csv, expansion_by_cycle.csv, front_kinetics.csv (or plating_summary.csv), "
                                   "events.csv (shorts and sudden local changes as x, y, t) and provenance.json.")
    s.add_argument("movie", help="multi-page TIFF/OME-TIFF, folder or zip of PNG/TIFF frames, or MP4/AVI")
    s.add_argument("--echem", help="cycling file recorded with the movie")
    s.add_argument("--um-per-px", type=float, required=True, help="pixel size (µm per pixel, required)")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--fps", type=float, help="frame rate when the movie does not record frame times")
    s.add_argument("--timestamps", help="CSV of frame times (s)")
    s.add_argument("--clock-offset-s", type=float, default=0.0, help="cycler time = frame time + offset (s)")
    s.add_argument("--separator", choices=["left", "right", "top", "bottom"], default="left",
                   help="image edge that faces the separator")
    s.add_argument("--roi", help="y0,y1,x0,x1 pixel box to analyse (default: whole frame)")
    s.add_argument("--max-delta-e", type=float, default=25.0, help="colour classification cutoff (CIELAB ΔE)")
    s.add_argument("--calibration", help="CSV calibration table (stage,L,a,b,H,S,V,lithium_x,electrode)")
    s.add_argument("--colour-space", choices=["lab", "hsv"], default="lab",
                   help="space of the colour classification (CIELAB or HSV)")
    s.add_argument("--drift", choices=["auto", "none"], default="auto",
                   help="stage-drift correction: phase correlation of the luminance around the current collector "
                        "(auto, default) or none")
    s.add_argument("--analysis", choices=["electrode", "plating"], default="electrode",
                   help="electrode (thickness, colour stages, front) or plating (Li metal deposit)")
    s.add_argument("--area-cm2", type=float, help="electrode area (cm²), for the Faraday thickness in plating")
    s.add_argument("--no-events", action="store_true", help="skip the search for shorts and sudden local changes")
    s.add_argument("--event-sigma", type=float, default=6.0,
                   help="sudden-change threshold in robust noise standard deviations (default 6)")
    s.set_defaults(func=run)
    return s


def run(args) -> int:
    from pathlib import Path

    import pandas as pd

    import battlab
    from battlab.errors import InvalidParameterError, MissingDataError
    from battlab.imaging import open_movie
    from battlab.optical import (
        SideViewResult,
        analyze_movie,
        depth_hysteresis,
        expansion_by_cycle,
        find_events,
        first_lithiation_end_s,
        fit_front_kinetics,
        plating_metrics,
        plating_summary,
        relative_depth_of_charge,
    )
    from battlab.optical import provenance as make_provenance
    from battlab.provenance import file_input, write_results

    roi = None
    if args.roi:
        try:
            roi = tuple(int(v) for v in args.roi.split(","))
        except ValueError:
            roi = ()
        if len(roi) != 4:
            raise InvalidParameterError("--roi must be four integers y0,y1,x0,x1 (pixels).")
    calibration = None
    if args.calibration:
        calibration = pd.read_csv(args.calibration)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        movie = open_movie(args.movie, pixel_size_um=args.um_per_px, frame_rate_fps=args.fps,
                           timestamps=args.timestamps)
        echem = battlab.load(args.echem) if args.echem else None
        if args.analysis == "plating":
            if echem is not None and not args.area_cm2:
                raise MissingDataError("--area-cm2 (electrode area) is needed with --echem in plating analysis, to "
                                       "turn the charge into a Faraday thickness.")
            metrics = plating_metrics(movie, separator=args.separator, roi=roi, echem=echem,
                                      area_cm2=args.area_cm2, clock_offset_s=args.clock_offset_s)
            result = SideViewResult(frames=metrics, kymograph=None, parameters={
                "analysis": "plating", "pixel_size_um": args.um_per_px, "separator": args.separator,
                "roi": None if roi is None else list(roi), "area_cm2": args.area_cm2,
                "clock_offset_s": args.clock_offset_s})
            tables = {"frames": metrics, "plating_summary": pd.DataFrame([plating_summary(metrics)])}
        else:
            result = analyze_movie(movie, separator=args.separator, roi=roi, calibration=calibration,
                                   max_delta_e=args.max_delta_e, echem=echem, clock_offset_s=args.clock_offset_s,
                                   colour_space=args.colour_space, drift=None if args.drift == "none" else "auto")
            tables = {"frames": result.frames, "expansion_by_cycle": expansion_by_cycle(result.frames)}
        if not args.no_events:
            tables["events"] = find_events(movie, echem, clock_offset_s=args.clock_offset_s, separator=args.separator,
                                           roi=roi, threshold_sigma=args.event_sigma)
    if args.analysis == "electrode":
        try:
            fit = fit_front_kinetics(result.frames, until_s=first_lithiation_end_s(result.frames))
            tables["front_kinetics"] = pd.DataFrame([fit.as_dict()])
        except MissingDataError as exc:
            print(f"battlab: note: no front kinetics: {exc}", file=sys.stderr)
        if echem is not None:
            try:
                rel = relative_depth_of_charge(result.frames)
                tables["relative_depth_of_charge"] = rel
                tables["depth_hysteresis"] = depth_hysteresis(rel)
            except MissingDataError as exc:
                print(f"battlab: note: no relative depth of charge: {exc}", file=sys.stderr)
    for w in caught:
        print(f"battlab: warning: {w.message}", file=sys.stderr)
    if args.analysis == "electrode" and result.frames["thickness_um"].isna().all():
        return _fail(f"{Path(args.movie).name}: no electrode edges found in any frame; check --separator, --roi "
                     "and --calibration.")
    prov = make_provenance(result, movie, echem, extra={"fps": args.fps, "timestamps": args.timestamps,
                                                        "events": None if args.no_events else
                                                        tables["events"].attrs.get("battlab")},
                           command=args.command_line)
    # The frame times and colour classes come from these files: recorded so a re-run checks their content.
    for path, role in ((args.timestamps, "timestamps"), (args.calibration, "calibration")):
        if path:
            prov.inputs.append(file_input(path, format="csv", role=role))
    written = write_results(args.out, tables, prov)
    print(f"{len(result.frames)} frames; wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _fail(message):
    from battlab.cli import _fail as fail

    return fail(message)
