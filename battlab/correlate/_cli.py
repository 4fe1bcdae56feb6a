"""``battlab correlate``: timelines, map placement and population summaries from the command line."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

__all__ = ["add_parser"]


def _table_spec(text: str):
    """NAME=FILE[@OFFSET_S]."""
    from battlab.errors import InvalidParameterError

    if "=" not in text:
        raise InvalidParameterError(f"--table {text!r}: use NAME=FILE or NAME=FILE@OFFSET_S, e.g. xrd=xrd.csv@-420.")
    name, rest = text.split("=", 1)
    offset = None
    if "@" in rest:
        rest, raw = rest.rsplit("@", 1)
        try:
            offset = float(raw)
        except ValueError:
            raise InvalidParameterError(f"--table {text!r}: the offset after @ must be seconds.") from None
    if not name.strip():
        raise InvalidParameterError(f"--table {text!r}: give the table a name before '='.")
    return name.strip(), Path(rest), offset


def _warn(caught):
    for w in caught:
        print(f"battlab: warning: {w.message}", file=sys.stderr)


def _timeline_outputs(experiment, *, estimate: bool, every_s, signals=None):
    """Tables of a timeline correlation (shared by ``timeline`` and ``demo``)."""
    import pandas as pd

    from battlab.correlate import workflow as wf
    from battlab.correlate.stats import correlation_table
    from battlab.correlate.timeline import per_cycle
    from battlab.errors import MissingDataError

    tables = {}
    if estimate:
        est = wf.estimate_offsets(experiment, signals=signals)
        tables["clock_offset_estimates"] = est
        for row in est.itertuples():
            if row.correlation >= 0.9:  # a doubtful estimate is reported, not applied
                experiment.clock_offsets_s[row.dataset] = float(row.clock_offset_s)
    aligned = wf.on_timeline(experiment)
    for name, table in aligned.items():
        if name != "cycling":
            tables[f"timeline_{name}"] = table
            if len(table):
                tables[f"per_cycle_{name}"] = per_cycle(table, by=("cycle", "direction"),
                                                        funcs=("mean", "min", "max", "range"))
    tables["clock_offsets"] = pd.DataFrame(
        [{"dataset": k, "clock_offset_s": v} for k, v in experiment.clock_offsets_s.items()])
    try:
        tables["reality_check"] = wf.reality_check(aligned)
    except MissingDataError:
        pass
    columns = {}
    for name, table in aligned.items():
        if name == "cycling":
            columns[name] = ["voltage_V"]
            continue
        skip = {"test_time_s", "unix_time_s", "time_s", "sensor_time_s", "cycle", "half_cycle", "direction", "frame",
                "pattern", "spectrum", "charge_mAh", "charge_C", "soc", "x_echem", "voltage_V", "current_A"}
        cols = [c for c in table.columns if c not in skip and table[c].dtype.kind in "fi" and table[c].std() > 0]
        if cols:
            columns[name] = cols
    if len(columns) >= 2:
        common = wf.common_table(aligned, columns=columns, every_s=every_s)
        tables["common_time_grid"] = common
        usable = [c for c in common.columns if c != "test_time_s" and common[c].notna().sum() >= 4
                  and common[c].std() > 0]
        if len(usable) >= 2:
            tables["correlations"] = correlation_table(common[usable])
    return tables


def _cmd_demo(args) -> int:
    import pandas as pd

    from battlab.correlate import workflow as wf
    from battlab.correlate.stats import correlation_table
    from battlab.datasets.correlation import make_multimodal
    from battlab.errors import BattlabWarning
    from battlab.provenance import Provenance, write_results

    demo = make_multimodal(seed=args.seed)
    experiment = demo.data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BattlabWarning)
        tables = _timeline_outputs(experiment, estimate=True, every_s=args.every_s)
        reg = wf.register_maps(experiment)
        particles = wf.particle_table(experiment, reg)
    _warn(caught)
    t = reg.transform
    tables["registration"] = pd.DataFrame([{
        "reference": "xray_absorption", "moving": "afm_height", "method": reg.method,
        "rotation_deg": t.rotation_deg, "scale": t.scale, "tx_um": t.translation_um[0], "ty_um": t.translation_um[1],
        "confidence": reg.confidence}])
    tables["particles"] = particles
    tables["particle_correlation"] = correlation_table(particles, columns=["soc", "modulus_GPa"])
    prov = Provenance(analysis="battlab.correlate (multimodal demo)",
                      parameters={"seed": args.seed, "every_s": args.every_s,
                                  "clock_offsets_s": experiment.clock_offsets_s, "registration": reg.to_dict()},
                      inputs=[], command=args.command_line)
    written = write_results(args.out, tables, prov)
    offsets = ", ".join(f"{k} {v:+.0f} s" for k, v in experiment.clock_offsets_s.items())
    print(f"multimodal demo: clock offsets {offsets} (truth: "
          f"{', '.join(f'{k} {v:+.0f} s' for k, v in demo.truth['clock_offsets_s'].items())}); AFM placed at "
          f"{t.rotation_deg:.2f}°, scale {t.scale:.4f}; {len(particles)} particles joined; wrote "
          f"{len(written)} files to {args.out}")
    return 0


def _cmd_timeline(args) -> int:
    from battlab.correlate import workflow as wf
    from battlab.datasets.correlation import Experiment
    from battlab.errors import BattlabWarning, InvalidParameterError
    from battlab.provenance import Provenance, file_input, write_results
    from battlab.series import cycling_input_record, load_cycling

    if not args.table:
        raise InvalidParameterError("give at least one --table NAME=FILE to put on the cycling timeline.")
    cycling = load_cycling(args.cycling)
    experiment = Experiment(cycling=cycling)
    inputs = [cycling_input_record(cycling, args.cycling)]
    signals = {}
    for text in args.table:
        name, path, offset = _table_spec(text)
        if name in experiment.tables:
            raise InvalidParameterError(f"two tables are called {name!r}; give each --table its own name.")
        table, tcol = wf.read_table(path, time_column=args.time_column)
        experiment.tables[name] = table
        experiment.time_columns[name] = tcol
        experiment.clock_offsets_s[name] = 0.0 if offset is None else offset
        inputs.append(file_input(path, format="csv", role=name))
    for text in args.signal:
        if "=" not in text:
            raise InvalidParameterError(f"--signal {text!r}: use NAME=COLUMN.")
        name, column = text.split("=", 1)
        signals[name.strip()] = column.strip()
    if args.estimate_offsets and not signals:
        signals = {k: v for k, v in wf.DEFAULT_SIGNALS.items() if k in experiment.tables}
        if not signals:
            raise InvalidParameterError("--estimate-offsets needs --signal NAME=COLUMN: the column of each table "
                                        "that follows the charge passed.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BattlabWarning)
        tables = _timeline_outputs(experiment, estimate=args.estimate_offsets, every_s=args.every_s,
                                   signals=signals or None)
        tables.update(_other_cells(args, cycling, inputs))
    _warn(caught)
    prov = Provenance(analysis="battlab.correlate.timeline",
                      parameters={"clock_offsets_s": experiment.clock_offsets_s, "every_s": args.every_s,
                                  "estimate_offsets": args.estimate_offsets, "signals": signals},
                      inputs=inputs, command=args.command_line)
    written = write_results(args.out, tables, prov)
    print(f"{len(experiment.tables)} table(s) on the cycling timeline of {Path(args.cycling).name} (offsets "
          f"{', '.join(f'{k} {v:+g} s' for k, v in experiment.clock_offsets_s.items())}); wrote "
          f"{', '.join(p.name for p in written)} to {args.out}")
    return 0


def _other_cells(args, cycling, inputs) -> dict:
    """Tables measured on other cells, read at this cell's states of charge (same direction)."""
    from battlab.correlate import timeline as tl
    from battlab.correlate import workflow as wf
    from battlab.errors import InvalidParameterError
    from battlab.provenance import file_input
    from battlab.series import cycling_input_record, load_cycling

    cyclers = {}
    for text in args.other_cycling:
        if "=" not in text:
            raise InvalidParameterError(f"--other-cycling {text!r}: use NAME=CYCLING_FILE.")
        name, path = text.split("=", 1)
        cyclers[name.strip()] = path
    out = {}
    if not args.other_table:
        return out
    master = tl.charge_timeline(cycling)
    for text in args.other_table:
        name, path, offset = _table_spec(text)
        if name not in cyclers:
            raise InvalidParameterError(f"--other-table {name}: give that cell's cycling file with "
                                        f"--other-cycling {name}=FILE (states of charge come from it).")
        other_cycling = load_cycling(cyclers[name])
        table, tcol = wf.read_table(path, time_column=args.time_column)
        aligned = tl.align_to_cycling(table, other_cycling, clock_offset_s=offset or 0.0, time_column=tcol)
        columns = [c for c in table.columns if c != tcol and table[c].dtype.kind in "fi"]
        out[f"by_soc_{name}"] = tl.match_by_soc(master, aligned, columns=columns, prefix=name)
        inputs += [file_input(path, format="csv", role=f"{name} (other cell)"),
                   {**cycling_input_record(other_cycling, cyclers[name]), "role": f"{name} cycling"}]
    return out


