"""Cost of running readers isolated (battlab.io.isolate) versus in this process.

Run alone: ``.venv/bin/python benchmarks/isolation_bench.py`` (about 30 s); prints a
Markdown table. Needs the real files (``BATTLAB_REAL_DATA`` or ../shared/data/real).

Rows: the one-off start of the fork server (paid once per kernel, in the background in
the apps), an empty child (the fixed cost of every isolated read), and real native
files read in process, read isolated, and trial-decoded isolated (``probe_native``,
what apps with their own readers pay before reading in the kernel). Median of 5 runs.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

REAL = Path(os.environ.get("BATTLAB_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))


def _median_s(func, repeat=5):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    import battlab
    from battlab.io.isolate import probe_native, run_isolated, warm_up
    from battlab.tem.io import open_tem

    started = time.perf_counter()
    warm_up()
    run_isolated(len, "x")
    rows = [("fork server start (once per kernel)", f"{time.perf_counter() - started:.2f} s", "", "")]
    rows.append(("empty child (fixed cost per isolated read)", f"{_median_s(lambda: run_isolated(len, 'x')) * 1e3:.0f} ms",
                 "", ""))
    cases = [("tem/ncempy_08_carbon.dm3", lambda p: open_tem(p), open_tem, (), {}),
             ("tem/ncempy_dmTest_float32_nonSquare_diffPixelSize.dm4", lambda p: open_tem(p), open_tem, (), {}),
             ("afm/AFMReader_sample_0.jpk", lambda p: battlab.load(p), None, (), {}),
             ("tiff-stack/pims_stuck.tif", lambda p: battlab.load(p, voxel_size_um=1.0), None, (), {"voxel_size_um": 1.0})]
    for rel, here, func, _args, options in cases:
        path = REAL / rel
        if func is None:
            there = lambda p=path, o=options: battlab.load(p, isolate=True, **o)  # noqa: E731
        else:
            there = lambda p=path, f=func: run_isolated(f, p, name=p.name)  # noqa: E731
        rows.append((f"{path.name} ({path.stat().st_size / 1e3:.0f} kB)",
                     f"{_median_s(lambda p=path: here(p)) * 1e3:.0f} ms",
                     f"{_median_s(there) * 1e3:.0f} ms",
                     f"{_median_s(lambda p=path: run_isolated(probe_native, p, name=p.name)) * 1e3:.0f} ms"))
    print("| case | in process | isolated read | trial decode (probe_native) |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
