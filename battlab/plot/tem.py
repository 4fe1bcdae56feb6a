"""In situ TEM figures: frames, kymographs with fronts, kinetics, nucleation, SAED, EELS, dose."""

from __future__ import annotations

import holoviews as hv
import numpy as np

from battlab.plot._core import HEIGHT, WIDTH, empty

__all__ = ["dose_plot", "eels_plot", "frame_plot", "front_fit_plot", "growth_plot", "kymograph_plot",
           "nucleation_plot", "pattern_plot", "phase_profile_plot", "profile_plot", "strain_map_plot", "eds_plot",
           "component_maps_plot", "component_spectra_plot", "scree_plot"]

_FIT_COLORS = {"linear": "#1f77b4", "parabolic": "#d62728", "power_law": "#2ca02c", "deal_grove": "#9467bd",
               "jmak": "#ff7f0e", "shrinking_core_diffusion": "#8c564b"}
_PHASE_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _image(arr, x_extent, y_extent, title, cmap="gray", **opts):
    # rows run downwards in the image; HoloViews draws y upwards, so flip
    img = hv.Image(np.asarray(arr, float)[::-1], bounds=(0, 0, x_extent, y_extent), kdims=["x", "y"],
                   vdims=[opts.get("vdim", "z")])
    extra = {"clim": tuple(opts["clim"])} if opts.get("clim") is not None else {}
    return img.opts(cmap=cmap, width=opts.get("width", WIDTH), height=opts.get("height", HEIGHT), title=title,
                    colorbar=bool(opts.get("colorbar", False)), tools=["hover"], xlabel=opts.get("xlabel", "x (nm)"),
                    ylabel=opts.get("ylabel", "y (nm)"), **extra)


def frame_plot(frame, *, pixel_size_nm=1.0, title="frame", line=None, centroids=None, cmap="gray", clim=None,
               unit="nm", value_label=None):
    """A movie frame with an optional kymograph line and particle centroids.

    ``pixel_size_nm`` is the length per px in ``unit`` (nm by default; µm for neutron
    radiographs); ``cmap``/``clim`` come from an imaging preset, and ``value_label`` (the
    quantity and unit) adds a colour bar.
    """
    frame = np.asarray(frame, float)
    ny, nx = frame.shape
    px = pixel_size_nm or 1.0
    out = _image(frame, nx * px, ny * px, title, cmap=cmap, clim=clim, xlabel=f"x ({unit})", ylabel=f"y ({unit})",
                 colorbar=value_label is not None, vdim=value_label or "z")
    if line is not None:
        y0, x0, y1, x1 = line
        out = out * hv.Curve([(x0 * px, (ny - y0) * px), (x1 * px, (ny - y1) * px)]).opts(color="#ffcc00", line_width=2)
    if centroids is not None and len(centroids):
        pts = hv.Points((centroids["x_px"] * px, (ny - centroids["y_px"]) * px)).opts(color="#ff3030", size=5,
                                                                                    marker="circle")
        out = out * pts
    return out


def kymograph_plot(kymo, front=None, *, title="kymograph"):
    """Kymograph (position along the line vs time) with the detected front."""
    s = kymo["s_px"].to_numpy() * (kymo.attrs.get("pixel_size") or 1.0)
    t = kymo["time_s"].to_numpy()
    unit = kymo.attrs.get("length_unit", "px")
    img = hv.Image((s, t, np.asarray(kymo.values, float)), kdims=["s", "time"]).opts(
        cmap="gray", width=WIDTH, height=HEIGHT, title=title, xlabel=f"position along line ({unit})",
        ylabel="time (s)", tools=["hover"])
    if front is not None:
        col = f"front_{unit}" if f"front_{unit}" in front else "front_px"
        img = img * hv.Curve((front[col], front["time_s"]), "s", "time").opts(color="#ff3030", line_width=2)
    return img


