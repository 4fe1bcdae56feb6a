"""Campaigns: one technique over a folder of files, on dask.distributed.

Each input file is analysed exactly as ``battlab TECHNIQUE FILE ... --out DIR`` would
(the same code, options and outputs), in its own result folder under ``out_dir``. A
campaign is resumable: a file whose result folder already holds a ``provenance.json``
naming that file's sha256 is skipped. One failing file does not stop the others; its
error is recorded in ``campaign.csv`` beside the results.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["TECHNIQUES", "campaign_inputs", "run_campaign"]

#: Techniques a campaign can run, with the kind of file each one reads.
TECHNIQUES = ("cycling", "eis", "gitt", "xrd", "sensors", "optical", "spectra", "cell")

#: The command a technique runs when it is not ``battlab <technique>`` itself.
_COMMANDS = {"cell": ["correlate", "cell"]}  # one row of a population summary per cycling file


def _suffixes(technique: str) -> tuple[str, ...]:
    if technique == "sensors":
        from battlab.sensors._io import TABLE_SUFFIXES

        return TABLE_SUFFIXES
    if technique == "optical":
        from battlab.imaging.movie import TIFF_SUFFIXES, VIDEO_SUFFIXES

        return (*TIFF_SUFFIXES, *VIDEO_SUFFIXES, ".zip")  # a zip holds one movie's frames
    from battlab.io.registry import formats

    kind = {"xrd": "xrd", "spectra": "spectrum"}.get(technique, "echem")
    return tuple(sorted({ext for f in formats() if f.kind == kind for ext in f.extensions}))


def campaign_inputs(technique: str, folder, *, pattern: str = "*") -> list[Path]:
    """Files under ``folder`` (recursively, matching ``pattern``) that ``technique`` reads."""
    if technique not in TECHNIQUES:
        raise InvalidParameterError(f"technique must be one of {', '.join(TECHNIQUES)}, not {technique!r}.")
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingDataError(f"{folder} is not a folder.")
    suffixes = _suffixes(technique)
    return sorted(p for p in folder.rglob(pattern)
                  if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."))


@dataclass(frozen=True)
class _Task:
    path: str
    result_dir: str
    argv: tuple


def _result_dir(out_dir: Path, folder: Path, path: Path) -> Path:
    # Mirrors the input tree, so files with the same name in different folders do not collide.
    rel = path.relative_to(folder)
    return out_dir / rel.parent / rel.name.replace(".", "_")


def _is_done(task: _Task) -> bool:
    """The result folder holds provenance for exactly this input content."""
    from battlab.provenance import sha256_of

    record = Path(task.result_dir) / "provenance.json"
    if not record.is_file():
        return False
    try:
        inputs = json.loads(record.read_text(encoding="utf-8")).get("inputs", [])
    except (OSError, ValueError):
        return False  # a damaged record is redone, never trusted
    recorded = {i.get("sha256") for i in inputs if isinstance(i, dict)}
    return sha256_of(task.path) in recorded


def _run_task(task: _Task) -> dict:
    """Run one file through the technique's command; never raises."""
    from battlab.cli import main

    started = time.perf_counter()
    row = {"file": task.path, "result_dir": task.result_dir, "status": "", "seconds": 0.0, "message": ""}
    if _is_done(task):
        row["status"] = "skipped"
        row["message"] = "results with this input's sha256 already exist"
        return row
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(task.argv))
    except SystemExit as exc:  # argparse rejects options this way
        code = exc.code if isinstance(exc.code, int) else 2
    except Exception as exc:  # noqa: BLE001  one bad file must not end the campaign
        code = 1
        err.write(f"unexpected {type(exc).__name__}: {exc}\n")
    row["seconds"] = round(time.perf_counter() - started, 3)
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    if code == 0:
        row["status"] = "done"
        row["message"] = out.getvalue().strip().splitlines()[-1] if out.getvalue().strip() else ""
    else:
        row["status"] = "failed"
        errors = [ln for ln in lines if "error" in ln] or lines
        row["message"] = errors[-1] if errors else f"exit code {code}"
    return row


def _local_cluster(n_workers: int):
    """Worker processes, one task each; a task that kills its worker is not retried."""
    import dask
    from distributed import LocalCluster

    # A file that crashes its worker (a native decoder's segfault, memory) would crash
    # the next worker too: it is recorded as failed at once instead.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)


