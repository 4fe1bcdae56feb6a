"""The ``battlab`` command line: the same analyses as the apps, for scripts and batches.

Exit status is 0 on success and 2 on bad input, with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from pathlib import Path

__all__ = ["main", "VOILA_SETTINGS", "voila_command"]

#: Voila settings for the gallery (also written to voila.json for Binder).
VOILA_SETTINGS = {
    "VoilaConfiguration": {
        "template": "battlab",
        "show_tracebacks": False,
        "http_keep_alive_timeout": 30,
    },
    "VoilaExecutor": {"timeout": 180, "interrupt_on_timeout": True},
    "MappingKernelManager": {"cull_interval": 60, "cull_idle_timeout": 1800, "cull_connected": False},
    # The default upload limit (100 MB) plus 1 MiB: uploads travel in 1 MB chunks and a
    # larger file is refused in the browser; voila_command follows BATTLAB_UPLOAD_LIMIT_MB.
    "Voila": {"tornado_settings": {"websocket_max_message_size": 100_000_000 + 1024**2}},
}


def _repo_notebooks() -> Path:
    return Path(__file__).resolve().parents[1] / "notebooks"


def _template_root() -> Path:
    return Path(__file__).resolve().parent / "apps" / "share" / "jupyter"


def voila_command(notebooks: Path, *, port: int = 8866, ip: str = "127.0.0.1", open_browser: bool = False,
                  token: str | None = None, base_url: str | None = None, preheat: int = 0):
    """The voila command line and environment that serve the gallery.

    With ``token``, every page and kernel request needs it (``?token=…`` once, then a
    cookie); ``base_url`` serves the gallery under a path behind a reverse proxy.
    ``preheat`` keeps that many kernels per app notebook running with the app already
    built on its demo, so a visitor's page opens without waiting for imports and the
    demo analysis (each costs one kernel's memory while it waits; the gallery page
    itself is never preheated).
    """
    args = [sys.executable, "-m", "voila", str(notebooks), f"--port={port}", f"--Voila.ip={ip}"]
    if base_url:
        args.append(f"--Voila.base_url={base_url}")
    if not open_browser:
        args.append("--no-browser")
    from battlab._limits import websocket_limit_bytes

    settings = {section: dict(values) for section, values in VOILA_SETTINGS.items()}
    settings["Voila"]["tornado_settings"] = {"websocket_max_message_size": websocket_limit_bytes()}
    if preheat > 0:
        settings["VoilaConfiguration"].update(preheat_kernel=True, default_pool_size=int(preheat))
        # The gallery page holds no app; a kernel kept ready for it would only take memory.
        settings["VoilaKernelManager"] = {"preheat_denylist": ["00_gallery.ipynb"]}
    for section, values in settings.items():
        for key, value in values.items():
            args.append(f"--{section}.{key}={value!r}" if isinstance(value, dict) else f"--{section}.{key}={value}")
    env = dict(os.environ)
    if token:
        # Passed through the environment, not argv, so it does not show in the process list.
        args.append("--token")
        env["JUPYTER_TOKEN"] = token
    # The battlab template ships inside the package; JUPYTER_PATH lets voila find it.
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(_template_root()), env.get("JUPYTER_PATH", "")]))
    return args, env


def _fail(message: str) -> int:
    print(f"battlab: error: {message}", file=sys.stderr)
    return 2


def _cmd_formats(args) -> int:
    from battlab.io import formats

    for fmt in formats():
        state = "" if fmt.available() else f"  (needs {', '.join(fmt.requires)})"
        print(f"{fmt.name:<16} {' '.join(fmt.extensions):<22} {fmt.description}{state}")
    return 0


def _cmd_info(args) -> int:
    import numpy as np

    import battlab
    from battlab.io import detect

    from battlab.xrm.io import volume_info_text

    # Volumes are described from their header (a volume can be larger than memory or a folder).
    volume_text = volume_info_text(args.file)
    if volume_text is not None:
        print(volume_text)
        return 0
    fmt = detect(args.file)
    data = battlab.load(args.file)
    if fmt.kind == "spectrum":  # spectra (xarray) or a dict of them (VAMAS regions)
        from battlab.spectra.io import describe as describe_spectra

        first = next(iter(data.values())) if isinstance(data, dict) else data
        print(f"file:       {Path(args.file).name}")
        print(f"format:     {fmt.name} ({fmt.description})")
        print(f"sha256:     {first.attrs.get('battlab', {}).get('sha256', '')}")
        print(describe_spectra(data))
        return 0
    if fmt.kind in ("saxs", "reflectivity"):  # I(q) or R(q) curves (xarray over q_inv_A)
        from battlab.scattering.io import describe as describe_curve

        print(f"file:       {Path(args.file).name}")
        print(f"format:     {fmt.name} ({fmt.description})")
        print(f"sha256:     {data.attrs.get('battlab', {}).get('sha256', '')}")
        print(describe_curve(data))
        return 0
    if fmt.kind == "afm":  # image channels (dict of maps) or a force-curve table
        print(f"file:       {Path(args.file).name}")
        print(f"format:     {fmt.name} ({fmt.description})")
        if isinstance(data, dict):
            for channel, image in data.items():
                px = image.attrs.get("pixel_size_um")
                print(f"channel:    {channel}: {image.sizes['y']} × {image.sizes['x']} px"
                      + (f" at {px:.4g} µm/px" if px else "") + f", {image.attrs.get('units', '')}")
        else:
            print(f"curves:     {data['curve'].nunique()} ({len(data):,} samples)")
        return 0
    meta = data.attrs.get("battlab", {})
    print(f"file:       {Path(args.file).name}")
    print(f"format:     {fmt.name} ({fmt.description})")
    print(f"technique:  {meta.get('technique') or 'not stated in the file'}")
    print(f"sha256:     {meta.get('sha256', '')}")
    if hasattr(data, "dims"):  # diffraction patterns (xarray) have no table rows
        from battlab.diffraction.io import describe

        print(describe(data))
        return 0
    print(f"rows:       {len(data):,}")
    if "test_time_s" in data:
        t = data["test_time_s"].to_numpy(dtype=float)
        print(f"duration:   {np.nanmax(t) - np.nanmin(t):,.1f} s ({(np.nanmax(t) - np.nanmin(t)) / 3600:.2f} h)")
    if meta.get("start_time_utc"):
        print(f"started:    {meta['start_time_utc']}")
    for col, unit in (("voltage_V", "V"), ("current_A", "A")):
        if col in data:
            v = data[col].to_numpy(dtype=float)
            print(f"{col + ':':<11} {np.nanmin(v):.6g} to {np.nanmax(v):.6g} {unit}")
    if {"test_time_s", "voltage_V", "current_A"} <= set(data.columns):
        from battlab.echem.cycling import label_cycles

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lab = label_cycles(data)
        print(f"cycles:     {int(lab['cycle'].max())} (from the current sign; "
              f"opening half: {lab.attrs['battlab']['cycling']['opening_half']})")
    print(f"columns:    {', '.join(map(str, data.columns))}")
    for note in meta.get("notes", []):
        print(f"note:       {note}")
    return 0


def _cmd_cycling(args) -> int:
    import battlab
    from battlab.echem import cycling
    from battlab.provenance import Provenance, write_results

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = battlab.load(args.file)
        lab = cycling.label_cycles(data, cell_type=args.cell_type)
        summary = cycling.summarize_cycles(lab, active_mass_mg=args.mass_mg, area_cm2=args.area_cm2,
                                           cell_type=args.cell_type, nominal_capacity_mAh=args.nominal_capacity_mAh)
        rates = cycling.rate_capability(summary)
        dqdv_cycles = [int(c) for c in args.dqdv_cycles.split(",")] if args.dqdv_cycles else \
            sorted({int(summary["cycle"].min()), int(summary["cycle"].max())}) if len(summary) else []
        ica = cycling.incremental_capacity(lab, cycles=dqdv_cycles, smoothing=args.smoothing,
                                           window_V=args.window_mV / 1e3)
    for w in caught:
        print(f"battlab: warning: {w.message}", file=sys.stderr)
    if summary.empty:
        return _fail(f"{Path(args.file).name}: no complete charge/discharge cycle found.")
    # Said only once the file has loaded, so a failure stays a single error line.
    if args.mass_mg is None and not args.no_mass:
        print("battlab: note: no --mass-mg given, so no specific capacities (mAh/g).", file=sys.stderr)
    params = {"active_mass_mg": args.mass_mg, "area_cm2": args.area_cm2, "cell_type": args.cell_type,
              "opening_half": summary.attrs["battlab"]["opening_half"],
              "nominal_capacity_mAh": summary.attrs["battlab"]["nominal_capacity_mAh"],
              "nominal_capacity_source": summary.attrs["battlab"]["nominal_capacity_source"],
              "rest_current_A": summary.attrs["battlab"]["rest_current_A"],
              "retention_reference_cycle": 1, "dqdv_cycles": dqdv_cycles, "dqdv_smoothing": args.smoothing,
              "dqdv_window_V": args.window_mV / 1e3, "dqdv_voltage_step_V": 0.001}
    prov = Provenance.for_data("battlab.echem.cycling", data, params, command=args.command_line)
    written = write_results(args.out, {"cycles": summary, "rate_capability": rates, "dqdv": ica}, prov)
    print(f"{len(summary)} cycles; wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _cmd_eis(args) -> int:
    import battlab
    from battlab.echem import eis
    from battlab.errors import InvalidParameterError
    from battlab.provenance import Provenance, write_results

    frozen = {}
    for item in args.freeze:
        name, sep, value = item.partition("=")
        try:
            frozen[name.strip()] = float(value) if sep else None
        except ValueError:
            raise InvalidParameterError(f"--freeze {item!r}: write NAME=VALUE, e.g. CPE1_alpha=0.9.") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = battlab.load(args.file)
        spectra, labels = eis.split_spectra(data)
        f, z = spectra[args.spectrum if args.spectrum < len(spectra) else 0]
        if args.spectrum >= len(spectra):
            raise InvalidParameterError(f"--spectrum {args.spectrum}: the file has {len(spectra)} spectra "
                                        f"(0 to {len(spectra) - 1}).")
        dist = eis.drt(f, z, lambda_=args.drt_lambda)
        circuit = args.circuit or dist.suggested_circuit
        fit = eis.EquivalentCircuit(circuit).fit(f, z, weighting=args.weighting, frozen=frozen or None)
        kk = eis.kramers_kronig(f, z, threshold=args.kk_threshold_pct / 100)
        spec = eis.impedance_table(f, z)
        zf = fit.predict(f)
        spec["z_real_fit_ohm"], spec["z_imag_fit_ohm"] = zf.real, zf.imag
        tables = {"fit_parameters": fit.summary(), "spectrum": spec, "kk_residuals": kk.residuals,
                  "drt": dist.table(), "drt_peaks": dist.peaks}
        if len(spectra) > 1 and not args.no_series:
            series = eis.fit_series([s[0] for s in spectra], [s[1] for s in spectra], circuit,
                                    labels=labels["spectrum"].to_numpy(), weighting=args.weighting,
                                    frozen=frozen or None)
            for col in labels.columns:
                if col != "spectrum":
                    series.insert(1, col, labels[col].to_numpy())
            tables["series_fit"] = series
    for w in caught:
        print(f"battlab: warning: {w.message}", file=sys.stderr)
    params = {"circuit": circuit, "circuit_source": "user" if args.circuit else "DRT suggestion",
              "weighting": args.weighting, "frozen": frozen, "spectrum": args.spectrum,
              "n_spectra": len(spectra), "kk_threshold": args.kk_threshold_pct / 100,
              "kk_mu_criterion": 0.85, "drt_lambda": dist.lambda_, "drt_lambda_method": dist.lambda_method}
    prov = Provenance.for_data("battlab.echem.eis", data, params, command=args.command_line)
    written = write_results(args.out, tables, prov)
    print(f"{len(spectra)} spectra; {circuit}: reduced chi2 {fit.reduced_chi_squared_:.3g}; {kk.verdict}")
    print(f"wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _pair_V(text, option):
    from battlab.errors import InvalidParameterError

    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise InvalidParameterError(f"{option} {text!r}: write two potentials in V as LOW,HIGH, "
                                    "e.g. 3.3,3.7.") from None
    return (lo, hi)


def _cmd_cv(args) -> int:
    import pandas as pd

    import battlab
    from battlab.echem import cv
    from battlab.provenance import Provenance, data_input, write_results

    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tables = [battlab.load(f) for f in args.files]
        lab = cv.check_cv(tables)
        guess = cv.suggest_windows(lab)
        win = {"anodic": _pair_V(args.anodic_window, "--anodic-window") if args.anodic_window
               else guess["anodic_window_V"],
               "cathodic": _pair_V(args.cathodic_window, "--cathodic-window") if args.cathodic_window
               else guess["cathodic_window_V"]}
        base = {"anodic": _pair_V(args.anodic_baseline, "--anodic-baseline") if args.anodic_baseline
                else guess["anodic_baseline_V"],
                "cathodic": _pair_V(args.cathodic_baseline, "--cathodic-baseline") if args.cathodic_baseline
                else guess["cathodic_baseline_V"]}
        peaks = {d: cv.find_peaks(lab, window_V=win[d], direction=d, baseline=args.baseline,
                                  baseline_window_V=base[d] if args.baseline == "window" else None,
                                  baseline_points_V=base[d] if args.baseline == "points" else None)
                 for d in ("anodic", "cathodic")}
        out = {"sweeps": lab.attrs["battlab"]["sweeps"],
               "peaks": pd.concat([peaks["anodic"], peaks["cathodic"]], ignore_index=True),
               "peak_pairs": cv.pair_peaks(peaks["anodic"], peaks["cathodic"])}
        rates = sorted(lab["scan_rate_group_mV_s"].dropna().unique())
        rs = None
        if len(rates) < 2:
            notes.append(f"one scan rate ({rates[0]:.3g} mV/s): no b-values, Randles-Sevcik or Dunn "
                         "decomposition (they need two or more).")
        else:
            out["b_values"] = cv.power_law(out["peaks"], cycle=args.cycle)
            model = cv.dunn_decomposition(lab, cycle=args.cycle)
            out["dunn_coefficients"] = model.coefficients_
            out["capacitive_fraction"] = model.fractions_
            out["dunn_decomposed"] = model.predict(model.scan_rates_mV_s_)
            if None in (args.n_electrons, args.area_cm2, args.concentration_mol_cm3):
                notes.append("no Randles-Sevcik D: give --n-electrons, --area-cm2 and --concentration-mol-cm3.")
            else:
                rs = cv.randles_sevcik(peaks["anodic"], n_electrons=args.n_electrons, area_cm2=args.area_cm2,
                                       concentration_mol_cm3=args.concentration_mol_cm3,
                                       temperature_K=args.temperature_K, form=args.form, cycle=args.cycle)
                out["randles_sevcik"] = pd.DataFrame([{k: v for k, v in rs.items() if k != "points"}])
                out["randles_sevcik_points"] = rs["points"]
    for w in caught:
        print(f"battlab: warning: {w.message}", file=sys.stderr)
    for note in notes:
        print(f"battlab: note: {note}", file=sys.stderr)
    params = {"files": [Path(f).name for f in args.files], "anodic_window_V": win["anodic"],
              "cathodic_window_V": win["cathodic"], "baseline": args.baseline, "anodic_baseline_V": base["anodic"],
              "cathodic_baseline_V": base["cathodic"], "windows_source": {
                  "anodic": "given" if args.anodic_window else "suggested",
                  "cathodic": "given" if args.cathodic_window else "suggested"},
              "cycle": args.cycle, "n_electrons": args.n_electrons, "area_cm2": args.area_cm2,
              "concentration_mol_cm3": args.concentration_mol_cm3, "temperature_K": args.temperature_K,
              "randles_sevcik_form": args.form, "peak_fit_V": 0.01, "dunn_n_grid": 400,
              "sweep_options": lab.attrs["battlab"]["cv"]}
    inputs = [data_input(t.attrs.get("battlab", {})) for t in tables]
    prov = Provenance("battlab.echem.cv", params, inputs, command=args.command_line)
    written = write_results(args.out, out, prov)
    line = f"{len(out['sweeps'])} sweeps at {', '.join(f'{r:.3g}' for r in rates)} mV/s"
    if rs:
        line += f"; D = {rs['diffusion_coefficient_cm2_s']:.3g} cm2/s (R2 {rs['r_squared']:.4f})"
    print(f"{line}; wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _cmd_gitt(args) -> int:
    import battlab
    from battlab.echem import gitt
    from battlab.errors import InvalidParameterError, MissingDataError
    from battlab.provenance import Provenance, write_results

    try:
        window = tuple(float(x) for x in args.fit_window.split(",")) if args.fit_window else None
    except ValueError:
        raise InvalidParameterError(f"--fit-window {args.fit_window!r}: write two fractions START,END, "
                                    "e.g. 0.1,0.9.") from None
    geometry = {"mass_mg": args.mass_mg, "molar_mass_g_mol": args.molar_mass_g_mol,
                "molar_volume_cm3_mol": args.molar_volume_cm3_mol, "area_cm2": args.area_cm2,
                "thickness_um": args.thickness_um}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = battlab.load(args.file)
        technique = args.technique
        if technique == "auto":
            try:
                gitt.find_pulses(data)
                technique = "gitt"
            except MissingDataError as gitt_error:
                try:
                    gitt.find_potential_steps(data)
                except MissingDataError:
                    raise MissingDataError(f"{Path(args.file).name}: {gitt_error}") from None
                technique = "pitt"
        if technique == "gitt":
            window = window or (0.1, 0.9)
            table = gitt.analyze_gitt(data, fit_window=window, x_initial=args.x_initial, z=args.z, **geometry)
            tables = {"gitt_pulses": table, "ocv": gitt.ocv_curve(table)}
            line = (f"{len(table)} GITT pulses ({int(table['valid'].sum())} pass the validity checks)")
        else:
            window = window or (0.4, 0.9)
            table = gitt.analyze_pitt(data, fit_window=window, **geometry)
            tables = {"pitt_steps": table}
            line = f"{len(table)} PITT steps"
    for w in caught:
        print(f"battlab: warning: {w.message}", file=sys.stderr)
    params = {"technique": technique, **geometry, "x_initial": args.x_initial, "z": args.z,
              "fit_window": list(window),
              **{k: v for k, v in table.attrs.get("battlab", {}).items() if k not in geometry}}
    prov = Provenance.for_data(f"battlab.echem.gitt.analyze_{technique}", data, params,
                               command=args.command_line)
    written = write_results(args.out, tables, prov)
    print(f"{line}; wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _cmd_gallery(args) -> int:
    import subprocess

    notebooks = Path(args.notebooks) if args.notebooks else _repo_notebooks()
    if not (notebooks / "00_gallery.ipynb").is_file():
        return _fail(f"no gallery notebooks in {notebooks}; pass --notebooks DIR.")
    served = notebooks
    if args.app:
        served = _app_notebook(notebooks, args.app)
        if served is None:
            from battlab.apps import APPS

            return _fail(f"no app called {args.app!r}; choose one of {', '.join(APPS)} (or its notebook name).")
    token = _gallery_token(args)
    if args.preheat < 0:
        return _fail("--preheat takes the number of ready kernels per app (0 to turn it off).")
    cmd, env = voila_command(served, port=args.port, ip=args.ip, open_browser=args.open, token=token,
                             base_url=args.base_url, preheat=args.preheat)
    dirs = [str(Path(d).resolve()) for d in args.data_dir if Path(d).is_dir()]
    if dirs:
        env["BATTLAB_DATA_DIRS"] = os.pathsep.join(dirs)
    base = args.base_url or "/"
    login = f"?token={token}" if token and args.show_token else ("?token=…" if token else "")
    print(f"battlab gallery on http://{args.ip}:{args.port}{base}{login} (Ctrl+C to stop)", flush=True)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0


def _app_notebook(notebooks: Path, app: str):
    """The notebook of one app, named by its class (``CyclingApp``) or its notebook (``01_galvanostatic_cycling``)."""
    from battlab.apps import APPS

    names = {name.lower(): nb for name, (nb, _) in APPS.items()}
    names.update({Path(nb).stem.lower(): nb for nb, _ in APPS.values()})
    notebook = names.get(Path(app).stem.lower())
    return notebooks / notebook if notebook and (notebooks / notebook).is_file() else None


def _gallery_token(args):
    """The access token: from --token-file or BATTLAB_GALLERY_TOKEN; generated when serving beyond this machine."""
    import ipaddress
    import secrets

    if args.token_file:
        token = Path(args.token_file).read_text().strip()
        if len(token) < 16:
            from battlab.errors import InvalidParameterError

            raise InvalidParameterError(f"the token in {args.token_file} is shorter than 16 characters; use a long "
                                        "random one (python -c 'import secrets; print(secrets.token_urlsafe(32))').")
        return token
    if os.environ.get("BATTLAB_GALLERY_TOKEN"):
        return os.environ["BATTLAB_GALLERY_TOKEN"].strip()
    try:
        local = ipaddress.ip_address(args.ip).is_loopback
    except ValueError:
        local = args.ip == "localhost"
    if local or args.allow_anonymous:
        return None
    # Anyone who reaches the port could run analyses and read the data folders: never open by default.
    args.show_token = True
    return secrets.token_urlsafe(32)


def _cmd_batch(args) -> int:
    from battlab.batch import run_campaign

    table = run_campaign(args.technique, args.folder, args.out, options=args.options, pattern=args.pattern,
                         sensor_kind=args.sensor_kind, scheduler=args.scheduler, n_workers=args.workers)
    counts = table["status"].value_counts()
    print(f"{len(table)} files: {counts.get('done', 0)} analysed, {counts.get('skipped', 0)} already done, "
          f"{counts.get('failed', 0)} failed; wrote {Path(args.out) / 'campaign.csv'}")
    for row in table[table["status"] == "failed"].itertuples():
        print(f"failed: {Path(row.file).name}: {row.message}", file=sys.stderr)
    return 1 if counts.get("failed", 0) else 0


def _cmd_rerun(args) -> int:
    from battlab.provenance import rerun_argv

    argv = rerun_argv(args.provenance, out_dir=args.out, inputs=args.input)
    print(f"re-running: {shlex.join(['battlab', *argv])}", file=sys.stderr)
    return main(argv)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="battlab", description="Battery characterization analyses.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("formats", help="list readable file formats")
    s.set_defaults(func=_cmd_formats)

    s = sub.add_parser("info", help="describe an instrument file")
    s.add_argument("file")
    s.set_defaults(func=_cmd_info)

    s = sub.add_parser("cycling", help="per-cycle summary, rate capability and dQ/dV of a cycling file")
    s.add_argument("file")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--mass-mg", type=float, help="active material mass in mg (for mAh/g)")
    s.add_argument("--no-mass", action="store_true", help="silence the note about a missing mass")
    s.add_argument("--area-cm2", type=float, help="electrode area in cm² (for mAh/cm²)")
    s.add_argument("--cell-type", default="auto", choices=["auto", "full_cell", "cathode_half", "anode_half"])
    s.add_argument("--nominal-capacity-mAh", type=float, help="capacity that defines 1C")
    s.add_argument("--dqdv-cycles", help="comma-separated cycles for dqdv.csv (default: first and last)")
    s.add_argument("--smoothing", default="savgol", choices=["savgol", "spline", "none"])
    s.add_argument("--window-mV", type=float, default=15.0, help="dQ/dV smoothing window in mV")
    s.set_defaults(func=_cmd_cycling)

    s = sub.add_parser("eis", help="equivalent-circuit fit, Kramers-Kronig test and DRT of impedance spectra")
    s.add_argument("file")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--circuit", help="circuit string, e.g. 'R0-p(R1,CPE1)-W1' (default: the DRT suggestion)")
    s.add_argument("--weighting", default="modulus", choices=["modulus", "proportional", "unit"])
    s.add_argument("--freeze", action="append", default=[], metavar="NAME[=VALUE]",
                   help="hold a parameter fixed, e.g. CPE1_alpha=0.9 (repeatable)")
    s.add_argument("--spectrum", type=int, default=0, help="which spectrum of a multi-sweep file to detail")
    s.add_argument("--no-series", action="store_true", help="do not fit every spectrum of a multi-sweep file")
    s.add_argument("--kk-threshold-pct", type=float, default=1.0, help="Lin-KK pass threshold (%% of |Z|)")
    s.add_argument("--drt-lambda", type=float, help="DRT regularisation (default: chosen by GCV)")
    s.set_defaults(func=_cmd_eis)

    s = sub.add_parser("cv", help="sweeps, peaks, Randles-Sevcik D, b-values and Dunn split of CV files")
    s.add_argument("files", nargs="+", metavar="FILE", help="one CV file with several scan rates, or one per rate")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--n-electrons", type=float, help="electrons per molecule (Randles-Sevcik)")
    s.add_argument("--area-cm2", type=float, help="electrode area in cm2 (Randles-Sevcik)")
    s.add_argument("--concentration-mol-cm3", type=float, help="bulk concentration in mol/cm3 (Randles-Sevcik)")
    s.add_argument("--temperature-K", type=float, default=298.15)
    s.add_argument("--form", default="general", choices=["general", "25C"], help="Randles-Sevcik form")
    s.add_argument("--anodic-window", help="anodic peak window LOW,HIGH in V (default: suggested)")
    s.add_argument("--cathodic-window", help="cathodic peak window LOW,HIGH in V (default: suggested)")
    s.add_argument("--baseline", default="window", choices=["window", "points", "none"])
    s.add_argument("--anodic-baseline", help="anodic baseline window (or two points) LOW,HIGH in V")
    s.add_argument("--cathodic-baseline", help="cathodic baseline window (or two points) LOW,HIGH in V")
    s.add_argument("--cycle", default="first", help="cycle of each scan rate: first, last or a number")
    s.set_defaults(func=_cmd_cv)

    s = sub.add_parser("gitt", help="GITT (Weppner-Huggins, sqrt-t fit) or PITT diffusion coefficients per pulse/step")
    s.add_argument("file")
    s.add_argument("--out", required=True, help="output folder (created)")
    s.add_argument("--mass-mg", type=float, required=True, help="active material mass m_B in mg")
    s.add_argument("--molar-mass-g-mol", type=float, required=True, help="molar mass M_B in g/mol")
    s.add_argument("--molar-volume-cm3-mol", type=float, required=True, help="molar volume V_M in cm3/mol")
    s.add_argument("--area-cm2", type=float, required=True, help="electrode/electrolyte contact area S in cm2")
    s.add_argument("--thickness-um", type=float, help="electrode thickness L in um (adds the L^2 form)")
    s.add_argument("--x-initial", type=float, default=0.0, help="x in LixM before the first pulse")
    s.add_argument("--z", type=int, default=1, help="charge number of the inserted ion")
    s.add_argument("--fit-window", help="START,END fractions of each pulse for the GITT sqrt-t fit (default "
                   "0.1,0.9) or of each step for the PITT decay fit (default 0.4,0.9)")
    s.add_argument("--technique", default="auto", choices=["auto", "gitt", "pitt"])
    s.set_defaults(func=_cmd_gitt)

    s = sub.add_parser("gallery", help="serve the Voila gallery of apps")
    s.add_argument("--port", type=int, default=8866)
    s.add_argument("--ip", default="127.0.0.1")
    s.add_argument("--notebooks", help="folder with 00_gallery.ipynb (default: the repository's notebooks/)")
    s.add_argument("--data-dir", action="append", default=[],
                   help="folder whose files the apps may open server-side (repeatable)")
    s.add_argument("--open", action="store_true", help="open a browser")
    s.add_argument("--token-file", metavar="FILE",
                   help="file holding the access token (or set BATTLAB_GALLERY_TOKEN); served beyond 127.0.0.1 "
                        "without one, a random token is generated and printed")
    s.add_argument("--allow-anonymous", action="store_true",
                   help="serve a non-local address without a token (only behind a proxy that authenticates)")
    s.add_argument("--base-url", help="serve under this path behind a reverse proxy, e.g. /battlab/")
    s.add_argument("--app", metavar="NAME",
                   help="serve this one app only, in its own Voila process (e.g. CyclingApp or "
                        "01_galvanostatic_cycling): run one process per app so a heavy or crashing app "
                        "cannot slow down or take down the others")
    s.add_argument("--preheat", type=int, default=0, metavar="N",
                   help="keep N kernels per app running with the app built on its demo, so pages open at "
                        "once (default 0; each ready kernel holds its app's memory, about 0.3–1 GB)")
    s.set_defaults(func=_cmd_gallery, show_token=False)

    s = sub.add_parser("batch", help="run one technique over a folder of files on dask (resumable)",
                       description="Analyse every file of FOLDER with one technique, in parallel on "
                       "dask.distributed. Options after -- go to the technique's command for every file, e.g. "
                       "battlab batch cycling cells/ --out results/ -- --mass-mg 12.5. Each file gets its own "
                       "result folder; files whose results already exist for the same content are skipped; "
                       "failures are recorded in campaign.csv and do not stop the campaign.")
    from battlab.batch import TECHNIQUES

    s.add_argument("technique", choices=TECHNIQUES)
    s.add_argument("folder", help="folder searched recursively for input files")
    s.add_argument("--out", required=True, help="output folder (created; outside FOLDER)")
    s.add_argument("--pattern", default="*", help="glob that input names must match (default: all)")
    s.add_argument("--sensor-kind", choices=["eqcm", "dilatometry", "stress", "acoustic"],
                   help="sensor kind (sensors campaigns)")
    s.add_argument("--scheduler", help="address of a running dask scheduler (default: start a local cluster)")
    s.add_argument("--workers", type=int, default=2, help="local worker processes; 0 = one by one, no dask")
    s.set_defaults(func=_cmd_batch, options=[])

    s = sub.add_parser("rerun", help="repeat the analysis a provenance.json records, on the same inputs",
                       description="Re-run the command recorded in a provenance.json written by the battlab "
                       "command line. Inputs are found where the record names them, in the upload store "
                       "(stored_at) or among --input paths, and must have the recorded sha256.")
    s.add_argument("provenance", help="provenance.json of an earlier result")
    s.add_argument("--out", required=True, help="output folder for the new results (created)")
    s.add_argument("--input", action="append", default=[], metavar="PATH",
                   help="where an input is now (file or folder; repeatable)")
    s.set_defaults(func=_cmd_rerun)

    from battlab.diffraction._cli import add_parser as _add_xrd

    _add_xrd(sub)
    from battlab.sensors._cli import add_parser as _add_sensors

    _add_sensors(sub)
    from battlab.optical._cli import add_parser as _add_optical

    _add_optical(sub)
    from battlab.spectra._cli import add_parser as _add_spectra

    _add_spectra(sub)
    from battlab.afm._cli import add_parser as _add_afm

    _add_afm(sub)
    from battlab.tem._cli import add_parser as _add_tem

    _add_tem(sub)
    from battlab.xrm._cli import add_parser as _add_xrm

    _add_xrm(sub)
    from battlab.correlate._cli import add_parser as _add_correlate

    _add_correlate(sub)
    from battlab.scattering._cli import add_parser as _add_scattering

    _add_scattering(sub)
    from battlab.depth._cli import add_parser as _add_depth

    _add_depth(sub)
    from battlab.probes._cli import add_parser as _add_probes

    _add_probes(sub)
    from battlab.elements._cli import add_parser as _add_elements

    _add_elements(sub)
    return p


def _version():
    from battlab import __version__

    return f"battlab {__version__}"


def main(argv=None) -> int:
    from battlab.errors import BattlabError

    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = []
    # "battlab batch ... -- OPTIONS": everything after "--" belongs to the technique's command.
    if argv[:1] == ["batch"] and "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    if passthrough:
        args.options = passthrough
    # Recorded in provenance.json; shell-quoted so that `battlab rerun` can split it again.
    args.command_line = shlex.join(["battlab", *argv, *(["--", *passthrough] if passthrough else [])])
    try:
        return args.func(args)
    except BattlabError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.strerror or exc}: {exc.filename or ''}".strip())


if __name__ == "__main__":
    sys.exit(main())
