"""AFM benchmark: levelling + roughness of a 4096×4096 map, and a 128×128 force-volume fit.

Run alone: ``.venv/bin/python benchmarks/afm_bench.py`` (about 3–5 minutes on one core);
writes ``benchmarks/AFM_RESULTS.md`` and prints the same table.

Levelling + roughness. battlab: ``level_plane`` (normal equations accumulated in row
chunks) + ``roughness`` (Sa, Sq, Ssk, Sku, Sp, Sv, Sz, Sdr). Peer: the numpy a user
would write: a least-squares plane with ``np.linalg.lstsq`` on the full (N, 3) design
matrix, then the same moments with float powers and ``np.gradient`` for Sdr. pySPM was
not installed: it pins ipython<9 and psutil<6 (a downgrade of the app stack) and pulls
scikit-learn and seaborn for one plane fit.

Force-volume map. battlab: ``fit_force_map`` (Hertz sphere, contact point and modulus
per curve) over all 16,384 curves of ``make_force_map(shape=(128, 128))``. Peer: nanite
(lmfit, ``hertz_para``, tip-position preprocessing) on a random subset of
``NANITE_CURVES`` curves, extrapolated per curve to the full map (a full nanite run
takes several minutes); both sides' moduli are checked against the truth.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

SIZE = 4096
MAP_SHAPE = (128, 128)
NANITE_CURVES = int(os.environ.get("BATTLAB_BENCH_NANITE_CURVES", "256"))


def numpy_level_roughness(z, dx_nm):
    ny, nx = z.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    a = np.stack([np.ones(z.size), xx.ravel(), yy.ravel()], axis=1)
    coef, *_ = np.linalg.lstsq(a, z.ravel(), rcond=None)
    lv = z - (a @ coef).reshape(z.shape)
    dev = lv - lv.mean()
    sq = np.sqrt(np.mean(dev ** 2))
    gy, gx = np.gradient(lv, dx_nm, dx_nm)
    return {"Sa": np.mean(np.abs(dev)), "Sq": sq, "Ssk": np.mean(dev ** 3) / sq ** 3,
            "Sku": np.mean(dev ** 4) / sq ** 4, "Sz": dev.max() - dev.min(),
            "Sdr": (np.mean(np.sqrt(1 + gx ** 2 + gy ** 2)) - 1) * 100}


def bench_roughness():
    from battlab.afm import level_plane, roughness
    from battlab.datasets.afm import make_rough_surface

    demo = make_rough_surface(size_px=SIZE, pixel_size_um=0.002)
    image = demo.data["height"]
    z = image.values
    t0 = time.perf_counter()
    ours = roughness(level_plane(image))
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    peer = numpy_level_roughness(z, 2.0)
    t_peer = time.perf_counter() - t0
    assert abs(ours["Sq"] / demo.truth["Sq_nm"] - 1) < 0.01 and abs(peer["Sq"] / demo.truth["Sq_nm"] - 1) < 0.01
    return t_ours, t_peer, ours, peer


def _nanite_fit(nanite, one, k_N_per_m=40.0):
    seg = (np.asarray(one["segment"]) == "retract")
    data = {"force": one["force_nN"].to_numpy() * 1e-9,
            "height (measured)": one["piezo_height_nm"].to_numpy() * 1e-9,
            "height (piezo)": one["piezo_height_nm"].to_numpy() * 1e-9,
            "segment": seg, "time": np.arange(len(one)) * 1e-3}
    meta = {"spring constant": k_N_per_m, "sensitivity": 50e-9, "imaging mode": "force-distance",
            "point count": len(one), "duration": len(one) * 1e-3, "enum": 0, "path": "synthetic",
            "speed approach": 1e-6, "speed retract": 1e-6}
    idnt = nanite.Indentation(data, meta)
    idnt.apply_preprocessing(["compute_tip_position", "correct_force_offset", "correct_tip_offset"])
    params = idnt.get_initial_fit_parameters(model_key="hertz_para")
    params["R"].value = 20e-9
    params["nu"].value = 0.3
    params["E"].value = 1e9
    idnt.fit_model(model_key="hertz_para", params_initial=params, range_type="absolute",
                   range_x=(-np.inf, np.inf), segment="approach")
    return idnt.fit_properties["params_fitted"]["E"].value / 1e9


def bench_force_map():
    from battlab.afm import fit_force_map
    from battlab.datasets.afm import make_force_map

    t0 = time.perf_counter()
    demo = make_force_map(shape=MAP_SHAPE, n_points=200)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    maps = fit_force_map(demo.data, tip_radius_nm=20.0, poisson=0.3)
    t_ours = time.perf_counter() - t0
    phase = demo.truth["phase"]
    e = maps["modulus_GPa"].values
    ours_err = max(abs(np.nanmedian(e[phase == p]) / m - 1) for p, m in enumerate(demo.truth["moduli_GPa"]))
    result = {"generate_s": t_gen, "ours_s": t_ours, "ours_err": ours_err, "n": phase.size,
              "fit_ok": float(maps["fit_ok"].values.mean())}
    try:
        import nanite
    except ImportError:
        result["nanite"] = None
        return result
    rng = np.random.default_rng(0)
    pick = rng.choice(phase.size, NANITE_CURVES, replace=False)
    grouped = dict(tuple(demo.data[demo.data["curve"].isin(pick)].groupby("curve")))
    errs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _nanite_fit(nanite, grouped[pick[0]])  # warm-up
        t0 = time.perf_counter()
        for k in pick:
            e_fit = _nanite_fit(nanite, grouped[k])
            errs.append(abs(e_fit / demo.truth["moduli_GPa"][phase.ravel()[k]] - 1))
        t_n = time.perf_counter() - t0
    result.update(nanite=t_n / NANITE_CURVES * phase.size, nanite_per_curve_ms=t_n / NANITE_CURVES * 1e3,
                  nanite_err=float(np.median(errs)))
    return result


def main():
    import importlib.metadata as md

    rows = []
    t_ours, t_peer, ours, peer = bench_roughness()
    rows.append(f"| plane levelling + Sa…Sdr, {SIZE}×{SIZE} map | {t_ours:.2f} s | numpy (lstsq, powers, "
                f"np.gradient) {t_peer:.2f} s | {t_peer / t_ours:.1f}× |")
    fm = bench_force_map()
    n = fm["n"]
    if fm.get("nanite") is None:
        rows.append(f"| Hertz fit of a {MAP_SHAPE[0]}×{MAP_SHAPE[1]} force-volume map ({n:,} curves) | "
                    f"{fm['ours_s']:.1f} s | nanite not installed | – |")
    else:
        rows.append(f"| Hertz fit of a {MAP_SHAPE[0]}×{MAP_SHAPE[1]} force-volume map ({n:,} curves) | "
                    f"{fm['ours_s']:.1f} s ({fm['ours_s'] / n * 1e3:.1f} ms/curve) | nanite {fm['nanite']:.0f} s "
                    f"(extrapolated from {NANITE_CURVES} curves, {fm['nanite_per_curve_ms']:.1f} ms/curve) | "
                    f"{fm['nanite'] / fm['ours_s']:.1f}× |")
    versions = ", ".join(f"{p} {md.version(p)}" for p in ("numpy", "nanite", "lmfit") if _has(p))
    text = "\n".join([
        "# AFM benchmark", "",
        f"One run on this machine ({os.cpu_count()} cores, BLAS pinned to one thread); {versions}.", "",
        "| task | battlab | peer | ratio (peer / battlab) |", "|---|---:|---:|---:|", *rows, "",
        f"Checks: Sq of both sides within 1 % of the generated 3 nm; force map: battlab's median modulus per "
        f"phase within {fm['ours_err'] * 100:.2f} % of the truth ({fm['fit_ok'] * 100:.0f} % of pixels pass "
        f"R² ≥ 0.9)" + (f"; nanite's median error {fm['nanite_err'] * 100:.1f} % on its subset." if fm.get("nanite")
                        else ".") + f" Generating the map took {fm['generate_s']:.0f} s (not timed above).", ""])
    (HERE / "AFM_RESULTS.md").write_text(text)
    print(text)


def _has(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


if __name__ == "__main__":
    main()
