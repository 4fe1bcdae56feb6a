"""Optical benchmark: per-frame side-view metrics streamed over a large RGB movie on disk.

Run alone (``.venv/bin/python benchmarks/bench_optical.py``) for a markdown table, or
through ``benchmarks/run.py``, which calls :func:`measure`.

The input is a 1024×1024 RGB uint8 multi-page TIFF generated once into
``benchmarks/_data/`` (git-ignored) from :func:`battlab.datasets.make_graphite_movie`
(a 600 µm-thick graphite electrode at 0.5 µm/px lithiating from the separator, with
known thickness, stage fractions, front and stage drift per frame): 150 frames (0.47 GB)
by default to keep the run short; ``--frames 1000`` (or
``BATTLAB_BENCH_OPTICAL_FRAMES=1000``) gives the 3.1 GB movie of the issue.

battlab: ``open_movie`` (lazy) + ``optical.analyze_movie(drift="auto")``: per frame the
stage drift (sub-pixel phase correlation of the luminance around the current collector,
with its confidence), the thickness (sub-pixel edges, moved back by the drift), CIELAB
stage fractions, lithiation front and drift-corrected kymograph column, one frame in
memory at a time.
Peer: the loop a user would write with scikit-image: ``skimage.io.imread`` of the stack,
then per frame ``skimage.registration.phase_cross_correlation`` against the first frame
(grey, 1/50 px), ``skimage.color.rgb2lab``, nearest-centroid classes, a
``skimage.filters.sobel`` gradient image, and the electrode edges as the first/last
mostly-electrode column (whole pixels; the peer measures drift but does not resample the
frames, which saves it time). Peak memory is traced with tracemalloc over the first
``MEMORY_FRAMES`` frames for battlab and for the peer's whole-stack read (what
``imread`` does with any length); the process's peak resident memory is also read right
after the full streamed battlab pass (before the peer runs). One timed pass per side.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np
from run import fmt_ratio, fmt_s, peak_mb

N_FRAMES = int(os.environ.get("BATTLAB_BENCH_OPTICAL_FRAMES", "150"))
SIZE = 1024
MEMORY_FRAMES = 20
DATA_DIR = HERE / "_data"


def _demo(n_frames):
    from battlab.datasets.optical import make_graphite_movie

    # the scene is uniform along y: render 4 rows, tile them to 1024 rows with fresh noise
    return make_graphite_movie(n_frames=n_frames, lithiation_frames=int(0.6 * n_frames), shape=(4, SIZE),
                               thickness_um=300.0, collector_x_px=900.0, noise=0.0, seed=3)


def movie_path(n_frames=None):
    """Generate (once) the benchmark movie; returns the path and the ground truth."""
    n_frames = N_FRAMES if n_frames is None else n_frames
    demo = _demo(n_frames)
    path = DATA_DIR / f"optical_graphite_{n_frames}x{SIZE}x{SIZE}x3.tif"
    if path.is_file():
        return path, demo.truth
    import tifffile

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    rows = demo.data["movie"].values[:, 0]  # (time, x, 3)

    def frames():
        for row in rows:
            img = row[None].astype(np.float32) + rng.normal(0.0, 3.0, size=(SIZE, SIZE, 1)).astype(np.float32)
            yield np.clip(np.round(img), 0, 255).astype(np.uint8)

    tmp = path.with_suffix(".partial")
    tifffile.imwrite(tmp, frames(), shape=(n_frames, SIZE, SIZE, 3), dtype=np.uint8, photometric="rgb")
    tmp.replace(path)
    return path, demo.truth


def battlab_metrics(path, n_frames=None):
    from battlab.imaging import open_movie
    from battlab.optical import analyze_movie

    movie = open_movie(path, pixel_size_um=0.5, hash_source=False)
    if n_frames is not None:
        movie = movie.isel(time=slice(0, n_frames))
    return analyze_movie(movie, drift="auto").frames


def skimage_loop(path, n_frames=None):
    """The plain scikit-image per-frame loop (peer)."""
    from skimage import io
    from skimage.color import rgb2lab
    from skimage.filters import sobel
    from skimage.registration import phase_cross_correlation

    from battlab.optical import default_calibration

    table = default_calibration()
    cents = table[["L", "a", "b"]].to_numpy()
    stack = io.imread(path)  # the whole stack
    if n_frames is not None:
        stack = stack[:n_frames]
    out = []
    ref = stack[0].mean(axis=-1)
    for img in stack:
        shift, _, _ = phase_cross_correlation(ref, img.mean(axis=-1), upsample_factor=50)
        lab = rgb2lab(img)
        classes = np.argmin(((lab[..., None, :] - cents) ** 2).sum(-1), axis=-1)
        # edges: first/last column that is mostly electrode (whole pixels), refined by nothing
        electrode = np.isin(classes, np.flatnonzero(table["electrode"].to_numpy(bool))).mean(axis=0) > 0.5
        cols = np.flatnonzero(electrode)
        sep, cc = int(cols[0]), int(cols[-1]) + 1
        _ = sobel(img.mean(axis=-1))  # the gradient image a user would look at for the interfaces
        region = classes[:, sep:cc]
        counts = np.bincount(region.ravel(), minlength=len(cents)) / region.size
        out.append({"thickness_um": (cc - sep) * 0.5, "dx_px": float(-shift[1]),
                    **{f"fraction_{s}": counts[k] for k, s in
                                                         enumerate(table["stage"])}})
    return out


def measure(repeats: int = 3) -> list[dict]:
    try:
        import skimage  # noqa: F401
        has_peer = True
    except ImportError:
        has_peer = False
    t0 = time.perf_counter()
    path, truth = movie_path()
    gen_s = time.perf_counter() - t0
    n = len(truth["time_s"])
    battlab_metrics(path, 2)  # warm-up: imports
    t0 = time.perf_counter()
    ours = battlab_metrics(path)
    b_s = time.perf_counter() - t0
    import resource

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    err_dx = float(np.max(np.abs(ours["drift_dx_px"] - truth["dx_px"])))
    err_h = float(np.max(np.abs(ours["thickness_um"] / truth["thickness_um"] - 1)))
    err_f = float(np.max(np.abs(ours["fraction_LiC6"] - truth["fractions"]["fraction_LiC6"])))
    p_s = None
    if has_peer:
        t0 = time.perf_counter()
        theirs = skimage_loop(path)
        p_s = time.perf_counter() - t0
        err_h_peer = float(np.max(np.abs(np.array([r["thickness_um"] for r in theirs]) / truth["thickness_um"] - 1)))
    m = min(MEMORY_FRAMES, n)
    mem_ours = peak_mb(lambda: battlab_metrics(path, m))
    mem_peer = peak_mb(lambda: skimage_loop(path, m)) if has_peer else None
    size_gb = path.stat().st_size / 1e9
    detail = (f"{n / b_s:.2f} frames/s battlab" + (f" vs {n / p_s:.2f} frames/s peer" if p_s else "")
              + f"; process peak RSS after the streamed battlab pass over all {n} frames: {rss_mb:.0f} MB "
                f"(movie {1e3 * size_gb:.0f} MB on disk)"
              + f"; peak traced memory over {m} frames: battlab {mem_ours:.0f} MB"
              + (f", peer {mem_peer:.0f} MB (imread holds the whole stack, which grows with the movie, plus the broadcast pixels × classes distance array)"
                 if mem_peer is not None else "")
              + f"; thickness error vs truth: battlab max {100 * err_h:.3f} %"
              + (f", peer max {100 * err_h_peer:.2f} % (whole-pixel edges)" if has_peer else "")
              + f"; LiC6 fraction error battlab max {100 * err_f:.2f} pp"
              + f"; drift dx error battlab max {err_dx:.3f} px (truth ±0.8 px)"
              + (f". {n} frames, not 1,000, to keep the run short (--frames 1000 for the full 3.1 GB)"
                 if n < 1000 else "")
              + (f"; movie generated in {gen_s:.0f} s" if gen_s > 1 else ""))
    return [{"id": "opt1",
             "task": "side-view per-frame metrics (drift, thickness, CIELAB stage fractions, front, kymograph) "
                     "streamed from disk",
             "input": f"{n}-frame 1024×1024 RGB uint8 TIFF ({size_gb:.2f} GB), known thickness/fractions",
             "battlab": "`imaging.open_movie` + `optical.analyze_movie(drift=\"auto\")`", "battlab_s": b_s,
             "peer": "`skimage.io.imread` + per-frame `phase_cross_correlation` / `rgb2lab` / nearest centroid / "
                     "`filters.sobel`"
             if has_peer else None, "peer_s": p_s, "detail": detail}]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=N_FRAMES, help="movie length (1000 for the issue's 3.1 GB run)")
    N_FRAMES = parser.parse_args().frames
    out = measure(3)
    print("| id | task | input | battlab | battlab (s) | peer | peer (s) | peer/battlab | detail |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in out:
        print(f"| {r['id']} | {r['task']} | {r['input']} | {r['battlab']} | {fmt_s(r['battlab_s'])} | "
              f"{r['peer'] or '—'} | {fmt_s(r['peer_s'])} | {fmt_ratio(r['peer_s'], r['battlab_s'])} | {r['detail']} |")
