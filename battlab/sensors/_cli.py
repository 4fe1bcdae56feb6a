"""``battlab sensors KIND FILE --echem FILE --out DIR``: the sensors app on the command line."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(sub):
    s = sub.add_parser("sensors", help="operando sensor (EQCM, dilatometry, MOSS stress, AE) aligned with cycling",
                       description="Align a sensor time series (CSV/TSV with a time column and sensor columns "
                                   "with units) on a cycling file and write aligned.csv, cycles.csv and "
                                   "provenance.json.")
    s.add_argument("kind", choices=["eqcm", "dilatometry", "stress", "acoustic"])
    s.add_argument("file", help="sensor table (CSV/TSV/TXT)")
    s.add_argument("--echem", help="cycling file the sensor ran with (default: potential/current in the sensor file)")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--clock-offset-s", type=float, default=0.0, help="cycler time = sensor time + offset (s)")
    s.add_argument("--time-basis", choices=["test", "unix"], default="test",
                   help="match elapsed times (test) or absolute clocks (unix)")
    s.add_argument("--cell-type", default="auto", choices=["auto", "full_cell", "cathode_half", "anode_half"])
    g = s.add_argument_group("EQCM")
    g.add_argument("--f0-MHz", type=float, default=5.0, help="crystal fundamental frequency (MHz)")
    g.add_argument("--area-cm2", type=float, help="electrode area on the crystal (cm², required)")
    g.add_argument("--overtone", type=int, help="overtone n of the frequency column (default: from the header, or 1)")
    g.add_argument("--dissipation-threshold", type=float, default=4e-7, help="ΔD/(−Δf/n) limit (1/Hz)")
    g = s.add_argument_group("dilatometry")
    g.add_argument("--thickness-um", type=float, help="initial electrode thickness h0 (µm)")
    g = s.add_argument_group("MOSS stress (Stoney)")
    g.add_argument("--substrate-modulus-GPa", type=float, help="substrate Young's modulus E (GPa)")
    g.add_argument("--poisson", type=float, help="substrate Poisson ratio")
    g.add_argument("--substrate-thickness-um", type=float, help="substrate thickness (µm)")
    g.add_argument("--film-thickness-nm", type=float, help="film thickness (nm)")
    g.add_argument("--distance-m", type=float, help="substrate-to-camera distance for spot spacings (m)")
    g.add_argument("--angle-deg", type=float, default=0.0, help="laser incidence angle (degrees)")
    g.add_argument("--reference-spacing", type=float, help="spot spacing d0 at zero stress (default: first row)")
    g.add_argument("--thickness-expansion", type=float, default=0.0,
                   help="modified Stoney: relative film thickening at full lithiation")
    g = s.add_argument_group("acoustic emission")
    g.add_argument("--threshold-dB", type=float, default=40.0, help="hit threshold (dB_AE)")
    g.add_argument("--preamp-gain-dB", type=float, default=0.0)
    g.add_argument("--hdt-us", type=float, default=200.0, help="hit definition time (µs)")
    g.add_argument("--hlt-us", type=float, default=1000.0, help="hit lockout time (µs)")
    g.add_argument("--sampling-rate-Hz", type=float, help="waveform sampling rate (default: from the time column)")
    g.add_argument("--clusters", type=int, default=2, help="number of hit types for k-means")
    s.set_defaults(func=run)
    return s


def _options(args) -> dict:
    common = {"clock_offset_s": args.clock_offset_s, "time_basis": args.time_basis, "cell_type": args.cell_type}
    if args.kind == "eqcm":
        return {**common, "f0_Hz": args.f0_MHz * 1e6, "area_cm2": args.area_cm2, "overtone": args.overtone,
                "dissipation_threshold_per_Hz": args.dissipation_threshold}
    if args.kind == "dilatometry":
        return {**common, "initial_thickness_um": args.thickness_um}
    if args.kind == "stress":
        return {**common, "substrate_modulus_GPa": args.substrate_modulus_GPa, "substrate_poisson": args.poisson,
                "substrate_thickness_um": args.substrate_thickness_um, "film_thickness_nm": args.film_thickness_nm,
                "distance_m": args.distance_m, "incidence_angle_deg": args.angle_deg,
                "reference_spacing": args.reference_spacing,
                "thickness_expansion": args.thickness_expansion}
    return {**common, "threshold_dB": args.threshold_dB, "preamp_gain_dB": args.preamp_gain_dB,
            "hit_definition_time_s": args.hdt_us * 1e-6, "hit_lockout_time_s": args.hlt_us * 1e-6,
            "sampling_rate_Hz": args.sampling_rate_Hz, "n_clusters": args.clusters}


def run(args) -> int:
    import battlab
    from battlab.errors import InvalidParameterError
    from battlab.provenance import Provenance, write_results
    from battlab.sensors import analyze, read_sensor_table

    if args.kind == "eqcm" and args.area_cm2 is None:
        raise InvalidParameterError("EQCM needs --area-cm2 (the electrode area on the crystal).")
    if args.kind == "dilatometry" and args.thickness_um is None:
        raise InvalidParameterError("dilatometry needs --thickness-um (the initial electrode thickness).")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sensor = read_sensor_table(args.file, kind=args.kind)
        echem = battlab.load(args.echem) if args.echem else None
        result = analyze(args.kind, sensor, echem, **_options(args))
    for w in caught:
        print(f"battlab: warning: {w.message}", file=sys.stderr)
    for m in result.messages:
        print(f"battlab: note: {m}", file=sys.stderr)
    prov = Provenance.for_data(f"battlab.sensors.{args.kind}", sensor, result.parameters,
                               command=args.command_line)
    if echem is not None:
        meta = echem.attrs.get("battlab", {})
        prov.inputs.append({"name": Path(str(meta.get("source_name") or args.echem)).name,
                            "sha256": meta.get("sha256"), "format": meta.get("format")})
    written = write_results(args.out, result.tables(), prov)
    n = len(result.aligned)
    print(f"{args.kind}: {n} {'hits' if args.kind == 'acoustic' else 'samples'} aligned, {len(result.cycles)} "
          f"cycle rows; wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0