def _collect(client, func, tasks):
    """Submit ``func(task)`` for every task and yield one row per task as each finishes.

    ``func`` never raises, but its worker can die under it (a segfault in a native
    decoder, the nanny's memory limit), and then every task running on that worker is
    lost with it. Those tasks are re-run one at a time afterwards, so only the file
    that kills a worker on its own is recorded as failed, and the others complete.
    """
    from distributed import as_completed

    # pure=False: a re-run after an input changed must not reuse a cached result.
    futures = {client.submit(func, task, pure=False): task for task in tasks}
    lost = []
    for future in as_completed(futures):
        try:
            yield future.result()
        except Exception:  # noqa: BLE001  KilledWorker, CancelledError: decided below
            lost.append(futures[future])
    for task in lost:
        try:
            yield client.submit(func, task, pure=False).result()
        except Exception as exc:  # noqa: BLE001  it killed a worker alone: this file is the cause
            yield {"file": task.path, "result_dir": task.result_dir, "status": "failed", "seconds": 0.0,
                   "message": f"error: the worker analysing it stopped ({type(exc).__name__}); the file may be "
                              "damaged, or too large for one worker"}


def _progress(done: int, total: int, failed: int, stream) -> None:
    if stream is None:
        return
    width = 30
    filled = int(width * done / total) if total else width
    stream.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total} files"
                 + (f", {failed} failed" if failed else ""))
    if done == total:
        stream.write("\n")
    stream.flush()


def run_campaign(technique: str, folder, out_dir, *, options=(), pattern: str = "*", sensor_kind: str | None = None,
                 scheduler: str | None = None, n_workers: int = 2, progress=sys.stderr) -> pd.DataFrame:
    """Analyse every file of ``folder`` with one technique, in parallel.

    Parameters
    ----------
    technique : {"cycling", "eis", "gitt", "xrd", "sensors", "optical", "spectra", "cell"}
        Which ``battlab`` command runs on each file (``cell``: ``battlab correlate cell``,
        the cell's row of a population summary).
    folder : path
        Searched recursively for files the technique reads.
    out_dir : path
        One result folder per input (mirroring the input tree) and ``campaign.csv``.
    options : sequence of str
        Options of that command, e.g. ``["--mass-mg", "12.5"]``; the same for every file.
    pattern : str
        Glob that input names must match (default: all).
    sensor_kind : {"eqcm", "dilatometry", "stress", "acoustic"}, optional
        Required for ``technique="sensors"``.
    scheduler : str, optional
        Address of a running dask scheduler; by default a ``LocalCluster`` is started.
    n_workers : int
        Worker processes of the local cluster; 0 runs the files one by one in this
        process (no dask).
    progress : file-like or None
        Where the progress bar goes (standard error by default).

    Returns
    -------
    DataFrame
        One row per input: ``file``, ``result_dir``, ``status`` (done, skipped or
        failed), ``seconds``, ``message``; also written as ``out_dir/campaign.csv``.
    """
    folder, out_dir = Path(folder).resolve(), Path(out_dir).resolve()
    if technique == "sensors" and not sensor_kind:
        raise InvalidParameterError("a sensors campaign needs the sensor kind (eqcm, dilatometry, stress, acoustic).")
    if any(str(o) == "--out" or str(o).startswith("--out=") for o in options):
        raise InvalidParameterError("--out is set per file by the campaign; give the campaign's output folder only.")
    if out_dir.is_relative_to(folder):
        raise InvalidParameterError("the output folder must be outside the input folder, so results are never "
                                    "taken for inputs.")
    paths = campaign_inputs(technique, folder, pattern=pattern)
    if not paths:
        raise MissingDataError(f"no files under {folder} that '{technique}' reads "
                               f"({', '.join(_suffixes(technique))}).")
    prefix = _COMMANDS.get(technique, [technique]) + ([sensor_kind] if technique == "sensors" else [])
    tasks = []
    for path in paths:
        result = _result_dir(out_dir, folder, path)
        tasks.append(_Task(str(path), str(result),
                           tuple(prefix + [str(path), *map(str, options), "--out", str(result)])))

    rows = []
    failed = 0
    _progress(0, len(tasks), 0, progress)
    if n_workers == 0 and scheduler is None:
        for task in tasks:
            rows.append(_run_task(task))
            failed += rows[-1]["status"] == "failed"
            _progress(len(rows), len(tasks), failed, progress)
    else:
        from distributed import Client

        cluster = _local_cluster(n_workers) if scheduler is None else None
        try:
            with Client(scheduler or cluster) as client:
                for row in _collect(client, _run_task, tasks):
                    rows.append(row)
                    failed += row["status"] == "failed"
                    _progress(len(rows), len(tasks), failed, progress)
        finally:
            if cluster is not None:
                cluster.close()
    order = {t.path: k for k, t in enumerate(tasks)}
    table = pd.DataFrame(sorted(rows, key=lambda r: order[r["file"]]),
                         columns=["file", "result_dir", "status", "seconds", "message"])
    out_dir.mkdir(parents=True, exist_ok=True)
    from battlab.provenance import atomic_write

    atomic_write(out_dir / "campaign.csv", table.to_csv(index=False))
    return table
