"""``battlab spectra``: baseline, bands/components and the technique's analyses of spectra."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

__all__ = ["add_parser", "reference_spectra"]


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


def _load(path, technique, timestamps):
    from battlab.spectra.io import load_spectra_series, load_spectrum

    p = Path(path)
    if p.is_dir() or timestamps:
        return load_spectra_series(p, technique=technique, timestamps=timestamps)
    return load_spectrum(p, technique=technique)


def _cmd_spectra(args) -> int:
    from battlab.errors import BattlabWarning, InvalidParameterError
    from battlab.provenance import Provenance, write_results
    from battlab.series import cycling_input_record, load_cycling
    from battlab.spectra.workflow import analyse_spectra, as_regions

    data = _load(args.input, args.technique, args.timestamps)
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
                                 time_basis=args.time_basis)
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
    prov = Provenance.for_data("battlab.spectra.analyse_spectra", first, params, command=args.command_line)
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


def add_parser(sub):
    from battlab.diffraction._cli import add_echem_arguments

    s = sub.add_parser("spectra", help="Raman/FTIR bands and I_D/I_G, XPS components, XAS edge and LCF, NMR Li metal")
    s.add_argument("input", metavar="FILE_OR_FOLDER",
                   help="a spectrum (.csv/.txt/.jdx/.xmu/.xdi/.dat/.vms) or a folder of spectra forming a time series")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--technique", choices=["raman", "ftir", "xps", "xas", "nmr", "generic"],
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
    add_echem_arguments(s, what="spectrum")
    s.set_defaults(func=_cmd_spectra)
    return s
