"""Side-by-side benchmarks of battlab against the tools people would otherwise use.

Run from the repository root::

    .venv/bin/python benchmarks/run.py          # or: make bench

Every ratio is peer time / battlab time measured in this same process, interleaved
repeat by repeat, so machine noise hits both sides alike. Results go to
``benchmarks/RESULTS.md`` and stdout. Generated inputs are cached in
``benchmarks/_data/`` (git-ignored); real instrument files are read in place and
never copied.
"""

from __future__ import annotations

# One core: pin every BLAS / OpenMP pool before numpy is imported anywhere.
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import gc  # noqa: E402
import hashlib  # noqa: E402
import importlib  # noqa: E402
import importlib.metadata as _md  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = HERE / "_data"
RESULTS = HERE / "RESULTS.md"
REAL_BIOLOGIC = Path(os.environ.get("BATTLAB_REAL_DATA", ROOT.parent / "shared" / "data" / "real")) / "biologic"

if str(ROOT) not in sys.path:  # run from a checkout even without `pip install -e .`
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from pandas_baseline import pandas_summary  # noqa: E402

#: The synthetic dataset: 1,000 cycles, 2,000,010 rows (2·965 CC points + 50 CV points +
#: 2·10 rest points per cycle, plus 10 opening rest points).
CYCLING_PARAMS = dict(n_cycles=1000, rate_block=(), points_per_half_cycle=965, rest_s=600.0, rng=0)
ACTIVE_MASS_MG = 12.5
MIN_REPEAT_S = 0.2  # a repeat of a fast call loops until it takes at least this long

# Peers that could not be installed without breaking the environment. Recorded from
# `pip install --dry-run --report` on the date below; re-check with --check-peers.
PEER_CHECK_DATE = "2026-11-22 with `pip install --dry-run --report`"
PEER_REASONS = {
    "navani": ("navani 0.1.22 requires numpy<2,~=1.26 and pandas[excel]<3,~=2.2; installing it would "
               "downgrade numpy 2.4.6 -> 1.26.4 and pandas 3.1.1 -> 2.3.3, which battlab's environment "
               "does not allow"),
    "cellpy": ("the newest cellpy the index offers for Python 3.11 is 1.0.3, which requires pandas<3 "
               "(would downgrade pandas 3.1.1 -> 2.3.3; also pulls ~60 packages incl. matplotlib, "
               "polars, pyarrow, tables); newer cellpy releases need Python >= 3.13"),
}


# --------------------------------------------------------------------------- timing


def _one(fn, loops):
    gc.collect()
    was = gc.isenabled()
    gc.disable()  # as timeit does: a collection inside one side only would skew the ratio
    try:
        t0 = time.perf_counter()
        for _ in range(loops):
            out = fn()
        elapsed = time.perf_counter() - t0
    finally:
        if was:
            gc.enable()
    del out
    return elapsed / loops


def _loops_for(fn):
    """Calls per repeat so that one repeat lasts >= MIN_REPEAT_S (timeit's autorange)."""
    t = _one(fn, 1)  # also a warm-up call (lazy imports, caches), not counted
    if t >= MIN_REPEAT_S:
        return 1, t
    return max(1, int(np.ceil(MIN_REPEAT_S / max(t, 1e-6)))), t


def time_pair(fa, fb, repeats):
    """Best-of-N for two callables, interleaved A, B, A, B... Returns per-call seconds."""
    la, ta0 = _loops_for(fa)
    lb, tb0 = (_loops_for(fb) if fb is not None else (1, None))
    slow = max(ta0, tb0 or 0.0) > 2.0
    n = min(repeats, 3) if slow else repeats  # keep the total run near five minutes
    ta, tb = [], []
    for _ in range(n):
        ta.append(_one(fa, la))
        if fb is not None:
            tb.append(_one(fb, lb))
    return {"a": ta, "b": tb, "loops_a": la, "loops_b": lb, "n": n}


def time_one(fa, repeats):
    return time_pair(fa, None, repeats)


def peak_mb(fn):
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del out
    return (peak - base) / 1e6


# --------------------------------------------------------------------------- data