def _cmd_maps(args) -> int:
    import pandas as pd

    from battlab.correlate import space
    from battlab.correlate import workflow as wf
    from battlab.errors import InvalidParameterError
    from battlab.provenance import Provenance, file_input, write_results

    reference = wf.read_map(args.reference, pixel_size_um=args.reference_pixel_um, name="reference")
    moving = wf.read_map(args.moving, pixel_size_um=args.moving_pixel_um, name="moving")
    if args.landmarks:
        pairs = wf.read_landmarks(args.landmarks)
        reg = space.fit_landmarks(pairs[["x_moving_um", "y_moving_um"]].to_numpy(),
                                  pairs[["x_reference_um", "y_reference_um"]].to_numpy(), kind=args.kind)
    else:
        if args.kind == "affine":
            raise InvalidParameterError("an affine placement needs --landmarks (intensity search fits similarity).")
        reg = space.register_similarity(reference, moving, fit_scale=args.fit_scale, feature=args.feature)
    moved = space.resample_to(moving, reference, reg.transform)
    t = reg.transform
    tables = {"registration": pd.DataFrame([{"method": reg.method, "rotation_deg": t.rotation_deg, "scale": t.scale,
                                             "tx_um": t.translation_um[0], "ty_um": t.translation_um[1],
                                             "confidence": reg.confidence, "rms_um": reg.rms_um}]),
              "resolution": space.resolution_table(reference, moving),
              "pixels": space.pixel_table(reference, moved, names=("reference", "moving"))}
    if reg.residuals is not None:
        tables["landmark_residuals"] = reg.residuals
    # The landmark pairs set the placement when given: recorded like the maps.
    inputs = [file_input(p, role=r) for p, r in ((args.reference, "reference"), (args.moving, "moving"), (args.landmarks, "landmarks")) if p]
    prov = Provenance(analysis="battlab.correlate.space", inputs=inputs, command=args.command_line,
                      parameters={"reference_pixel_um": args.reference_pixel_um,
                                  "moving_pixel_um": args.moving_pixel_um, "registration": reg.to_dict(),
                                  "fov_overlap": {k: v for k, v in space.fov_overlap(reference, moving, t).items()
                                                  if k != "moving_outline_um"}})
    written = write_results(args.out, tables, prov)
    print(f"{Path(args.moving).name} placed in {Path(args.reference).name} by {reg.method}: rotation "
          f"{t.rotation_deg:.2f}°, scale {t.scale:.4f}, offset ({t.translation_um[0]:.2f}, {t.translation_um[1]:.2f}) "
          f"µm; wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _cell_options(args) -> dict:
    return {"cycle_a": args.cycle_a, "cycle_b": args.cycle_b, "threshold_fraction": args.threshold_fraction}


def _cmd_cell(args) -> int:
    import pandas as pd

    from battlab.correlate.population import summarize_cell
    from battlab.provenance import Provenance, file_input, write_results

    path = Path(args.file)
    row = summarize_cell(path, **_cell_options(args))
    prov = Provenance(analysis="battlab.correlate.population.summarize_cell", command=args.command_line,
                      parameters=_cell_options(args),
                      inputs=[file_input(path, role="cell")])
    write_results(args.out, {"cell_summary": pd.DataFrame([row])}, prov)
    life = "censored" if row["censored"] else f"{row['cycle_life']:.0f} cycles"
    print(f"{row['cell']}: {row['n_cycles']} cycles, cycle life {life}, knee {row['knee_cycle']:.0f}")
    return 0


def _cmd_population(args) -> int:
    import pandas as pd

    from battlab.batch import run_campaign
    from battlab.correlate.population import SUMMARY_COLUMNS, highlight_cell
    from battlab.errors import InvalidParameterError, MissingDataError
    from battlab.provenance import Provenance, write_results

    folder, out = Path(args.folder), Path(args.out)
    if not folder.is_dir():
        raise MissingDataError(f"{folder} is not a folder of cycling files.")
    options = [f"--{k.replace('_', '-')}={v}" for k, v in _cell_options(args).items()]
    # Every cell through battlab batch: on dask, resumable, one failing file listed, not fatal.
    campaign = run_campaign("cell", folder, out / "cells", options=options, pattern=args.pattern,
                            scheduler=args.scheduler, n_workers=args.workers)
    rows, inputs = [], []
    for item in campaign.itertuples():
        result = Path(item.result_dir) / "cell_summary.csv"
        if item.status in ("done", "skipped") and result.is_file():
            rows.append(pd.read_csv(result))
            prov = json.loads((Path(item.result_dir) / "provenance.json").read_text())
            inputs += prov.get("inputs", [])
    if not rows:
        raise MissingDataError("no cell could be summarised; see cells/campaign.csv for each file's message.")
    summary = pd.concat(rows, ignore_index=True)
    summary = summary[[c for c in SUMMARY_COLUMNS if c in summary] + [c for c in summary if c not in SUMMARY_COLUMNS]]
    if summary["cell"].duplicated().any():
        raise InvalidParameterError("two cycling files share a name; give each cell a distinct file name.")
    tables = {"population_summary": summary}
    if args.highlight:
        tables["highlighted_cell"] = highlight_cell(summary, args.highlight)
    failed = campaign[campaign["status"] == "failed"]
    prov = Provenance(analysis="battlab.correlate population (battlab batch cell)", command=args.command_line,
                      parameters={**_cell_options(args), "workers": args.workers, "scheduler": args.scheduler,
                                  "highlight": args.highlight, "failed_files": failed["file"].tolist()},
                      inputs=inputs)
    written = write_results(out, tables, prov)
    life = summary["cycle_life"]
    print(f"{len(summary)} cells: cycle life median {life.median():.0f} (range {life.min():.0f}–{life.max():.0f}, "
          f"{int(summary['censored'].sum())} censored); {len(failed)} failed; wrote "
          f"{', '.join(p.name for p in written)} and cells/ to {args.out}")
    return 0


def add_parser(sub):
    s = sub.add_parser("correlate", help="techniques on one cycling timeline, map placement, population of cells")
    inner = s.add_subparsers(dest="correlate_command", metavar="{demo,timeline,maps,cell,population}")
    inner.required = True

    d = inner.add_parser("demo", help="the whole correlation on the bundled multimodal demo")
    d.add_argument("--out", required=True, help="output folder (created)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--every-s", type=float, help="common time grid step (default: the densest technique's)")
    d.set_defaults(func=_cmd_demo)

    t = inner.add_parser("timeline", help="put exported technique tables on the cycling timeline")
    t.add_argument("--cycling", required=True, metavar="FILE", help="the cycler's file (master clock)")
    t.add_argument("--table", action="append", default=[], metavar="NAME=FILE[@OFFSET_S]",
                   help="a results CSV with a time column; @OFFSET_S: cycler time = its time + offset (repeatable)")
    t.add_argument("--time-column", help="the tables' time column in seconds (default: time_s, test_time_s, …)")
    t.add_argument("--estimate-offsets", action="store_true",
                   help="estimate each offset by cross-correlating --signal with the charge passed")
    t.add_argument("--signal", action="append", default=[], metavar="NAME=COLUMN",
                   help="the column of table NAME that follows the charge passed (for --estimate-offsets)")
    t.add_argument("--every-s", type=float, help="common time grid step (default: the densest table's)")
    t.add_argument("--other-table", action="append", default=[], metavar="NAME=FILE[@OFFSET_S]",
                   help="a table measured on another cell: read at this cell's states of charge (repeatable)")
    t.add_argument("--other-cycling", action="append", default=[], metavar="NAME=FILE",
                   help="the cycling file of that other cell (its SOC comes from it)")
    t.add_argument("--out", required=True, help="output folder (created)")
    t.set_defaults(func=_cmd_timeline)

    m = inner.add_parser("maps", help="place a fine map inside a coarse one (rotation, scale, offset)")
    m.add_argument("--reference", required=True, metavar="FILE", help="the coarser map (.tif, .csv, .txt, .npy)")
    m.add_argument("--reference-pixel-um", required=True, type=float, help="its pixel size in µm")
    m.add_argument("--moving", required=True, metavar="FILE", help="the map to place")
    m.add_argument("--moving-pixel-um", required=True, type=float, help="its pixel size in µm")
    m.add_argument("--landmarks", metavar="CSV",
                   help="point pairs x_moving_um,y_moving_um,x_reference_um,y_reference_um instead of the search")
    m.add_argument("--kind", choices=["similarity", "affine"], default="similarity")
    m.add_argument("--fit-scale", action="store_true", help="also fit a scale (calibration error of a few %%)")
    m.add_argument("--feature", choices=["intensity", "gradient"], default="intensity",
                   help="gradient compares edges: better across modalities with different contrast")
    m.add_argument("--out", required=True, help="output folder (created)")
    m.set_defaults(func=_cmd_maps)

    def cell_options(parser):
        parser.add_argument("--cycle-a", type=int, default=10, help="early cycle of ΔQ(V)")
        parser.add_argument("--cycle-b", type=int, default=100, help="late cycle of ΔQ(V)")
        parser.add_argument("--threshold-fraction", type=float, default=0.8,
                            help="end of life at this fraction of the initial capacity")

    c = inner.add_parser("cell", help="one cell's knee, cycle life, fade and ΔQ(V) (a row of a population)")
    c.add_argument("file", help="the cell's cycling file")
    cell_options(c)
    c.add_argument("--out", required=True, help="output folder (created)")
    c.set_defaults(func=_cmd_cell)

    p = inner.add_parser("population", help="every cell of a folder through battlab batch (dask, resumable), "
                                            "then the population table")
    p.add_argument("folder", help="folder of cycling files, one per cell")
    p.add_argument("--pattern", default="*", help="glob of the files to take")
    cell_options(p)
    p.add_argument("--workers", type=int, default=2,
                   help="local dask workers, as battlab batch (0: in this process; ignored with --scheduler)")
    p.add_argument("--scheduler", help="address of a dask.distributed scheduler (tcp://host:8786)")
    p.add_argument("--highlight", metavar="CELL", help="the imaged cell (file stem), ranked in its population")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.set_defaults(func=_cmd_population)
    return s
