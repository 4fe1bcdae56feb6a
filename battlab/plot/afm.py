"""Figures for AFM: calibrated maps, before/after levelling, histogram, PSD, force curves
with their fit, force-volume maps and EC-AFM series."""

from __future__ import annotations

import holoviews as hv
import numpy as np

from battlab.plot._core import HEIGHT, WIDTH, empty

__all__ = ["afm_image", "before_after", "height_histogram", "psd", "profile", "line_profile", "force_curve",
           "force_map", "modulus_depth", "series_metrics"]


def _display(values, max_px):
    step = max(1, int(np.ceil(max(values.shape) / max_px)))
    return values[::step, ::step]


def afm_image(image, *, title: str = "", cmap: str = "afmhot", max_px: int = 400, width=WIDTH, height=HEIGHT,
              log: bool = False, clim=None):
    """A calibrated map in µm with a colour bar in the map's unit (y = 0 at the bottom)."""
    if image is None:
        return empty("No image.", width=width, height=height)
    z = _display(np.asarray(image.values, float), max_px)
    if log:
        z = np.log10(np.clip(np.abs(z), 1e-12, None))
    ny, nx = image.shape
    dx = image.attrs.get("pixel_size_um", 1.0)
    dy = image.attrs.get("pixel_size_y_um", dx)
    unit = image.attrs.get("units", "")
    label = f"log10 |{image.name or 'value'}| ({unit})" if log else f"{image.name or 'value'} ({unit})"
    img = hv.Image(z[::-1], bounds=(0, 0, nx * dx, ny * dy), kdims=["x (µm)", "y (µm)"], vdims=[label])
    opts = dict(cmap=cmap, colorbar=True, width=width, height=height, title=title, tools=["hover"],
                data_aspect=1 if 0.2 < (ny * dy) / (nx * dx) < 5 else None)
    if clim is not None:
        opts["clim"] = clim
    return img.opts(**{k: v for k, v in opts.items() if v is not None})


def before_after(raw, levelled, *, max_px: int = 320):
    """Raw and levelled maps side by side."""
    size = dict(width=WIDTH - 40, height=HEIGHT - 20, max_px=max_px)
    return (afm_image(raw, title="as measured", **size) + afm_image(levelled, title="levelled", **size)).cols(2)


def height_histogram(table, *, units: str = "nm", width=WIDTH - 60, height=HEIGHT - 40):
    """Height distribution of a levelled map."""
    if table is None or len(table) == 0:
        return empty("No histogram.", width=width, height=height)
    return hv.Histogram((np.r_[table["height"].to_numpy() - np.diff(table["height"]).mean() / 2,
                               table["height"].to_numpy()[-1] + np.diff(table["height"]).mean() / 2],
                         table["density"].to_numpy()), kdims=[f"Height ({units})"], vdims=["Density"]).opts(
        width=width, height=height, title="Height histogram", color="#1f77b4", line_color=None, tools=["hover"])


def psd(table, *, units: str = "nm", width=WIDTH - 60, height=HEIGHT - 40):
    """Radially averaged PSD on log–log axes."""
    if table is None or len(table) < 2:
        return empty("No PSD.", width=width, height=height)
    ok = (table["frequency_per_um"] > 0) & (table["psd"] > 0)
    return hv.Curve((table["frequency_per_um"][ok], table["psd"][ok]), "Spatial frequency (1/µm)",
                    f"PSD ({units}²·µm²)").opts(logx=True, logy=True, width=width, height=height,
                                                title="Power spectral density", color="#444444", tools=["hover"])


def profile(image, row: int, *, ra=None, rq=None, width=WIDTH + 120, height=HEIGHT - 80):
    """One scan line (row) of a levelled map against x, with its Ra/Rq in the title."""
    if image is None:
        return empty("No profile.", width=width, height=height)
    unit = image.attrs.get("units", "")
    y = float(image["y_um"].values[row]) if "y_um" in image.coords else row
    title = f"Profile at y = {y:.3g} µm"
    if ra is not None:
        title += f": Ra = {ra:.3g} {unit}, Rq = {rq:.3g} {unit} (ISO 4287, mean line removed)"
    return hv.Curve((image["x_um"].values, image.values[row]), "x (µm)", f"Height ({unit})").opts(
        width=width, height=height, title=title, color="#1f77b4", tools=["hover"])


def line_profile(profile, *, step=None, roughness=None, width=WIDTH + 120, height=HEIGHT - 80):
    """Heights along a free line (:func:`battlab.afm.line_profile`) against distance in µm,
    with the two-terrace fit of a step when ``step`` (:func:`battlab.afm.profile_step_height`)
    is given and Ra/Rq (:func:`battlab.afm.profile_roughness`) in the title."""
    if profile is None or len(profile) == 0:
        return empty("No profile.", width=width, height=height)
    unit = profile.attrs.get("units", "")
    (x0, y0), (x1, y1) = profile.attrs.get("start_um", (0, 0)), profile.attrs.get("end_um", (0, 0))
    title = f"Profile ({x0:.3g}, {y0:.3g}) → ({x1:.3g}, {y1:.3g}) µm"
    if roughness is not None:
        title += f": Ra = {roughness['Ra']:.3g} {unit}, Rq = {roughness['Rq']:.3g} {unit}"
    if step is not None:
        title += f", step {step['step_height']:.3g} {unit}"
    s = profile["distance_um"].to_numpy()
    layers = [hv.Curve((s, profile["height"].to_numpy()), "Distance along the line (µm)", f"Height ({unit})")
              .opts(color="#1f77b4", tools=["hover"])]
    if step is not None:
        edge, (a0, a1) = step["edge_um"], (s[0], s[-1])
        left = step.get("intercept", None)
        if left is not None:
            for lo, hi, offset in ((a0, edge, 0.0), (edge, a1, step["step_height"])):
                xs = np.array([lo, hi])
                fitted = left + step["slope"] * (xs - edge) + offset
                layers.append(hv.Curve((xs, fitted), "Distance along the line (µm)", f"Height ({unit})")
                              .opts(color="#d62728", line_dash="dashed", line_width=2))
        layers.append(hv.VLine(edge).opts(color="#999999", line_dash="dotted"))
    return hv.Overlay(layers).opts(width=width, height=height, title=title, show_legend=False)