def _sha_file(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _cycling_key():
    gen = ROOT / "battlab" / "datasets" / "cycling.py"
    blob = json.dumps({k: repr(v) for k, v in CYCLING_PARAMS.items()}, sort_keys=True)
    return hashlib.sha256((blob + _sha_file(gen)).encode()).hexdigest()[:12]


CYCLING_COLUMNS = ("test_time_s", "unix_time_s", "voltage_V", "current_A", "step")


def cycling_table(rebuild=False):
    """The 2M-row table and its ground-truth capacities, generated once and cached as .npy."""
    key = _cycling_key()
    arr_path = DATA_DIR / f"cycling_{key}.npy"
    truth_path = DATA_DIR / f"cycling_{key}_truth.npy"
    gen_s = None
    if rebuild or not (arr_path.exists() and truth_path.exists()):
        from battlab.datasets import make_cycling

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        demo = make_cycling(**CYCLING_PARAMS)
        gen_s = time.perf_counter() - t0
        df = demo.data
        arr = np.column_stack([df[c].to_numpy(dtype=float) for c in CYCLING_COLUMNS])
        truth = demo.truth["cycles"][["cycle", "lithiation_capacity_mAh", "delithiation_capacity_mAh"]]
        for path, value in ((arr_path, arr), (truth_path, truth.to_numpy(dtype=float))):
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, value, allow_pickle=False)
            os.replace(tmp, path)
    arr = np.load(arr_path, allow_pickle=False)
    df = pd.DataFrame({c: arr[:, k] for k, c in enumerate(CYCLING_COLUMNS)})
    df["step"] = df["step"].astype(np.int64)
    truth = pd.DataFrame(np.load(truth_path, allow_pickle=False),
                         columns=["cycle", "lithiation_capacity_mAh", "delithiation_capacity_mAh"])
    return df, truth, gen_s, key


MPT_HEADER = """EC-Lab ASCII FILE
Nb header lines : {n}

Galvanostatic Cycling with Potential Limitation

Run on channel : 1 (SN 0000)
User : battlab-benchmark
Electrode connection : standard
Ewe ctrl range : min = -10.00 V, max = 10.00 V
Acquisition started on : 01/05/2026 09:00:00.000
Saved on :
File : battlab_synthetic_2M.mpr
Directory : benchmarks/_data/
Host : 127.0.0.1
Device : VMP3 (synthetic, written by benchmarks/run.py)
Electrode material : graphite
Initial state : pristine
Electrolyte : 1 M LiPF6 in EC:DMC
Comments : 1000 cycles from battlab.datasets.make_cycling, written in EC-Lab ASCII layout
Mass of active material : 12.500 mg
Cycle Definition : Charge/Discharge alternance
"""
MPT_COLUMNS = ["mode", "ox/red", "error", "Ns", "time/s", "Ewe/V", "<I>/mA", "dq/mA.h", "(Q-Qo)/mA.h",
               "half cycle", "cycle number"]


def synthetic_mpt(df, key, rebuild=False):
    """Write the 2M-row table as an EC-Lab .mpt (tab separated, LF, latin-1), once."""
    path = DATA_DIR / f"synthetic_{key}.mpt"
    if path.exists() and not rebuild:
        return path, None
    from battlab.echem.cycling import label_cycles

    t0 = time.perf_counter()
    lab = label_cycles(df, cell_type="anode_half")
    t = lab["test_time_s"].to_numpy()
    i_mA = lab["current_A"].to_numpy() * 1e3
    dt = np.r_[0.0, np.diff(t)]
    dq = i_mA * dt / 3600.0
    rest = i_mA == 0
    direction = lab["direction"].to_numpy()
    mode = np.where(rest, 3, np.where(np.abs(lab["voltage_V"].to_numpy() - 0.005) < 1e-9, 2, 1))
    cols = {
        "mode": mode, "ox/red": (direction > 0).astype(int), "error": np.zeros(len(t), dtype=int),
        "Ns": lab["step"].to_numpy(), "time/s": t, "Ewe/V": lab["voltage_V"].to_numpy(), "<I>/mA": i_mA,
        "dq/mA.h": dq, "(Q-Qo)/mA.h": np.cumsum(dq),
        "half cycle": np.maximum(lab["half_cycle"].to_numpy() - 1, 0),
        "cycle number": np.maximum(lab["cycle"].to_numpy() - 1, 0),
    }
    # EC-Lab precisions: 15 significant digits for time and charge, 8 for potential/current.
    fmts = ["%d", "%d", "%d", "%d", "%.15E", "%.7E", "%.7E", "%.15E", "%.15E", "%d", "%d"]
    body = np.column_stack([np.asarray(cols[c], dtype=float) for c in MPT_COLUMNS])
    header_lines = MPT_HEADER.count("\n") + 1  # + the column line
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="latin-1", newline="\n") as fh:
        fh.write(MPT_HEADER.format(n=header_lines))
        fh.write("\t".join(MPT_COLUMNS) + "\t\n")
        np.savetxt(fh, body, fmt=fmts, delimiter="\t", newline="\t\n")
    os.replace(tmp, path)
    return path, time.perf_counter() - t0


