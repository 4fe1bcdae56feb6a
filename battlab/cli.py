"""The ``battlab`` command line: the same analyses as the apps, for scripts and batches.

Exit status is 0 on success and 2 on bad input, with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
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
    # Upload limit (100 MB by default) plus room for the message envelope; larger files
    # still arrive and are refused with a message instead of being dropped silently.
    "Voila": {"tornado_settings": {"websocket_max_message_size": 1024 * 1024 * 1024}},
}


def _repo_notebooks() -> Path:
    return Path(__file__).resolve().parents[1] / "notebooks"


def _template_root() -> Path:
    return Path(__file__).resolve().parent / "apps" / "share" / "jupyter"


def voila_command(notebooks: Path, *, port: int = 8866, ip: str = "127.0.0.1", open_browser: bool = False):
    """The voila command line and environment that serve the gallery."""
    args = [sys.executable, "-m", "voila", str(notebooks), f"--port={port}", f"--Voila.ip={ip}"]
    if not open_browser:
        args.append("--no-browser")
    for section, values in VOILA_SETTINGS.items():
        for key, value in values.items():
            args.append(f"--{section}.{key}={value!r}" if isinstance(value, dict) else f"--{section}.{key}={value}")
    env = dict(os.environ)
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

    fmt = detect(args.file)
    data = battlab.load(args.file)
    meta = data.attrs.get("battlab", {})
    print(f"file:       {Path(args.file).name}")
    print(f"format:     {fmt.name} ({fmt.description})")
    print(f"technique:  {meta.get('technique') or 'not stated in the file'}")
    print(f"sha256:     {meta.get('sha256', '')}")
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
    prov = Provenance.for_data("battlab.echem.cycling", data, params, command=" ".join(["battlab"] + sys.argv[1:]))
    written = write_results(args.out, {"cycles": summary, "rate_capability": rates, "dqdv": ica}, prov)
    print(f"{len(summary)} cycles; wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _cmd_gallery(args) -> int:
    import subprocess

    notebooks = Path(args.notebooks) if args.notebooks else _repo_notebooks()
    if not (notebooks / "00_gallery.ipynb").is_file():
        return _fail(f"no gallery notebooks in {notebooks}; pass --notebooks DIR.")
    cmd, env = voila_command(notebooks, port=args.port, ip=args.ip, open_browser=args.open)
    dirs = [str(Path(d).resolve()) for d in args.data_dir if Path(d).is_dir()]
    if dirs:
        env["BATTLAB_DATA_DIRS"] = os.pathsep.join(dirs)
    print(f"battlab gallery on http://{args.ip}:{args.port}/ (Ctrl+C to stop)", flush=True)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0


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

    s = sub.add_parser("gallery", help="serve the Voila gallery of apps")
    s.add_argument("--port", type=int, default=8866)
    s.add_argument("--ip", default="127.0.0.1")
    s.add_argument("--notebooks", help="folder with 00_gallery.ipynb (default: the repository's notebooks/)")
    s.add_argument("--data-dir", action="append", default=[],
                   help="folder whose files the apps may open server-side (repeatable)")
    s.add_argument("--open", action="store_true", help="open a browser")
    s.set_defaults(func=_cmd_gallery)
    return p


def _version():
    from battlab import __version__

    return f"battlab {__version__}"


def main(argv=None) -> int:
    from battlab.errors import BattlabError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BattlabError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.strerror or exc}: {exc.filename or ''}".strip())


if __name__ == "__main__":
    sys.exit(main())