def force_curve(curve, *, fit=None, width=WIDTH + 120, height=HEIGHT):
    """Approach (blue) and retract (red) force vs tip travel towards the sample, with the fit."""
    if curve is None or len(curve) == 0:
        return empty("No force curve.", width=width, height=height)
    from battlab.afm.force import prepare_curve

    layers = []
    for seg, color in (("approach", "#1f77b4"), ("retract", "#d62728")):
        if "segment" in curve and (curve["segment"] == seg).sum() >= 10:
            t, f, _ = prepare_curve(curve, segment=seg)
            layers.append(hv.Curve((t, f), "Tip travel towards sample (nm)", "Force (nN)", label=seg)
                          .opts(color=color, line_width=1, alpha=0.8))
    if fit is not None and "_fit" in fit:
        t, pred, c = fit["_fit"]
        layers.append(hv.Curve((t, pred), "Tip travel towards sample (nm)", "Force (nN)",
                               label=f"{fit['model']} fit").opts(color="black", line_width=2, line_dash="dashed"))
        layers.append(hv.VLine(c).opts(color="#2ca02c", line_width=1.5))
    title = "Force curve" if fit is None else (f"Force curve: E = {fit['modulus_GPa']:.3g} GPa, "
                                               f"R² = {fit['r_squared']:.3f}")
    return hv.Overlay(layers).opts(width=width, height=height, title=title, legend_position="top_left",
                                   tools=["hover"])


def force_map(maps, variable: str = "modulus_GPa", *, width=WIDTH, height=HEIGHT, selected=None):
    """One map of :func:`battlab.afm.fit_force_map` (masked pixels blank), pixel grid axes."""
    if maps is None or variable not in maps:
        return empty("No force map.", width=width, height=height)
    z = np.asarray(maps[variable].values, float)
    ny, nx = z.shape
    label = {"modulus_GPa": "E (GPa)", "adhesion_nN": "Adhesion (nN)", "contact_point_nm": "Contact (nm)",
             "r_squared": "R²", "indentation_nm": "Indentation (nm)"}.get(variable, variable)
    img = hv.Image(z[::-1], bounds=(-0.5, -0.5, nx - 0.5, ny - 0.5), kdims=["grid x", "grid y"], vdims=[label])
    over = [img.opts(cmap="viridis", colorbar=True, width=width, height=height, title=label, tools=["hover"],
                     data_aspect=1, clipping_colors={"NaN": "#dddddd"})]
    if selected is not None:
        over.append(hv.Points([selected], ["grid x", "grid y"]).opts(color="red", size=10, marker="x"))
    return hv.Overlay(over).opts(title=f"Force-volume map: {label}")


def modulus_depth(table, *, width=WIDTH, height=HEIGHT):
    """Apparent modulus of successive indentation slices (:func:`battlab.afm.modulus_vs_depth`)."""
    if table is None or len(table) == 0:
        return empty("No modulus-depth profile.", width=width, height=height)
    return (hv.Curve((table["depth_nm"], table["modulus_GPa"]), "Indentation depth (nm)", "E (GPa)")
            .opts(color="#9467bd", line_width=2)
            * hv.Scatter((table["depth_nm"], table["modulus_GPa"]), "Indentation depth (nm)", "E (GPa)")
            .opts(color="#9467bd", size=6, tools=["hover"])).opts(width=width, height=height,
                                                                  title="Modulus vs indentation depth")


def series_metrics(table, *, x: str = "time_s", width=WIDTH + 120, height=HEIGHT - 40, current=None):
    """SEI thickness and step height per frame against time or potential."""
    if table is None or len(table) == 0:
        return empty("No series.", width=width, height=height)
    xl = {"time_s": "Time (s)", "potential_V": "Potential (V)"}.get(x, x)
    layers = []
    for col, color, label in (("thickness_nm", "#d62728", "SEI thickness"), ("step_height_nm", "#1f77b4",
                                                                               "step height")):
        if col in table:
            layers.append(hv.Curve((table[x], table[col]), xl, "Height (nm)", label=label).opts(color=color))
            layers.append(hv.Scatter((table[x], table[col]), xl, "Height (nm)").opts(color=color, size=5))
    if current is not None:
        layers.append(hv.VLine(float(table[x].iloc[int(current)])).opts(color="#999999", line_dash="dotted"))
    opts = {"width": width, "height": height, "title": "EC-AFM: film thickness and step height",
            "legend_position": "top_left", "tools": ["hover"]}
    if x == "potential_V":
        opts["invert_xaxis"] = True  # a cathodic sweep reads left to right
    return hv.Overlay(layers).opts(**opts)