# --------------------------------------------------------------------------- peers


def pandas_read_mpt(path):
    """A plain pandas read of an EC-Lab export: header length from line 2, then read_csv."""
    with open(path, "r", encoding="latin-1") as fh:
        fh.readline()
        n_header = int(fh.readline().split(":")[1])
    return pd.read_csv(path, sep="\t", skiprows=n_header - 1, encoding="latin-1")


def galvani_read_mpr(path):
    from galvani import BioLogic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mpr = BioLogic.MPRfile(str(path))
    return pd.DataFrame(mpr.data)


def check_peers_live():
    """Re-derive PEER_REASONS with pip's resolver (slow; network). Returns {name: summary}."""
    out = {}
    for name in ("navani", "cellpy"):
        report = DATA_DIR / f"_pip_{name}.json"
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report",
                               str(report), name], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not report.exists():
            out[name] = f"pip could not resolve it: {proc.stderr.strip().splitlines()[-1:]}"
            continue
        plan = json.loads(report.read_text())
        changes = []
        for item in plan.get("install", []):
            meta = item["metadata"]
            if meta["name"].lower() == name:
                pins = [r for r in meta.get("requires_dist") or [] if r.split("[")[0].split("<")[0]
                        .split(">")[0].split("~")[0].split("=")[0].strip().lower() in ("numpy", "pandas")]
                changes.append(f"{name} {meta['version']} requires {', '.join(pins) or 'nothing pinned'}"
                               f" (Python {meta.get('requires_python') or 'any'})")
            try:
                have = _md.version(meta["name"])
            except _md.PackageNotFoundError:
                continue
            if have != meta["version"]:
                changes.append(f"{meta['name']} {have} -> {meta['version']}")
        downgrades = [c for c in changes if "->" in c]
        out[name] = "; ".join(changes) if downgrades else "installs without changing existing packages"
    return out


def peer_status(name):
    try:
        mod = importlib.import_module(name)
        return True, getattr(mod, "__version__", None) or _md.version(name)
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable here"
        return False, PEER_REASONS.get(name, f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- battlab readers


def battlab_reader():
    """(callable(path), label, note) for the timed battlab read, or (None, reason)."""
    try:
        import battlab

        battlab.load  # noqa: B018
        from battlab.io import registry

        registry._import_readers()  # the same imports battlab.load performs on first call
        return battlab.load, "battlab.load", ""
    except Exception as exc:  # noqa: BLE001
        load_err = f"{type(exc).__name__}: {exc}"
    try:
        from battlab.io import biologic
    except Exception as exc:  # noqa: BLE001
        return None, "reader not available", f"battlab.io.biologic not importable ({type(exc).__name__}: {exc})"

    def read(path):
        p = str(path)
        return biologic.read_mpr(p) if p.lower().endswith(".mpr") else biologic.read_mpt(p)

    note = (f"battlab.load not importable yet ({load_err}); timed battlab.io.biologic.read_mpt/read_mpr "
            "directly, which is what load dispatches to after sniffing")
    return read, "battlab.io.biologic.read_*", note


# --------------------------------------------------------------------------- report


def machine_info():
    cpu = "unknown"
    physical = set()
    phys_id = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("physical id"):
                phys_id = line.split(":", 1)[1].strip()
            elif line.startswith("core id"):
                physical.add((phys_id, line.split(":", 1)[1].strip()))
    except OSError:
        cpu = platform.processor() or "unknown"
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {}
    for pkg in ("battlab", "numpy", "pandas", "scipy", "galvani"):
        try:
            versions[pkg] = _md.version(pkg)
        except _md.PackageNotFoundError:
            versions[pkg] = "not installed"
    commit = "unknown"
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if dirty:
            commit += " + uncommitted changes"
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "Date (UTC)": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "CPU": cpu,
        "Cores": f"{os.cpu_count()} logical ({len(physical) or '?'} physical), {affinity} usable; "
                 "benchmarks use 1 (BLAS/OpenMP pinned to 1 thread)",
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "battlab commit": commit,
    }