def front_fit_plot(front, fits=None, *, unit="nm", log=False):
    """Reacted depth vs time with the fitted kinetic models (best first in the legend)."""
    good = front.dropna(subset=["depth"])
    if log:  # zero depth (the reference frame) has no place on log axes
        good = good[(good["depth"] > 0) & (good["time_s"] > good["time_s"].iloc[0])]
    pts = hv.Scatter((good["time_s"], good["depth"]), "time (s)", f"depth ({unit})", label="front").opts(
        color="black", size=4)
    layers = [pts]
    if fits is not None:
        t0 = float(front.dropna(subset=["depth"])["time_s"].iloc[0])
        tt = np.geomspace(max(fits.t[fits.t > 0].min(), 1e-6), fits.t.max(), 200) if log else \
            np.linspace(fits.t.min(), fits.t.max(), 200)
        for model in fits.summary["model"]:
            if model in fits.predictors:
                y = fits.predict(model, tt)
                keep = y > 0 if log else np.isfinite(y)
                layers.append(hv.Curve((tt[keep] + t0, y[keep]), "time (s)", f"depth ({unit})",
                                       label=model).opts(color=_FIT_COLORS.get(model, "#555"), line_width=1.5))
    return hv.Overlay(layers).opts(width=WIDTH, height=HEIGHT, legend_position="bottom_right", logx=log, logy=log,
                                   title="front kinetics" + (" (log–log)" if log else ""))


def nucleation_plot(counts, fits=None):
    """N(t) with the instantaneous and progressive nucleation fits."""
    t = counts["time_s"].to_numpy()
    layers = [hv.Scatter((t, counts["count"]), "time (s)", "N", label="detected").opts(color="black", size=4)]
    if fits is not None and len(fits):
        tt = np.linspace(t.min(), t.max(), 200)
        for _, row in fits.iterrows():
            if row["model"] == "instantaneous":
                y = row["N_inf"] * (1 - np.exp(-row["A_per_s"] * (tt - t.min())))
            else:
                y = row["rate_per_s"] * (tt - t.min())
            layers.append(hv.Curve((tt, y), "time (s)", "N", label=f"{row['model']} (AIC {row['aic']:.0f})").opts(
                line_width=2, color="#d62728" if row["model"] == "instantaneous" else "#1f77b4"))
    return hv.Overlay(layers).opts(width=WIDTH, height=HEIGHT, legend_position="bottom_right", title="nuclei N(t)")


