"""In situ TEM benchmark: SAED azimuthal integration of a pattern series and drift + front tracking
of a movie streamed from disk, side by side with the loops a user would otherwise write.

Run alone: ``.venv/bin/python benchmarks/tem_bench.py`` (markdown to stdout and
``benchmarks/TEM_RESULTS.md``). Inputs are generated once into ``benchmarks/_data/``
(git-ignored) as ``.npy`` files read through memory maps, so nothing is held whole.

Sizes (environment variables, defaults in brackets): ``BATTLAB_BENCH_SAED_PATTERNS`` [500]
patterns of 512×512 uint16; ``BATTLAB_BENCH_TEM_FRAMES`` [200] frames of
``BATTLAB_BENCH_TEM_SIZE`` [1024]² uint8 (the issue's 2,000 frames take ~10× longer
and 2 GB of disk: set the variable for the full size).

SAED. battlab: :func:`battlab.tem.azimuthal_profiles` (radius bins computed once, one
``np.bincount`` per pattern). Naive loop: radius map and bincount recomputed for every
pattern. pyFAI (when installed): ``AzimuthalIntegrator.integrate1d`` per pattern with the
same centre, in radius units, ``"bbox"`` splitting. Answers are checked: the Si(111)
ring radius from each side is compared with the generated 60 px.

Movie. battlab: ``open_tem`` (lazy) → ``correct_drift`` (phase correlation against the
first frame, 1/20 px; only the drift table is used) → ``kymograph`` with the line
following the drift on the raw frames → ``detect_front``. Peer loop: each frame from the
memory map, ``skimage.registration.phase_cross_correlation`` (1/20 px), ``scipy.ndimage``
shift, the profile along the same line and a threshold crossing. Both fronts are checked
against the generated core radius.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

DATA = HERE / "_data"
N_PATTERNS = int(os.environ.get("BATTLAB_BENCH_SAED_PATTERNS", "500"))
N_FRAMES = int(os.environ.get("BATTLAB_BENCH_TEM_FRAMES", "200"))
SIZE = int(os.environ.get("BATTLAB_BENCH_TEM_SIZE", "1024"))


def saed_stack():
    path = DATA / f"saed_{N_PATTERNS}x512x512_u16.npy"
    truth = {"center": (261.3, 248.7), "r111": 60.0}
    if not path.is_file():
        from battlab.datasets.tem import make_saed_pattern

        DATA.mkdir(parents=True, exist_ok=True)
        base = make_saed_pattern(phases={"Si": 1.0}, counts=4000.0, rng=1).data.values
        rng = np.random.default_rng(2)
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16, shape=(N_PATTERNS, 512, 512))
        for i in range(N_PATTERNS):
            out[i] = np.clip(base + rng.normal(0, 2, base.shape), 0, 65535).astype(np.uint16)
        out.flush()
        del out
    return np.load(path, mmap_mode="r"), truth


def movie_file():
    path = DATA / f"tem_wire_{N_FRAMES}x{SIZE}x{SIZE}_u8.npy"
    truth_path = path.with_suffix(".truth.npz")
    if not path.is_file():
        from scipy.ndimage import gaussian_filter

        DATA.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(3)
        # the crop window drifts by up to 0.07 px/frame: the scene is padded to hold it at any length
        pad = 32 + int(np.ceil(0.07 * N_FRAMES))
        big = SIZE + 2 * pad
        tex = gaussian_filter(rng.standard_normal((big, big)), 3)
        tex = 0.12 * tex / tex.std()
        yy = np.abs(np.arange(big) - big / 2)[:, None] * np.ones((1, big))
        r0 = SIZE / 6
        t = np.arange(N_FRAMES, dtype=float)
        rc = r0 - np.sqrt(2 * (r0 ** 2 / (2 * 1.5 * N_FRAMES)) * t)  # core never vanishes
        rout = np.sqrt(rc ** 2 + 3.7 * (r0 ** 2 - rc ** 2))
        drift = np.cumsum(np.tile([0.05, 0.07], (N_FRAMES, 1)), axis=0)
        drift -= drift[0]
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(N_FRAMES, SIZE, SIZE))
        for i in range(N_FRAMES):
            shell = np.clip(rout[i] - yy + 0.5, 0, 1)
            core = np.clip(rc[i] - yy + 0.5, 0, 1)
            img = (1.0 + tex) * (1 - shell) + 0.75 * (shell - core) + 0.45 * core
            # integer-pixel drift of the whole scene (a crop window moving over it)
            dy, dx = np.round(drift[i]).astype(int)
            crop = img[pad + dy:pad + dy + SIZE, pad + dx:pad + dx + SIZE]
            out[i] = np.clip(crop * 160 + rng.normal(0, 4, crop.shape), 0, 255).astype(np.uint8)
        out.flush()
        # the crop window moves by +drift, so the specimen moves by −drift in the frames
        np.savez(truth_path, rc=rc, drift=-np.round(drift), axis=big / 2 - pad)
    t = np.load(truth_path)
    return path, {"rc": t["rc"], "drift": t["drift"], "axis": float(t["axis"])}


def bench_saed():
    from battlab.tem import azimuthal_profiles, find_rings

    stack, truth = saed_stack()
    center = truth["center"]
    rows = {}
    t0 = time.perf_counter()
    profiles = azimuthal_profiles(stack, center=center, bin_px=0.5)
    rows["battlab azimuthal_profiles"] = time.perf_counter() - t0
    # rings outside the beam stop (10 px)
    r111 = find_rings(profiles.isel(time=-1), min_radius_px=15)["radius_px"].iloc[0]

    t0 = time.perf_counter()
    naive = []
    for i in range(stack.shape[0]):
        frame = np.asarray(stack[i], float)
        y, x = np.indices(frame.shape)
        r = np.hypot(y - center[0], x - center[1])
        idx = (r / 0.5).astype(int)
        naive.append(np.bincount(idx.ravel(), frame.ravel()) / np.maximum(np.bincount(idx.ravel()), 1))
    rows["naive numpy loop"] = time.perf_counter() - t0
    n = min(len(naive[-1]), profiles.sizes["radius"])
    agree = float(np.max(np.abs(naive[-1][:n][1:] - profiles.isel(time=-1).values[:n][1:])))

    r_fai = None
    try:
        from pyFAI.integrator.azimuthal import AzimuthalIntegrator

        pixel = 14e-6
        ai = AzimuthalIntegrator(dist=0.3, poni1=center[0] * pixel + pixel / 2, poni2=center[1] * pixel + pixel / 2,
                                 pixel1=pixel, pixel2=pixel)
        t0 = time.perf_counter()
        for i in range(stack.shape[0]):
            res = ai.integrate1d(np.asarray(stack[i]), 500, unit="r_mm", method="bbox", radial_range=(0, 3.4))
        rows["pyFAI integrate1d (bbox)"] = time.perf_counter() - t0
        rad_px = res.radial / (pixel * 1e3)
        win = (rad_px > 55) & (rad_px < 65)
        r_fai = float(rad_px[win][np.argmax(res.intensity[win])])
    except ImportError:
        rows["pyFAI integrate1d (bbox)"] = None
    return rows, {"Si(111) radius, battlab (px)": r111, "Si(111) radius, pyFAI peak bin (px)": r_fai,
                  "generated (px)": truth["r111"], "max |battlab − naive| profile": agree}


def bench_movie():
    from scipy.ndimage import map_coordinates
    from scipy.ndimage import shift as nd_shift
    from skimage.registration import phase_cross_correlation

    from battlab.tem import correct_drift, detect_front, kymograph, open_tem

    path, truth = movie_file()
    ax = truth["axis"]
    x_line = SIZE * 0.4
    line = ((ax - SIZE / 3, x_line), (ax, x_line))
    rows = {}
    t0 = time.perf_counter()
    movie = open_tem(path, pixel_size_nm=1.0, frame_time_s=1.0, hash_source=False)
    _fixed, drift = correct_drift(movie, upsample_factor=20, roi=(slice(0, SIZE // 5), slice(None)))
    # the line follows the measured drift on the raw frames (no whole-frame shifts)
    kymo = kymograph(movie, *line, width_px=5, drift=drift)
    front = detect_front(kymo, method="threshold", level=0.6 * 160)
    rows["battlab (open_tem → drift → drift-following kymograph → detect_front)"] = time.perf_counter() - t0
    ours = front["front_px"].to_numpy()

    t0 = time.perf_counter()
    stack = np.load(path, mmap_mode="r")
    ref = np.asarray(stack[0, :SIZE // 5], float)
    s = np.arange(0, SIZE / 3 + 1e-9, 1.0)
    yy = line[0][0] + s
    peer = []
    for i in range(stack.shape[0]):
        frame = np.asarray(stack[i], float)
        shift, _, _ = phase_cross_correlation(ref, frame[:SIZE // 5], upsample_factor=20)
        moved = nd_shift(frame, shift, order=1, mode="nearest")
        prof = np.mean([map_coordinates(moved, [yy, np.full_like(yy, x_line + o)], order=1) for o in (-2, -1, 0, 1, 2)],
                       axis=0)
        level = 0.6 * 160
        k = np.nonzero((prof[1:] < level) != (prof[:-1] < level))[0]
        peer.append(s[k[0]] + (level - prof[k[0]]) / (prof[k[0] + 1] - prof[k[0]]) if k.size else np.nan)
    rows["peer loop (skimage phase_cross_correlation + scipy shift + profile)"] = time.perf_counter() - t0
    expected = SIZE / 3 - truth["rc"]
    return rows, {"battlab front error, median |px|": float(np.nanmedian(np.abs(ours - expected))),
                  "peer front error, median |px|": float(np.nanmedian(np.abs(np.asarray(peer) - expected))),
                  "battlab drift error, max |px|": float(np.max(np.abs(drift[["dy_px", "dx_px"]].to_numpy()
                                                                     - truth["drift"])))}


def main():
    lines = [f"# In situ TEM benchmark\n\n{N_PATTERNS} SAED patterns of 512×512; movie of {N_FRAMES} frames of "
             f"{SIZE}×{SIZE} uint8, both memory-mapped from disk. One timed pass per side.\n"]
    for title, fn, n in (("SAED azimuthal integration", bench_saed, N_PATTERNS),
                         ("Drift correction + front tracking", bench_movie, N_FRAMES)):
        rows, checks = fn()
        ours = next(iter(rows.values()))
        lines.append(f"## {title}\n\n| method | time (s) | items/s | time / battlab |\n|---|---|---|---|")
        for name, sec in rows.items():
            if sec is None:
                lines.append(f"| {name} | not installed | – | – |")
            else:
                lines.append(f"| {name} | {sec:.2f} | {n / sec:.1f} | {sec / ours:.2f} |")
        lines.append("\n" + "\n".join(f"- {k}: {v if v is None else round(v, 3)}" for k, v in checks.items()) + "\n")
    text = "\n".join(lines)
    print(text)
    (HERE / "TEM_RESULTS.md").write_text(text)


if __name__ == "__main__":
    main()