def fmt_s(x):
    if x is None or not np.isfinite(x):
        return "—"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    if x >= 0.01:
        return f"{x:.3f}"
    return f"{x * 1e3:.2f} ms"


def fmt_ratio(peer, ours):
    if peer is None or ours is None or not (np.isfinite(peer) and np.isfinite(ours)) or ours <= 0:
        return "—"
    return f"{peer / ours:.2f}×"


def render(info, rows, mem_rows, checks, peers, details, total_s, repeats):
    out = ["# battlab benchmarks", ""]
    out.append("Generated by `benchmarks/run.py` (`make bench`). Times are the best of N repeats on one core "
               f"(N = {repeats}, 3 for calls over 2 s), in seconds unless marked ms. "
               "**Ratio = peer time / battlab time, both measured in this run**: above 1× battlab is faster, "
               "below 1× the peer is faster. See README.md for what each row does.")
    out += ["", "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in info.items()]
    out += ["", "## Speed", "",
            "| # | Task | Input | battlab | battlab (s) | Peer | Peer (s) | Ratio peer/battlab |",
            "|---|---|---|---|---:|---|---:|---:|"]
    for r in rows:
        out.append(f"| {r['id']} | {r['task']} | {r['input']} | {r['ours_name']} | {fmt_s(r['ours'])} | "
                   f"{r['peer_name']} | {fmt_s(r['peer'])} | {fmt_ratio(r['peer'], r['ours'])} |")
    notes = [(r["id"], r["note"]) for r in rows if r.get("note")]
    if notes:
        out += [""] + [f"- **{i}**: {n}" for i, n in notes]
    out += ["", "## Peak memory (tracemalloc)", "",
            "| Task | Input | battlab peak (MB) | Peer | Peer peak (MB) | Ratio peer/battlab |",
            "|---|---|---:|---|---:|---:|"]
    for r in mem_rows:
        out.append(f"| {r['task']} | {r['input']} | {r['ours']:.0f} | {r['peer_name']} | "
                   + (f"{r['peer']:.0f}" if r["peer"] is not None else "—")
                   + f" | {fmt_ratio(r['peer'], r['ours'])} |")
    out += ["", "Peak is the largest traced allocation above the starting point while the call runs "
            "(numpy and pandas buffers included); the input table itself (2,000,010 rows × 5 float64 "
            "columns = 80 MB) is not counted.", ""]
    out += ["## Correctness checks (same run)", ""] + [f"- {c}" for c in checks]
    out += ["", "## Peers not benchmarked", ""]
    out += [f"- **{name}**: {text}" for name, text in peers] or ["- none"]
    out += ["", "## Raw repeats", "", "Per-call seconds of every repeat (loops per repeat in brackets).", ""]
    out += [f"- {d}" for d in details]
    out += ["", f"Total wall time of this run: {total_s:.0f} s.", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="repeats per measurement (3..5; slow calls use 3)")
    ap.add_argument("--rebuild-data", action="store_true", help="regenerate the cached inputs in _data/")
    ap.add_argument("--check-peers", action="store_true",
                    help="re-run pip's resolver for navani/cellpy instead of the recorded reasons")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    repeats = max(1, args.repeats)
    t_start = time.perf_counter()

    import scipy.signal  # noqa: F401 - lazy import inside battlab; pay it before timing
    from battlab.echem.cycling import incremental_capacity, label_cycles, summarize_cycles

    rows, mem_rows, checks, details = [], [], [], []

    def record(detail_name, res):
        a = ", ".join(fmt_s(x) for x in res["a"])
        line = f"{detail_name}: battlab [{res['loops_a']}] {a}"
        if res["b"]:
            line += f"; peer [{res['loops_b']}] " + ", ".join(fmt_s(x) for x in res["b"])
        details.append(line)

    # ---- 1. cycling summary and dQ/dV on 2M rows
    df, truth, gen_s, key = cycling_table(args.rebuild_data)
    n_rows = len(df)
    n_cycles = CYCLING_PARAMS["n_cycles"]
    label = f"synthetic, {n_cycles:,} cycles, {n_rows:,} rows"
    print(f"[data] {label}" + (f" (generated in {gen_s:.1f} s, cached)" if gen_s else " (cached)"), flush=True)

    ours = summarize_cycles(df, active_mass_mg=ACTIVE_MASS_MG)
    base = pandas_summary(df, active_mass_mg=ACTIVE_MASS_MG)
    merged = ours.merge(base, on="cycle", suffixes=("", "_pd"))
    rel = {}
    for col in ("charge_capacity_mAh", "discharge_capacity_mAh"):
        rel[col] = float(np.max(np.abs(merged[col] - merged[col + "_pd"]) / np.abs(merged[col])))
    checks.append(f"battlab vs pandas baseline: {len(ours)} vs {len(base)} cycles; max relative difference "
                  f"of per-cycle capacities: charge {rel['charge_capacity_mAh']:.1e}, discharge "
                  f"{rel['discharge_capacity_mAh']:.1e}.")
    tr = truth.set_index("cycle").reindex(ours["cycle"].to_numpy())
    rt_l = np.max(np.abs(ours["discharge_capacity_mAh"].to_numpy() - tr["lithiation_capacity_mAh"].to_numpy())
                  / tr["lithiation_capacity_mAh"].to_numpy())
    rt_d = np.max(np.abs(ours["charge_capacity_mAh"].to_numpy() - tr["delithiation_capacity_mAh"].to_numpy())
                  / tr["delithiation_capacity_mAh"].to_numpy())
    checks.append(f"battlab vs generator ground truth (exact Σ I·Δt): max relative difference lithiation "
                  f"{rt_l:.1e}, delithiation {rt_d:.1e}.")
    del ours, base, merged

    print("[1a] summarize_cycles vs pandas baseline ...", flush=True)
    res = time_pair(lambda: summarize_cycles(df, active_mass_mg=ACTIVE_MASS_MG),
                    lambda: pandas_summary(df, active_mass_mg=ACTIVE_MASS_MG), repeats)
    record("1a summary", res)
    rows.append(dict(id="1a", task="Per-cycle summary (labelling from current sign included)", input=label,
                     ours_name="`summarize_cycles`", ours=min(res["a"]),
                     peer_name="pandas shift/cumsum + groupby-agg (benchmarks/pandas_baseline.py)",
                     peer=min(res["b"]),
                     note=f"target < 1 s: {'met' if min(res['a']) < 1 else 'NOT met'} "
                          f"({fmt_s(min(res['a']))} s). battlab also cleans the time series (NaN/"
                          "order/duplicate checks), computes a rest threshold, energies with a "
                          "trapezoidal voltage, C-rates and retention; the baseline computes capacities, "
                          "energies, CE, mean voltages, durations and specific capacities."))

    print("[1b] label_cycles alone ...", flush=True)
    res = time_one(lambda: label_cycles(df), repeats)
    record("1b label_cycles", res)
    rows.append(dict(id="1b", task="Cycle labelling only", input=label, ours_name="`label_cycles`",
                     ours=min(res["a"]), peer_name="—", peer=None,
                     note="part of 1a, shown on its own (it also copies the 2M-row table)."))

    print("[1c] incremental_capacity, all cycles ...", flush=True)
    ica = incremental_capacity(df, cycles=None)
    n_half = ica.groupby(["cycle", "half_cycle"]).ngroups
    res = time_one(lambda: incremental_capacity(df, cycles=None), repeats)
    record("1c dQ/dV", res)
    navani_ok, navani_info = peer_status("navani")
    rows.append(dict(id="1c", task=f"dQ/dV of all {n_cycles:,} cycles ({n_half:,} half cycles, 1 mV grid, "
                                   "Savitzky–Golay 15 mV)", input=label,
                     ours_name="`incremental_capacity`", ours=min(res["a"]),
                     peer_name="navani dQ/dV" if navani_ok else "navani: not installable here", peer=None,
                     note=(f"{len(ica):,} output points; dropped rows {ica.attrs['battlab']['dropped_rows']}, "
                           f"{ica.attrs['battlab']['pooled_rows']:,} noise-reversal rows pooled by the "
                           "monotone fit. "
                           + ("" if navani_ok else f"navani not installable here: {navani_info}.")
                           + " Labelling included (unlabelled input).")))
    del ica

    print("[3] peak memory ...", flush=True)
    m_ours = peak_mb(lambda: summarize_cycles(df, active_mass_mg=ACTIVE_MASS_MG))
    m_peer = peak_mb(lambda: pandas_summary(df, active_mass_mg=ACTIVE_MASS_MG))
    mem_rows.append(dict(task="Per-cycle summary", input=label, ours=m_ours,
                         peer_name="pandas baseline", peer=m_peer))
    m_ica = peak_mb(lambda: incremental_capacity(df, cycles=None))
    mem_rows.append(dict(task="dQ/dV, all cycles", input=label, ours=m_ica, peer_name="—", peer=None))

    # ---- 2. BioLogic files
    reader, reader_name, reader_note = battlab_reader()
    galvani_ok, galvani_info = peer_status("galvani")
    real = [("cellpy_biol.mpr", "2a"), ("yadg_gcpl.pr_182.1.mpr", "2b"), ("yadg_gcpl.pr_182.1.mpt", "2c")]
    for fname, rid in real:
        path = REAL_BIOLOGIC / fname
        is_mpr = fname.endswith(".mpr")
        peer_name = "galvani `MPRfile` + `pd.DataFrame(.data)`" if is_mpr else \
            "`pd.read_csv(sep='\\t', skiprows=header, encoding='latin-1')`"
        task = "Read BioLogic .mpr" if is_mpr else "Read BioLogic .mpt"
        if not path.exists():
            rows.append(dict(id=rid, task=task, input=f"{fname} (missing)", ours_name=reader_name, ours=None,
                             peer_name=peer_name, peer=None, note=f"{path} not found; skipped."))
            continue
        inp = f"real: {fname}, {path.stat().st_size / 1e6:.1f} MB"
        peer_fn = (lambda p=path: galvani_read_mpr(p)) if is_mpr else (lambda p=path: pandas_read_mpt(p))
        if is_mpr and not galvani_ok:
            peer_fn, peer_name = None, f"galvani: {galvani_info}"
        print(f"[{rid}] {fname} ...", flush=True)
        note = reader_note
        ours_t = peer_t = None
        try:
            if reader is None:
                raise RuntimeError(reader_note)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = reader(path)
            shape = f"{len(got):,} rows × {got.shape[1]} columns"
            ref = peer_fn() if peer_fn else None
            shape += f" (peer: {ref.shape[1]} columns)" if ref is not None else ""
            del got, ref
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = time_pair(lambda p=path: reader(p), peer_fn, repeats)
            record(f"{rid} {fname}", res)
            ours_t = min(res["a"])
            peer_t = min(res["b"]) if res["b"] else None
            note = "; ".join(x for x in (shape, note) if x)
        except Exception as exc:  # noqa: BLE001 - report, don't fail the whole run
            if reader is not None:
                note = f"battlab reader failed: {type(exc).__name__}: {str(exc)[:200]}"
            if peer_fn is not None:
                res = time_one(peer_fn, repeats)
                peer_t = min(res["a"])
                record(f"{rid} {fname} (peer only)", res)
        rows.append(dict(id=rid, task=task, input=inp,
                         ours_name=f"`{reader_name}`" if reader else "reader not available",
                         ours=ours_t, peer_name=peer_name, peer=peer_t, note=note))

    # Large synthetic .mpt
    mpt_path, mpt_s = synthetic_mpt(df, key, args.rebuild_data)
    size_mb = mpt_path.stat().st_size / 1e6
    print(f"[2d] synthetic .mpt {size_mb:.0f} MB" + (f" (written in {mpt_s:.0f} s)" if mpt_s else "")
          + " ...", flush=True)
    note = reader_note
    ours_t = peer_t = None
    try:
        if reader is None:
            raise RuntimeError(reader_note)
        got = reader(mpt_path)
        err = float(np.max(np.abs(got["current_A"].to_numpy() - df["current_A"].to_numpy())))
        checks.append(f"synthetic .mpt read back by battlab: {len(got):,} rows (table has {n_rows:,}); max "
                      f"|current_A − original| = {err:.1e} A (8 significant digits in the file).")
        del got
        res = time_pair(lambda: reader(mpt_path), lambda: pandas_read_mpt(mpt_path), repeats)
        record("2d synthetic mpt", res)
        ours_t, peer_t = min(res["a"]), min(res["b"])
    except Exception as exc:  # noqa: BLE001
        if reader is not None:
            note = f"battlab reader failed: {type(exc).__name__}: {str(exc)[:200]}"
        res = time_one(lambda: pandas_read_mpt(mpt_path), repeats)
        peer_t = min(res["a"])
        record("2d synthetic mpt (peer only)", res)
    rows.append(dict(id="2d", task="Read BioLogic .mpt (large)",
                     input=f"synthetic: the 2M-row table in EC-Lab ASCII layout, {len(MPT_COLUMNS)} columns, "
                           f"{size_mb:.0f} MB",
                     ours_name=f"`{reader_name}`" if reader else "reader not available", ours=ours_t,
                     peer_name="`pd.read_csv(sep='\\t', skiprows=header, encoding='latin-1')`", peer=peer_t,
                     note="; ".join(x for x in ("battlab also validates the header and data block, handles "
                                                "decimal commas and truncated last rows, and adds canonical "
                                                "SI columns and metadata; the pandas read returns vendor "
                                                "columns only", note) if x)))
    try:
        mem_rows.append(dict(task="Read large .mpt", input=f"synthetic, {size_mb:.0f} MB",
                             ours=peak_mb(lambda: reader(mpt_path)) if reader else float("nan"),
                             peer_name="pandas.read_csv", peer=peak_mb(lambda: pandas_read_mpt(mpt_path))))
    except Exception:  # noqa: BLE001
        traceback.print_exc()

    # ---- technique benchmarks: every benchmarks/bench_*.py contributes rows
    for module_path in sorted(HERE.glob("bench_*.py")):
        name = module_path.stem
        print(f"[{name}] ...", flush=True)
        try:
            module = importlib.import_module(name)
            got_rows = module.measure(repeats)
        except Exception as exc:  # noqa: BLE001 - one failing technique must not hide the rest
            traceback.print_exc()
            rows.append(dict(id=name, task=f"{name} failed", input="—", ours_name="—", ours=None,
                             peer_name="—", peer=None, note=f"{type(exc).__name__}: {str(exc)[:200]}"))
            continue
        for r in got_rows:
            rows.append(dict(id=r["id"], task=r["task"], input=r["input"], ours_name=r["battlab"],
                             ours=r["battlab_s"], peer_name=r.get("peer") or "—", peer=r.get("peer_s"),
                             note=r.get("detail")))
            details.append(f"{r['id']} ({name}): battlab {fmt_s(r['battlab_s'])}"
                           + (f"; peer {fmt_s(r['peer_s'])}" if r.get("peer_s") is not None else ""))

    # ---- peers that could not be installed
    peers = []
    if args.check_peers:
        live = check_peers_live()
        for name in ("navani", "cellpy"):
            ok, _ = peer_status(name)
            if not ok and live[name].startswith("installs without"):
                peers.append((name, f"installable here ({live[name]}) but not installed; "
                                    f"`.venv/bin/pip install {name}` to benchmark it."))
            elif not ok:
                peers.append((name, f"not installable here: pip resolver says {live[name]}"))
    else:
        for name in ("navani", "cellpy"):
            ok, info_ = peer_status(name)
            if not ok:
                peers.append((name, f"not installable here: {info_} (checked {PEER_CHECK_DATE}; "
                                    "re-check with `--check-peers`)."))

    total = time.perf_counter() - t_start
    text = render(machine_info(), rows, mem_rows, checks, peers, details, total, repeats)
    args.output.write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"[written] {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