def growth_plot(tracks, *, size="equivalent_diameter_px", pixel_size_nm=1.0, fitted_n=None):
    """Particle radius vs age on log–log axes with guides for n = 1/3, 1/2 and 1."""
    if tracks is None or tracks.empty:
        return empty("no particles")
    curves = []
    dt = float(np.median(np.diff(np.unique(tracks["time_s"])))) if tracks["time_s"].nunique() > 1 else 1.0
    allt = []
    for pid, g in tracks.groupby("particle_id"):
        if len(g) < 3:
            continue
        tau = g["time_s"] - (g["time_s"].iloc[0] - dt / 2)
        r = g[size] / 2 * pixel_size_nm
        allt.append(tau)
        curves.append(hv.Curve((tau, r), "age (s)", "radius (nm)").opts(color="#888888", alpha=0.5, line_width=1))
    if not curves:
        return empty("no particle followed for 3 frames")
    tmin, tmax = float(min(a.min() for a in allt)), float(max(a.max() for a in allt))
    tt = np.geomspace(tmin, tmax, 20)
    r0 = float(np.median(tracks[size])) / 2 * pixel_size_nm
    guides = [hv.Curve((tt, r0 * (tt / tt[len(tt) // 2]) ** n), "age (s)", "radius (nm)", label=f"n = {lab}").opts(
        line_dash="dashed", color=c) for n, lab, c in ((1 / 3, "1/3", "#9467bd"), (0.5, "1/2", "#d62728"),
                                                         (1.0, "1", "#1f77b4"))]
    title = "growth r(τ)" + (f": fitted n = {fitted_n:.2f}" if fitted_n is not None else "")
    return hv.Overlay(curves + guides).opts(width=WIDTH, height=HEIGHT, logx=True, logy=True, title=title,
                                             legend_position="bottom_right")


def pattern_plot(pattern, *, center=None, rings_px=None, title="diffraction pattern"):
    """Diffraction pattern on a log scale with the found centre and rings."""
    img = np.log1p(np.clip(np.asarray(pattern, float), 0, None))
    ny, nx = img.shape
    out = _image(img, nx, ny, title, cmap="inferno", xlabel="kx (px)", ylabel="ky (px)")
    if center is not None:
        cy, cx = center
        out = out * hv.Points([(cx, ny - cy)]).opts(color="cyan", size=8, marker="x")
        for r in (rings_px if rings_px is not None else []):
            out = out * hv.Ellipse(cx, ny - cy, 2 * r).opts(color="cyan", line_width=1, alpha=0.6)
    return out


def profile_plot(profile, *, rings=None, references=None, title="azimuthal profile"):
    """I(d) (or I(R) without calibration) with found rings and reference sticks of the top phases."""
    if "d_A" in profile.coords:
        x = 1 / profile["d_A"].to_numpy()
        xlabel = "1/d (1/Å)"
    else:
        x = profile["radius_px"].to_numpy()
        xlabel = "R (px)"
    y = np.asarray(profile.values, float)
    layers = [hv.Curve((x, y), xlabel, "intensity", label="profile").opts(color="black", line_width=1)]
    ymax = float(np.nanmax(y))
    if references is not None and "d_A" in profile.coords:
        for k, (phase, table) in enumerate(references.items()):
            sticks = hv.Spikes((1 / table["d_A"].to_numpy(), np.full(len(table), 0.35 * ymax)), xlabel, "intensity",
                               label=phase).opts(color=_PHASE_COLORS[k % len(_PHASE_COLORS)], line_width=2)
            layers.append(sticks)
    if rings is not None and len(rings) and "d_A" in rings:
        layers.append(hv.Scatter((1 / rings["d_A"], np.interp(1 / rings["d_A"], x, y) if x[0] < x[-1] else
                                  np.interp(1 / rings["d_A"], x[::-1], y[::-1])), xlabel, "intensity",
                                 label="rings").opts(color="#ff7f0e", size=7, marker="triangle"))
    return hv.Overlay(layers).opts(width=WIDTH, height=HEIGHT, logy=False, title=title, legend_position="top_right")


def eels_plot(spectrum, *, background=None, windows=None, title="EELS"):
    """Spectrum with the power-law background extrapolated under the edge and the windows shaded."""
    e = spectrum["energy_eV"].to_numpy()
    y = np.asarray(spectrum.values, float)
    layers = [hv.Curve((e, y), "energy loss (eV)", "counts", label="spectrum").opts(color="black", line_width=1)]
    if windows:
        for (lo, hi), color in zip(windows, ("#1f77b4", "#d62728"), strict=False):
            layers.append(hv.VSpan(lo, hi).opts(color=color, alpha=0.12))
    if background is not None:
        lo = windows[0][0] if windows else e.min()
        hi = windows[-1][1] if windows else e.max()
        ee = np.linspace(max(lo, 1e-3), hi, 200)
        layers.append(hv.Curve((ee, background["A"] * ee ** (-background["r"])), "energy loss (eV)", "counts",
                               label=f"A·E^-{background['r']:.2f}").opts(color="#d62728", line_dash="dashed"))
    return hv.Overlay(layers).opts(width=WIDTH, height=HEIGHT, title=title, legend_position="top_right")


def dose_plot(dose, *, budget=None, title="cumulative dose"):
    """Cumulative dose vs time with the budget line."""
    layers = [hv.Curve((dose["time_s"], dose["cumulative_dose_e_A2"]), "time (s)", "dose (e⁻/Å²)",
                       label="cumulative").opts(color="#1f77b4", line_width=2)]
    if budget:
        layers.append(hv.HLine(budget).opts(color="#d62728", line_dash="dashed"))
    return hv.Overlay(layers).opts(width=WIDTH, height=HEIGHT, title=title)


def phase_profile_plot(profile, step=None, *, title="phase profile"):
    """Phase along the line (± standard error band) with the two plateau means of the step."""
    col = "s_nm" if "s_nm" in profile else "s_px"
    unit = col.removeprefix("s_")
    s = profile[col].to_numpy()
    y = profile["phase_rad"].to_numpy()
    layers = []
    sem = profile["phase_sem_rad"].to_numpy()
    if np.isfinite(sem).all():
        layers.append(hv.Area((s, y - 2 * sem, y + 2 * sem), f"position ({unit})", ["phase (rad)", "upper"],
                              label="±2 s.e.").opts(color="#1f77b4", alpha=0.2, line_alpha=0))
    layers.append(hv.Curve((s, y), f"position ({unit})", "phase (rad)", label="phase").opts(color="#1f77b4",
                                                                                            line_width=2))
    if step is not None:
        for (lo, hi), level in ((step["left"], step["phase_left_rad"]), (step["right"], step["phase_right_rad"])):
            layers.append(hv.VSpan(lo, hi).opts(color="#ff7f0e", alpha=0.1))
            layers.append(hv.Curve(([lo, hi], [level, level]), f"position ({unit})", "phase (rad)").opts(
                color="#d62728", line_width=3))
    return hv.Overlay(layers).opts(width=WIDTH, height=HEIGHT, title=title, legend_position="top_left")


def strain_map_plot(strain, *, pixel_size_nm=1.0, label="strain", title="strain map"):
    """A strain (or rotation) map on a diverging scale centred on zero.

    The colour limits are the 99th percentile of |value| in the inner 3/4 of the map, so the
    wrap-around at the image edges does not wash out the contrast.
    """
    arr = np.asarray(strain, float)
    ny, nx = arr.shape
    inner = arr[ny // 8: ny - ny // 8, nx // 8: nx - nx // 8]
    lim = float(np.nanpercentile(np.abs(inner), 99)) or 1e-6
    px = pixel_size_nm or 1.0
    return _image(arr, nx * px, ny * px, title, cmap="RdBu_r", clim=(-lim, lim), colorbar=True, vdim=label)


def eds_plot(spectrum, *, windows=None, title="EDS"):
    """X-ray spectrum (log counts, keV) with each line's signal window and the background windows used."""
    e = spectrum["energy_eV"].to_numpy() / 1e3
    y = np.clip(np.asarray(spectrum.values, float), 0.5, None)
    layers = [hv.Curve((e, y), "energy (keV)", "counts").opts(color="black", line_width=1)]
    for row in (windows.to_dict("records") if windows is not None else []):
        layers.append(hv.VSpan(row["signal_lo_eV"] / 1e3, row["signal_hi_eV"] / 1e3).opts(color="#d62728", alpha=0.15))
        for side in row["background_sides"].split("+"):
            layers.append(hv.VSpan(row[f"{side}_lo_eV"] / 1e3, row[f"{side}_hi_eV"] / 1e3).opts(color="#1f77b4",
                                                                                              alpha=0.12))
        layers.append(hv.Text(row["energy_eV"] / 1e3, float(y.max()), f"{row['element']} {row['line']}",
                              fontsize=8))
    return hv.Overlay(layers).opts(width=WIDTH, height=HEIGHT, logy=True, title=title)


def component_spectra_plot(spectra, *, energy_label="energy loss (eV)", energy_scale=1.0, title="components"):
    """Component spectra (``(component, energy)``, from
    :func:`battlab.tem.decompose_spectrum_image`) against energy, one colour per component.

    ``energy_scale`` multiplies the eV axis (1e-3 for keV, as the EDS spectrum is shown)."""
    e = spectra["energy_eV"].to_numpy() * energy_scale
    layers = [hv.Curve((e, np.asarray(spectra.values[k], float)), energy_label, "component",
                       label=f"component {k + 1}").opts(color=_PHASE_COLORS[k % len(_PHASE_COLORS)], line_width=1.5)
              for k in range(spectra.sizes["component"])]
    return hv.Overlay(layers).opts(width=WIDTH, height=HEIGHT, title=title, legend_position="top_right")


def scree_plot(explained, *, title="PCA scree"):
    """Explained-variance fraction per PCA component (log axis, so the small tail stays readable)."""
    frac = np.clip(np.asarray(explained, float), 1e-12, None)
    n = np.arange(1, frac.size + 1)
    return (hv.Curve((n, frac), "component", "explained variance fraction").opts(color="#1f77b4", line_width=2)
            * hv.Scatter((n, frac), "component", "explained variance fraction").opts(color="#1f77b4", size=6)
            ).opts(width=WIDTH, height=HEIGHT, logy=True, title=title, xticks=[int(v) for v in n])


def component_maps_plot(maps, *, pixel_size_nm=1.0, signed=False, label="score", cols=5):
    """One small map per component (``(component, y, x)``); ``signed`` (PCA scores) uses a
    diverging scale centred on zero, otherwise (NMF abundances) viridis from zero."""
    values = np.asarray(maps.values, float)
    _, ny, nx = values.shape
    px = pixel_size_nm or 1.0
    panels = []
    for k, arr in enumerate(values):
        lim = float(np.nanmax(np.abs(arr))) or 1.0
        panels.append(_image(arr, nx * px, ny * px, f"component {k + 1}", cmap="RdBu_r" if signed else "viridis",
                             clim=(-lim, lim) if signed else (0.0, lim), width=190, height=170, colorbar=True,
                             vdim=label))
    return hv.Layout(panels).cols(cols).opts(shared_axes=False)
