"""``battlab xrd``: fit and track diffraction peaks of a pattern, a folder series or an XRDML."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

__all__ = ["add_parser"]


def _window(text: str):
    from battlab.errors import InvalidParameterError

    try:
        name, rng = text.split("=", 1) if "=" in text else (None, text)
        lo, hi = (float(v) for v in rng.split(","))
    except ValueError:
        raise InvalidParameterError(f"--window {text!r}: use NAME=LOW,HIGH in degrees 2θ, e.g. 002=26,27.") from None
    return name, (lo, hi)


def _hkl(text: str):
    from battlab.errors import InvalidParameterError

    try:
        name, idx = text.split("=", 1)
        h, k, l = (int(v) for v in idx.split(","))
    except ValueError:
        raise InvalidParameterError(f"--hkl {text!r}: use NAME=H,K,L, e.g. 111=1,1,1 (NAME as in --window).") from None
    return name, (h, k, l)


def _h5_path(text: str):
    from battlab.errors import InvalidParameterError

    key, sep, path = text.partition("=")
    if not sep or key not in ("two_theta", "q", "intensity", "time", "wavelength") or not path:
        raise InvalidParameterError(f"--h5-path {text!r}: use ROLE=/path/in/file with ROLE one of two_theta, q, "
                                    "intensity, time, wavelength.")
    return key, path


def _cmd_xrd(args) -> int:
    import numpy as np

    from battlab.diffraction import (
        lattice_series,
        load_series,
        phase_fractions,
        scherrer_size_nm,
        suggest_windows,
        track_peaks,
        wavelength_A,
    )
    from battlab.errors import InvalidParameterError, MissingDataError
    from battlab.provenance import Provenance, file_input, write_results
    from battlab.series import cycling_input_record, load_cycling, pca, timestamps_input_record

    lam = args.wavelength_A
    if args.energy_keV is not None:
        lam = wavelength_A(energy_keV=args.energy_keV)
    h5_paths = dict(_h5_path(t) for t in args.h5_path)
    echem = load_cycling(args.echem) if args.echem else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if args.poni:
            from battlab.diffraction import integrate_images

            if lam is not None or args.anode:
                raise InvalidParameterError("--poni gives the wavelength; leave out --wavelength-A/--anode/--energy-keV.")
            series = integrate_images(args.input, poni=args.poni, timestamps=args.timestamps, n_points=args.n_points)
        else:
            series = load_series(args.input, timestamps=args.timestamps, wavelength_A=lam, anode=args.anode,
                                 paths=h5_paths or None)
    for w in caught:
        print(f"battlab: warning: {w.message}", file=sys.stderr)
    if not series.attrs.get("wavelength_A"):
        raise MissingDataError(f"{Path(args.input).name} does not state the X-ray wavelength: give --anode Cu, "
                               "--wavelength-A or --energy-keV.")
    if args.window:
        windows = {}
        for k, text in enumerate(args.window):
            name, rng = _window(text)
            windows[name or f"peak_{k + 1}"] = rng
    else:
        windows = suggest_windows(series.isel(time=0), n_peaks=args.n_peaks)
    doublet = {"auto": "auto", "on": True, "off": None}[args.doublet]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracked = track_peaks(series, windows, model=args.model, background_order=args.background_order,
                              doublet=doublet, min_snr=args.min_snr, echem=echem, clock_offset_s=args.clock_offset_s,
                              time_basis=args.time_basis)
    for w in caught:
        print(f"battlab: warning: {w.message}", file=sys.stderr)
    tracked["scherrer_size_nm"] = scherrer_size_nm(tracked["two_theta_deg"], tracked["fwhm_deg"],
                                                   wavelength_A=series.attrs["wavelength_A"], k=args.k,
                                                   instrument_fwhm_deg=args.instrument_fwhm_deg)
    tables = {"tracked_peaks": tracked}
    if len(windows) > 1 and args.window:  # one window per phase only when the user chose them
        tables["phase_fractions"] = phase_fractions(tracked)
    hkl = dict(_hkl(t) for t in args.hkl)
    if hkl:
        if args.system is None:
            raise InvalidParameterError("--hkl needs --system (cubic, tetragonal, hexagonal or orthorhombic).")
        tables["lattice"] = lattice_series(tracked, hkl, system=args.system)
    pca_info = None
    if series.sizes["time"] >= 3 and args.pca_components > 0:
        result = pca(series, n_components=args.pca_components, center=not args.pca_uncentered)
        tables["pca_scores"] = result.scores
        tables["pca_components"] = result.components
        pca_info = {"n_significant": result.n_significant, "center": not args.pca_uncentered,
                    "explained_variance_ratio": [float(v) for v in result.explained_variance_ratio]}
    params = {"wavelength_A": series.attrs["wavelength_A"], "anode": args.anode, "energy_keV": args.energy_keV,
              "windows_deg": windows, "windows_source": "given" if args.window else "peak search",
              "model": args.model, "background_order": args.background_order, "doublet": args.doublet,
              "min_snr": args.min_snr, "scherrer_k": args.k, "instrument_fwhm_deg": args.instrument_fwhm_deg,
              "instrument_correction": "quadratic", "strain_reference": "first fitted d of each peak",
              "hkl": hkl, "system": args.system, "timestamps": args.timestamps, "poni": args.poni,
              "n_points": args.n_points if args.poni else None, "h5_paths": h5_paths or None, "pca": pca_info,
              "echem_alignment": tracked.attrs["battlab"].get("alignment")}
    prov = Provenance.for_data("battlab.diffraction.track_peaks", series, params,
                               command=args.command_line)
    if args.timestamps:  # the times come from it: a re-run must find the same content
        prov.inputs.append(timestamps_input_record(args.timestamps))
    if args.poni:  # the geometry that turned the images into patterns, likewise
        prov.inputs.append(file_input(args.poni, format="poni", role="geometry"))
    if echem is not None:
        prov.inputs.append(cycling_input_record(echem, args.echem))
    written = write_results(args.out, tables, prov)
    present = tracked.groupby("peak")["present"].sum()
    n = series.sizes["time"]
    print(f"{n} pattern{'s' if n != 1 else ''}, {len(windows)} peak(s) "
          f"({', '.join(f'{k}: {int(v)}/{n} found' for k, v in present.items())}); "
          f"wrote {', '.join(p.name for p in written)} to {args.out}")
    if echem is not None:
        al = tracked.attrs["battlab"]["alignment"]
        print(f"cycling: {Path(args.echem).name} on the {al['time_basis']} clock (offset {al['clock_offset_s']:g} s); "
              "voltage, charge, capacity_mAh and soc added per pattern")
    if pca_info is not None:
        print(f"PCA: {pca_info['n_significant']} significant component(s); explained variance "
              + ", ".join(f"{100 * v:.1f}%" for v in pca_info["explained_variance_ratio"][:3]))
    if not np.any(tracked["present"]):
        print("battlab: warning: no peak stood above the noise in any window.", file=sys.stderr)
    return 0


def add_echem_arguments(s, *, what: str):
    """--echem, --clock-offset-s and --time-basis (shared with ``battlab spectra``)."""
    s.add_argument("--echem", metavar="CYCLING_FILE",
                   help=f"cycling file of the cell: adds voltage, current, cycle, charge, capacity_mAh (from the "
                        f"first {what}) and soc to every per-{what} table")
    s.add_argument("--clock-offset-s", type=float, default=0.0,
                   help=f"seconds added to the {what} clock before matching the cycler (with the test basis: the "
                        f"cycler's test time at the first {what})")
    s.add_argument("--time-basis", default="auto", choices=["auto", "test", "unix"],
                   help="unix: UTC times against the cycler's absolute time; test: elapsed time + offset against "
                        "its test time; auto: unix when both clocks are absolute")


def add_parser(sub):
    s = sub.add_parser("xrd", help="fit and track diffraction peaks (position, d, strain, FWHM, intensity, size)")
    s.add_argument("input", metavar="FILE_OR_FOLDER",
                   help=".xy/.xye/.csv/.xrdml pattern, an HDF5 series, or a folder of patterns (or of "
                        "detector images with --poni) forming a time series")
    s.add_argument("--out", required=True, help="output folder (created)")
    wl = s.add_mutually_exclusive_group()
    wl.add_argument("--wavelength-A", type=float, help="X-ray wavelength in Å (overrides the file)")
    wl.add_argument("--anode", help="tube anode for files that do not state λ: Cu, Mo, Co, Fe, Cr, Ag (implies the Kα1/Kα2 doublet; add --doublet off after a monochromator)")
    wl.add_argument("--energy-keV", type=float, help="synchrotron photon energy in keV")
    s.add_argument("--timestamps", help="CSV with columns file,time (ISO 8601 UTC) for a folder of text patterns "
                   "or detector images")
    s.add_argument("--poni", metavar="FILE", help="pyFAI geometry: integrate a folder of 2-D detector images "
                   "(TIFF/CBF/EDF) into a series (needs battlab[xrd2d])")
    s.add_argument("--n-points", type=int, default=2000, help="radial bins of the integration (with --poni)")
    s.add_argument("--h5-path", action="append", default=[], metavar="ROLE=PATH",
                   help="dataset of an HDF5 series: two_theta, q, intensity, time or wavelength (repeatable)")
    s.add_argument("--pca-components", type=int, default=5,
                   help="PCA components written to pca_scores.csv/pca_components.csv (series of ≥3; 0 = no PCA)")
    s.add_argument("--pca-uncentered", action="store_true",
                   help="PCA without subtracting the mean pattern (a mixture of k phases then has k components)")
    s.add_argument("--window", action="append", default=[], metavar="NAME=LOW,HIGH",
                   help="peak window in degrees 2θ (repeatable; default: the 3 strongest peaks)")
    s.add_argument("--n-peaks", type=int, default=3, help="windows found automatically when none are given")
    s.add_argument("--model", default="pseudo_voigt", choices=["pseudo_voigt", "gaussian", "lorentzian"])
    s.add_argument("--background-order", type=int, default=1, help="local polynomial background per window")
    s.add_argument("--doublet", default="auto", choices=["auto", "on", "off"],
                   help="Kα1/Kα2 doublet (auto: when the file gives Kα2 and a non-zero ratio)")
    s.add_argument("--min-snr", type=float, default=3.0, help="height/noise below which a peak counts as absent")
    s.add_argument("--hkl", action="append", default=[], metavar="NAME=H,K,L",
                   help="index a window for lattice parameters (repeatable; needs --system)")
    s.add_argument("--system", choices=["cubic", "tetragonal", "hexagonal", "orthorhombic"])
    add_echem_arguments(s, what="pattern")
    s.add_argument("--k", type=float, default=0.9, help="Scherrer constant")
    s.add_argument("--instrument-fwhm-deg", type=float, default=0.0, help="instrumental FWHM (° 2θ) to remove")
    s.set_defaults(func=_cmd_xrd)
    return s
