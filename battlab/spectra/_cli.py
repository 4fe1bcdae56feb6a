"""``battlab spectra``: baseline, bands/components and the technique's analyses of spectra."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

__all__ = ["add_parser", "reference_input_records", "reference_spectra"]


def _window(text: str):
    from battlab.errors import InvalidParameterError

    try:
        name, rng = text.split("=", 1)
        lo, hi = (float(v) for v in rng.split(","))
    except ValueError:
        raise InvalidParameterError(f"--window {text!r}: use NAME=LOW,HIGH in axis units, e.g. G=1500,1700.") from None
    return name.strip(), (lo, hi)


def reference_spectra(texts, *, technique: str = "xas") -> dict:
    """``{name: spectrum}`` from ``NAME=FILE`` option values (``--reference``); one implementation for every CLI."""
    from battlab.errors import InvalidParameterError
    from battlab.spectra.io import load_spectrum

    references = {}
    for text in texts:
        if "=" not in text:
            raise InvalidParameterError(f"--reference {text!r}: use NAME=FILE.")
        name, path = text.split("=", 1)
        ref = load_spectrum(path, technique=technique)
        references[name.strip()] = next(iter(ref.values())) if isinstance(ref, dict) else ref
    return references


def reference_input_records(references: dict) -> list:
    """Provenance ``inputs`` entries of :func:`reference_spectra` (role ``reference NAME``)."""
    from battlab.provenance import data_input

    return [data_input(ref.attrs.get("battlab", {}), role=f"reference {name}") for name, ref in references.items()]


def _key_values(texts, option):
    """``{key: float}`` from KEY=VALUE option values."""
    from battlab.errors import InvalidParameterError

    out = {}
    for text in texts:
        try:
            key, value = text.split("=", 1)
            out[key.strip()] = float(value)
        except ValueError:
            raise InvalidParameterError(f"{option} {text!r}: use KEY=NUMBER, e.g. receiver_gain=40.") from None
    return out


def _site(text: str) -> dict:
    """``NAME=KIND,δ[,ΔE_Q or 2ε[,B_hf]]`` → a Mössbauer site dict."""
    from battlab.errors import InvalidParameterError

    try:
        name, rest = text.split("=", 1)
        kind, *nums = (v.strip() for v in rest.split(","))
        nums = [float(v) for v in nums]
    except ValueError:
        raise InvalidParameterError(f"--site {text!r}: use NAME=KIND,DELTA[,QUADRUPOLE[,FIELD_T]] in mm/s and T, "
                                    "e.g. 'Fe2+=doublet,1.22,2.96'.") from None
    if not nums:
        raise InvalidParameterError(f"--site {text!r}: give at least the starting isomer shift (mm/s).")
    site = {"name": name.strip(), "kind": kind, "isomer_shift_mm_s": nums[0]}
    if len(nums) > 1:
        site["quadrupole_mm_s"] = nums[1]
    if len(nums) > 2:
        site["field_T"] = nums[2]
    return site


def _mossbauer_raw(args):
    """Raw channel files folded (and calibrated) into a velocity series."""
    from battlab.provenance import sha256_of
    from battlab.series import series_files, times_for
    from battlab.spectra.io import stack_spectra
    from battlab.spectra.mossbauer import calibrate_velocity, channels_to_spectrum, read_channels

    calibration = None
    if args.calibration:
        calibration = calibrate_velocity(read_channels(args.calibration), folding_point=args.folding_point)
    p = Path(args.input)
    files = [p] if p.is_file() else series_files(p, suffixes=(".txt", ".dat", ".csv", ".asc", ".mca", ".ws5"),
                                                 label="raw Mössbauer")
    spectra = []
    for f in files:
        counts = read_channels(f)
        meta = {"format": "mossbauer-channels", "source_name": str(f), "sha256": sha256_of(f), "technique": "mossbauer",
                "start_time_utc": None, "notes": []}
        spectra.append(channels_to_spectrum(counts, calibration=calibration, folding_point=args.folding_point,
                                            velocity_max_mm_s=args.velocity_max_mm_s, meta=meta))
    times = times_for(files, args.timestamps, spectra, label="spectra")
    if any(t is None for t in times):
        import pandas as pd

        # Raw channel files carry no clock: one second per file, in name order (give --timestamps).
        times = [(pd.Timestamp("1970-01-01", tz="UTC") + pd.Timedelta(seconds=i)).isoformat()
                 for i in range(len(files))]
        spectra[0].attrs["battlab"]["notes"].append("raw channel files carry no time: spectra numbered by second "
                                                    "from 1970-01-01 (give --timestamps).")
    return stack_spectra(spectra, times=times), calibration


def _load(path, technique, timestamps):
    from battlab.spectra.io import load_spectra_series, load_spectrum

    p = Path(path)
    if p.is_dir() or timestamps:
        return load_spectra_series(p, technique=technique, timestamps=timestamps)
    return load_spectrum(p, technique=technique)


def _cmd_spectra(args) -> int:
    from battlab.errors import BattlabWarning, InvalidParameterError
    from battlab.provenance import Provenance, file_input, write_results
    from battlab.series import cycling_input_record, load_cycling, timestamps_input_record
    from battlab.spectra.workflow import analyse_spectra, as_regions

    calibration = None
    if args.raw_channels:
        if args.technique not in (None, "mossbauer"):
            raise InvalidParameterError("--raw-channels reads Mössbauer multichannel files; use --technique mossbauer.")
        args.technique = "mossbauer"
        data, calibration = _mossbauer_raw(args)
    else:
        data = _load(args.input, args.technique, args.timestamps)
    technique_options = {}
    if args.site:
        technique_options["sites"] = [_site(t) for t in args.site]
    if args.fit_baseline:
        technique_options["fit_baseline"] = args.fit_baseline
    if args.shift_reference_mm_s is not None:
        technique_options["shift_reference_mm_s"] = args.shift_reference_mm_s
    if args.calibration and not args.raw_channels:
        # A velocity-axis spectrum of α-Fe: correct the scale and zero of the data's axis.
        from battlab.spectra.io import load_spectrum
        from battlab.spectra.mossbauer import calibrate_velocity

        ref = load_spectrum(args.calibration, technique="mossbauer")
        calibration = calibrate_velocity(next(iter(ref.values())) if isinstance(ref, dict) else ref)
        data = _recalibrate(data, calibration)
    if args.frequency_GHz is not None:
        technique_options["frequency_GHz"] = args.frequency_GHz
    if args.line_shape:
        technique_options["line_shape"] = args.line_shape
    if args.lines is not None:
        technique_options["components"] = args.lines
    if args.no_line_fit:
        technique_options["fit"] = False
    if args.acquisition:
        technique_options["acquisition"] = _key_values(args.acquisition, "--acquisition")
    if args.spin_reference:
        from battlab.spectra.io import load_spectrum

        if args.reference_spins is None:
            raise InvalidParameterError("--spin-reference needs --reference-spins (the standard's number of spins).")
        ref = load_spectrum(args.spin_reference, technique="epr")
        technique_options["reference"] = next(iter(ref.values())) if isinstance(ref, dict) else ref
        technique_options["reference_spins"] = args.reference_spins
        technique_options["reference_acquisition"] = _key_values(args.reference_acquisition,
                                                                 "--reference-acquisition")
    echem = load_cycling(args.echem) if args.echem else None
    windows = dict(_window(t) for t in args.window) if args.window else None
    baseline = None
    if args.baseline:
        baseline = {"method": args.baseline}
        if args.baseline == "als":
            baseline["lam"] = args.als_lambda
        if args.baseline == "polynomial":
            baseline["order"] = args.polynomial_order
    references = reference_spectra(args.reference) if args.reference else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BattlabWarning)
        result = analyse_spectra(data, technique=args.technique, windows=windows, baseline=baseline,
                                 smoothing_points=args.smoothing_points, normalization=args.normalize,
                                 model=args.model, references=references,
                                 calibration_umol_per_area=args.calibration_umol_per_area, min_snr=args.min_snr,
                                 n_pca=args.pca_components, echem=echem, clock_offset_s=args.clock_offset_s,
                                 time_basis=args.time_basis, technique_options=technique_options or None)
    for w in caught:
        print(f"battlab: warning: {w.message}", file=sys.stderr)
    if not result.tables:
        for note in result.notes:
            print(f"battlab: {note}", file=sys.stderr)
        raise InvalidParameterError("no analysis could run on these spectra; see the notes above.")
    first = next(iter(as_regions(data).values()))
    params = dict(result.options)
    params.update({"references": sorted(references) if references else "first and last spectrum (XAS)",
                   "calibration_umol_per_area": args.calibration_umol_per_area, "timestamps": args.timestamps,
                   "notes": result.notes})
    if calibration is not None:
        params["velocity_calibration"] = calibration.as_dict()
        params["calibration_file"] = Path(args.calibration).name if args.calibration else None
    if args.spin_reference:
        params["spin_reference"] = Path(args.spin_reference).name
    prov = Provenance.for_data("battlab.spectra.analyse_spectra", first, params, command=args.command_line)
    if args.timestamps:  # the times come from it: a re-run must find the same content
        prov.inputs.append(timestamps_input_record(args.timestamps))
    if references:  # the references set the LCF fractions: recorded like the data
        prov.inputs += reference_input_records(references)
    # The α-Fe calibration and the EPR spin standard set the numbers too: their content is recorded.
    for path, role in ((args.calibration, "calibration"), (args.spin_reference, "spin reference")):
        if path:
            prov.inputs.append(file_input(path, role=role))
    if echem is not None:
        prov.inputs.append(cycling_input_record(echem, args.echem))
    written = write_results(args.out, result.tables, prov)
    n = sum(s.sizes["time"] for s in result.regions.values())
    print(f"{result.technique}: {n} spectr{'a' if n != 1 else 'um'} in {len(result.regions)} region(s); "
          f"wrote {', '.join(p.name for p in written)} to {args.out}")
    if echem is not None:
        al = result.options["alignment"]
        print(f"cycling: {Path(args.echem).name} on the {al['time_basis']} clock (offset {al['clock_offset_s']:g} s); "
              "voltage, charge, capacity_mAh and soc added per spectrum")
    for note in result.notes:
        print(f"battlab: note: {note}", file=sys.stderr)
    return 0


def _recalibrate(data, calibration):
    """The data with the velocity axis mapped through an α-Fe calibration."""
    from battlab.spectra.workflow import as_regions

    out = {}
    for name, series in as_regions(data).items():
        new = series.assign_coords(velocity_mm_s=calibration.velocity(series["velocity_mm_s"].to_numpy()))
        new["velocity_mm_s"].attrs.update(series["velocity_mm_s"].attrs)
        new.attrs["battlab"]["notes"] = [*new.attrs["battlab"].get("notes", []),
                                         f"velocity recalibrated on α-Fe (× {calibration.slope_mm_s:.6g}, "
                                         f"{calibration.offset_mm_s:+.4f} mm/s)."]
        out[name] = new
    return out if len(out) > 1 else next(iter(out.values()))


def add_parser(sub):
    from battlab.diffraction._cli import add_echem_arguments

    s = sub.add_parser("spectra", help="Raman/FTIR bands and I_D/I_G, XPS components, XAS edge and LCF, NMR Li metal, "
                                       "Mössbauer sites, EPR spins and lines")
    s.add_argument("input", metavar="FILE_OR_FOLDER",
                   help="a spectrum (.csv/.txt/.jdx/.xmu/.xdi/.dat/.vms/Bruker .DSC) or a folder of spectra forming a "
                        "time series")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--technique", choices=["raman", "ftir", "xps", "xas", "nmr", "mossbauer", "epr", "generic"],
                   help="when the file does not say it (presets follow the technique)")
    s.add_argument("--timestamps", help="CSV with columns file,time (ISO 8601 UTC) for a folder of spectra")
    s.add_argument("--window", action="append", default=[], metavar="NAME=LOW,HIGH",
                   help="band or integration window in axis units (repeatable; default: the technique preset)")
    s.add_argument("--baseline", choices=["als", "polynomial", "snip", "linear", "none"],
                   help="baseline subtracted first (default: the preset; XPS and XAS use their own backgrounds)")
    s.add_argument("--als-lambda", type=float, default=1e6, help="ALS smoothness λ")
    s.add_argument("--polynomial-order", type=int, default=2, help="polynomial baseline degree")
    s.add_argument("--smoothing-points", type=int, help="Savitzky–Golay window in points (0 = off; default preset)")
    s.add_argument("--normalize", default="none", choices=["none", "max", "area", "snv"])
    s.add_argument("--model", choices=["pseudo_voigt", "lorentzian", "gaussian"], help="band shape")
    s.add_argument("--reference", action="append", default=[], metavar="NAME=FILE",
                   help="XAS end-member spectrum for the linear-combination fit (repeatable)")
    s.add_argument("--calibration-umol-per-area", type=float, help="NMR: µmol Li per unit integral")
    s.add_argument("--min-snr", type=float, default=3.0, help="bands weaker than this count as absent")
    s.add_argument("--pca-components", type=int, default=5, help="principal components reported")
    m = s.add_argument_group("Mössbauer (--technique mossbauer)")
    m.add_argument("--raw-channels", action="store_true",
                   help="the input holds raw 2N-channel counts (folded here; needs --calibration or "
                        "--velocity-max-mm-s)")
    m.add_argument("--calibration", metavar="FILE",
                   help="α-Fe foil spectrum: raw channels (with --raw-channels) or velocity vs counts; sets the "
                        "velocity scale and zero (isomer shifts vs α-Fe)")
    m.add_argument("--folding-point", type=float, help="raw folding point in channels (default: found automatically)")
    m.add_argument("--velocity-max-mm-s", type=float, help="nominal drive amplitude for raw files without calibration")
    m.add_argument("--site", action="append", default=[], metavar="NAME=KIND,DELTA[,Q[,B]]",
                   help="site to fit (repeatable): kind singlet/doublet/sextet, starting δ and ΔE_Q (2ε) in mm/s, "
                        "B_hf in T (default: LiFePO4 + FePO4 doublets)")
    m.add_argument("--fit-baseline", choices=["constant", "linear"], help="off-resonance level in the fit")
    m.add_argument("--shift-reference-mm-s", type=float,
                   help="velocity of the α-Fe centroid on the data's axis (subtracted from isomer shifts)")
    e = s.add_argument_group("EPR (--technique epr)")
    e.add_argument("--frequency-GHz", type=float, help="microwave frequency (default: from the file) for g")
    e.add_argument("--line-shape", choices=["dysonian", "lorentzian"],
                   help="phase-shifted (default) or plain Lorentzian derivative lines")
    e.add_argument("--lines", type=int, help="number of lines fitted (default: narrow + broad Li metal lines)")
    e.add_argument("--no-line-fit", action="store_true", help="only g, ΔB_pp and double integrals")
    e.add_argument("--acquisition", action="append", default=[], metavar="KEY=VALUE",
                   help="sample acquisition: receiver_gain, q_factor, power_mW, modulation_mT, n_scans (repeatable)")
    e.add_argument("--spin-reference", metavar="FILE", help="spectrum of a standard of known spins")
    e.add_argument("--reference-spins", type=float, help="number of spins of the --spin-reference standard")
    e.add_argument("--reference-acquisition", action="append", default=[], metavar="KEY=VALUE",
                   help="acquisition of the standard (same keys as --acquisition)")
    add_echem_arguments(s, what="spectrum")
    s.set_defaults(func=_cmd_spectra)
    return s
