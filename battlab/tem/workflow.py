"""One call per TEM data kind, shared by ``battlab tem``/``battlab saed`` and the TEM app.

Each function returns a :class:`TEMResult`: tidy tables (what the CLI writes as CSV and
the app exports), the options used (for provenance) and notes for the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["TEMResult", "analyse_4dstem", "analyse_eds", "analyse_image", "analyse_movie", "analyse_saed",
           "analyse_saed_series", "analyse_spectrum", "metadata_table"]

_META_KEYS = ("kind", "source_name", "source_format", "pixel_size_nm", "pixel_size_y_nm", "pixel_size_x_nm",
              "voltage_kV", "mode", "exposure_s", "frame_time_s", "dwell_time_s", "camera_length_m", "magnification",
              "screen_current_A", "acquisition_time", "dispersion_eV", "source_sha256")


@dataclass
class TEMResult:
    """Tables (name → DataFrame), the options used, notes, and arrays for plotting."""

    tables: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    arrays: dict = field(default_factory=dict)


def metadata_table(data) -> pd.DataFrame:
    """What the file declared (one row per item), with the data shape."""
    rows = [{"item": "shape", "value": " × ".join(f"{d}={n}" for d, n in data.sizes.items())}]
    for key in _META_KEYS:
        val = data.attrs.get(key)
        if val is not None:
            rows.append({"item": key, "value": str(val)})
    for note in data.attrs.get("notes", []):
        rows.append({"item": "note", "value": note})
    return pd.DataFrame(rows)


def analyse_movie(movie, *, line=None, line_width_px: int = 5, front_method: str = "erf", level: float | None = None,
                  direction: str = "forward", two_sided: bool = False, front_reference: float | None = None,
                  drift: bool = False,
                  drift_roi=None, morphometry: bool = False, shape: str = "projected", particles: bool = False,
                  invert: bool = False, threshold: float | None = None, min_area_px: int = 5,
                  max_displacement_px: float = 5.0, models=("linear", "parabolic", "power_law", "deal_grove", "jmak"),
                  n_bootstrap: int = 200, dose_rate_e_A2_s: float | None = None) -> TEMResult:
    """Drift, kymograph front and kinetics, morphometry, particles and dose of a TEM movie.

    Parameters
    ----------
    line : (y0, x0, y1, x1), optional
        Kymograph line in px; with it the front is tracked and fitted.
    two_sided : bool
        The line crosses the whole object: the front is found walking in from both ends
        and ``half_width`` = (backward − forward)/2 is tracked (free of drift across the
        line, e.g. the core radius of a wire).
    front_reference : float, optional
        Position (in the line's length unit) the depth is measured from; default the
        first frame's front. Depth = |front − reference|.
    drift : bool
        Correct stage drift first (phase correlation, ``drift_roi`` = (y0, y1, x0, x1)).
    morphometry / particles : bool
        Size of the largest object per frame / particle detection, linking and N(t).
    dose_rate_e_A2_s : float, optional
        Adds per-frame and cumulative dose.
    """
    from battlab.tem import fronts as fr
    from battlab.tem.physics import cumulative_dose

    if tuple(movie.dims) != ("time", "y", "x"):
        raise InvalidParameterError("analyse_movie needs a (time, y, x) movie.")
    out = TEMResult(options={"line": line, "line_width_px": line_width_px, "front_method": front_method,
                             "level": level, "direction": direction, "two_sided": two_sided, "drift": drift, "drift_roi": drift_roi,
                             "morphometry": morphometry, "shape": shape, "particles": particles, "invert": invert,
                             "threshold": threshold, "min_area_px": min_area_px,
                             "max_displacement_px": max_displacement_px, "models": list(models),
                             "n_bootstrap": n_bootstrap, "dose_rate_e_A2_s": dose_rate_e_A2_s})
    out.tables["metadata"] = metadata_table(movie)
    work, drift_table = movie, None
    if drift:
        from battlab.tem.movie import correct_drift

        roi = None if drift_roi is None else (slice(drift_roi[0], drift_roi[1]), slice(drift_roi[2], drift_roi[3]))
        work, drift_table = correct_drift(movie, roi=roi)
        out.tables["drift"] = drift_table
    if line is not None:
        from battlab.imaging.kymograph import kymograph

        if len(line) != 4:
            raise InvalidParameterError("line must be (y0, x0, y1, x1) in px.")
        # the line follows the specimen on the raw frames: one interpolation, no whole-frame shifts
        kymo = kymograph(movie, line[:2], line[2:], width_px=line_width_px, drift=drift_table)
        out.arrays["kymograph"] = kymo
        front = fr.detect_front(kymo, method=front_method, level=level, direction=direction)
        unit = kymo.attrs.get("length_unit", "px")
        col = f"front_{unit}" if f"front_{unit}" in front else "front_px"
        if two_sided:
            back = fr.detect_front(kymo, method=front_method, level=level,
                                   direction="backward" if direction == "forward" else "forward")
            front["front_back_" + col.split("_", 1)[1]] = back[col]
            front["half_width"] = (back[col] - front[col]).abs() / 2
            col = "half_width"
        found = front[col].dropna()
        if found.empty and front_reference is None:
            raise MissingDataError("no front crosses the chosen level along this line in any frame; move the line "
                                   "or set the level between the intensities on both sides of the front.")
        ref = found.iloc[0] if front_reference is None else front_reference
        front["depth"] = np.abs(front[col] - ref)
        front.attrs["depth_unit"] = unit
        out.tables["front"] = front
        good = front.dropna(subset=["depth"])
        if len(good) >= 5:
            fits = fr.fit_front_models(good["time_s"], good["depth"], models=models, n_bootstrap=n_bootstrap,
                                       t0_s=float(good["time_s"].iloc[0]))
            out.tables["front_models"] = fits.summary
            out.tables["front_parameters"] = fits.parameters
            out.arrays["front_fits"] = fits
            try:
                two = fr.fit_two_regime(good["time_s"] - good["time_s"].iloc[0], good["depth"])
                two["t_break_s"] += float(good["time_s"].iloc[0])
                out.tables["two_regime"] = pd.DataFrame([two])
            except MissingDataError as exc:
                out.notes.append(f"two-regime fit skipped: {exc}")
            out.tables["front_velocity"] = fr.front_velocity(good["time_s"], good["depth"],
                                                             window_points=min(5, len(good) - (len(good) + 1) % 2))
        else:
            out.notes.append("fewer than 5 frames with a front: no kinetics fit (check the line and level).")
    if morphometry:
        from battlab.tem.morphometry import frame_morphometry

        out.tables["morphometry"] = frame_morphometry(work, threshold=threshold, invert=invert, shape=shape,
                                                      min_area_px=min_area_px)
    if particles:
        from battlab.imaging.particles import detect_particles, link_particles
        from battlab.tem.nucleation import count_vs_time, fit_growth_exponent, fit_nucleation, size_distribution

        parts = detect_particles(work, threshold=threshold, invert=invert, min_area_px=min_area_px)
        if parts.empty:
            out.notes.append("no particles detected; adjust the threshold or the polarity (invert).")
        else:
            tracks = link_particles(parts, max_displacement_px=max_displacement_px)
            tracks.attrs["battlab"] = {"n_frames": work.sizes["time"]}
            out.tables["particles"] = tracks
            counts = count_vs_time(tracks)
            out.tables["counts"] = counts
            out.tables["size_distribution"] = size_distribution(tracks)
            try:
                out.tables["nucleation_fits"] = fit_nucleation(counts["time_s"], counts["count"])
            except MissingDataError as exc:
                out.notes.append(f"nucleation fit skipped: {exc}")
            try:
                g = fit_growth_exponent(tracks)
                out.tables["growth"] = pd.DataFrame(
                    [{"n_fitted": g["n"], "k": g["k"], "n_particles": g["n_particles"], "closest_model": g["closest_model"],
                      **{f"n_expected ({m})": v for m, v in g["expected"].items()}}])
            except MissingDataError as exc:
                out.notes.append(f"growth exponent skipped: {exc}")
    if dose_rate_e_A2_s is not None:
        times = movie["time_s"].to_numpy()
        exposure = movie.attrs.get("exposure_s")
        out.tables["dose"] = cumulative_dose(times, dose_rate_e_A2_s=dose_rate_e_A2_s,
                                             exposure_s=exposure if exposure and len(times) > 1 and
                                             exposure <= np.min(np.diff(times)) + 1e-9 else None)
    out.arrays["movie"] = work
    return out


def analyse_image(image, *, n_spots: int = 6, min_d_nm: float | None = None, max_d_nm: float | None = None) -> TEMResult:
    """Metadata and the FFT lattice spots of an image."""
    from battlab.tem.saed import fft_spots

    out = TEMResult(options={"n_spots": n_spots, "min_d_nm": min_d_nm, "max_d_nm": max_d_nm})
    out.tables["metadata"] = metadata_table(image)
    px = image.attrs.get("pixel_size_nm")
    if px:
        try:
            out.tables["fft_spots"] = fft_spots(image, pixel_size_nm=px, n_spots=n_spots, min_d_nm=min_d_nm,
                                                max_d_nm=max_d_nm)
        except MissingDataError as exc:
            out.notes.append(str(exc))
    else:
        out.notes.append("non-square or unknown pixels: no FFT d-spacings (give pixel_size_nm=).")
    return out


def analyse_spectrum(spectrum, *, edges=("Li K", "C K", "O K", "F K", "S L2,3")) -> TEMResult:
    """EELS: ZLP calibration and t/λ when the zero loss is recorded, edge signals in range."""
    from battlab.tem import eels

    out = TEMResult(options={"edges": list(edges)})
    out.tables["metadata"] = metadata_table(spectrum)
    e = spectrum["energy_eV"].to_numpy()
    spec = spectrum
    if e.min() < -1 < 1 < e.max():
        spec, shift = eels.calibrate_energy(spectrum)
        out.tables["thickness"] = pd.DataFrame([{**eels.log_ratio_thickness(spec), "zlp_shift_eV": shift}])
    else:
        out.notes.append("no zero-loss peak in the record: energy axis as stored, no t/λ.")
    table = eels.edge_table(spec, edges)
    out.tables["edges"] = table
    if table.empty:
        out.notes.append("no listed edge lies inside the recorded energy range.")
    out.arrays["spectrum"] = spec
    return out


def analyse_saed(pattern, *, camera_constant: float | None = None, voltage_kV: float | None = None,
                 camera_length_mm: float | None = None, detector_pixel_um: float | None = None,
                 standard: str | None = None, center=None, beam_stop_px: float | None = None,
                 tolerance_pct: float = 1.5, phases=None, max_rings: int = 12) -> TEMResult:
    """Centre, azimuthal profile, rings → d, (calibration) and ranked phase matches of one pattern.

    The camera constant K (px·Å) comes, in order of preference, from ``camera_constant``,
    from calibrating on ``standard`` (this pattern is then the standard), from the
    pattern's reciprocal calibration (1/nm per px), or from ``voltage_kV`` +
    ``camera_length_mm`` + ``detector_pixel_um``.
    """
    from battlab.tem import saed
    from battlab.tem.physics import camera_constant_px_A

    img = np.asarray(pattern.values if hasattr(pattern, "values") else pattern, float)
    if img.ndim != 2:
        raise InvalidParameterError("analyse_saed needs one 2-D pattern.")
    out = TEMResult(options={"camera_constant": camera_constant, "voltage_kV": voltage_kV,
                             "camera_length_mm": camera_length_mm, "detector_pixel_um": detector_pixel_um,
                             "standard": standard, "center": center, "beam_stop_px": beam_stop_px,
                             "tolerance_pct": tolerance_pct, "phases": phases, "max_rings": max_rings})
    attrs = getattr(pattern, "attrs", {})
    mask = None
    if center is None:
        center = saed.find_center(img)
    if beam_stop_px:
        y, x = np.indices(img.shape)
        mask = np.hypot(y - center[0], x - center[1]) <= beam_stop_px
        center = saed.find_center(img, mask=mask)
    prof = saed.azimuthal_profile(img, center=center, mask=mask)
    rings = saed.find_rings(prof, max_rings=max_rings)
    k, source = camera_constant, "given"
    if k is None and standard:
        cal = saed.calibrate_camera(rings["radius_px"], standard=standard)
        k, source = cal["camera_constant_px_A"], f"calibrated on {standard}"
        out.tables["calibration"] = cal["rings"].assign(camera_constant_px_A=k, rms_error_pct=cal["rms_error_pct"])
    if k is None and attrs.get("reciprocal_pixel_per_nm"):
        k, source = 10.0 / attrs["reciprocal_pixel_per_nm"], "file's reciprocal calibration"
    if k is None and voltage_kV and camera_length_mm and detector_pixel_um:
        k = camera_constant_px_A(voltage_kV=voltage_kV, camera_length_mm=camera_length_mm,
                                 detector_pixel_um=detector_pixel_um)
        source = "nominal camera length"
    out.tables["center"] = pd.DataFrame([{"center_y_px": center[0], "center_x_px": center[1],
                                          "camera_constant_px_A": k, "calibration": source if k else "none"}])
    if k is None:
        out.notes.append("no calibration: ring radii in px only. Give a camera constant, a standard (Au, Si) "
                         "or voltage + camera length + detector pixel.")
        out.tables["profile"] = pd.DataFrame({"radius_px": prof["radius_px"].to_numpy(), "intensity": prof.values})
        out.tables["rings"] = rings
        out.arrays["profile"] = prof
        return out
    prof = saed.azimuthal_profile(img, center=center, mask=mask, camera_constant=k)
    rings["d_A"] = k / rings["radius_px"]
    out.tables["profile"] = pd.DataFrame({"radius_px": prof["radius_px"].to_numpy(), "d_A": prof["d_A"].to_numpy(),
                                          "q_per_A": prof["q_per_A"].to_numpy(), "intensity": prof.values})
    out.tables["rings"] = rings
    r = prof["radius_px"].to_numpy()
    if len(rings):
        out.tables["matches"] = saed.match_phases(rings["d_A"], phases=phases, tolerance_pct=tolerance_pct,
                                                  d_range_A=(k / r.max(), k / max(r.min(), 1.0)))
        out.tables["candidates"] = saed.d_candidates(rings["d_A"], phases=phases, tolerance_pct=tolerance_pct)
    else:
        out.notes.append("no rings found above the background.")
    out.arrays["profile"] = prof
    out.arrays["pattern"] = img
    return out


def analyse_saed_series(series, *, camera_constant: float, reactant: str | None = None, product: str | None = None,
                        center=None, beam_stop_px: float | None = None, tolerance_pct: float = 1.5,
                        window_pct: float = 3.5) -> TEMResult:
    """Time-resolved SAED: profiles I(d, t), the rings of the first and last pattern, and the
    intensity of one reactant and one product ring over time → product fraction.

    The reactant (product) defaults to the best-ranked phase of the first (last) pattern;
    each is followed through its innermost ring (among its first three) with no ring of
    the other phase within ± ``window_pct`` (the integration window, in d).
    The fraction scales each ring by its largest value, so the series should reach both
    end members.
    """
    from battlab.tem import saed
    from battlab.tem.phases import reflections

    stack = series.data if hasattr(series, "data") else np.asarray(series)
    if getattr(stack, "ndim", 0) != 3:
        raise InvalidParameterError("analyse_saed_series needs a (time, ky, kx) stack of patterns.")
    out = TEMResult(options={"camera_constant": camera_constant, "reactant": reactant, "product": product,
                             "center": center, "beam_stop_px": beam_stop_px, "tolerance_pct": tolerance_pct,
                             "window_pct": window_pct})
    first = np.asarray(stack[0], float)
    last = np.asarray(stack[-1], float)
    mask = None
    if center is None:
        center = saed.find_center(first + last)
    if beam_stop_px:
        y, x = np.indices(first.shape)
        mask = np.hypot(y - center[0], x - center[1]) <= beam_stop_px
    profiles = saed.azimuthal_profiles(series, center=center, mask=mask, camera_constant=camera_constant)
    out.arrays["profiles"] = profiles
    picks = {}
    for label, idx, given in (("reactant", 0, reactant), ("product", -1, product)):
        rings = saed.find_rings(profiles.isel(time=idx), camera_constant=camera_constant)
        out.tables[f"rings_{label}"] = rings
        if given is None:
            ranked = saed.match_phases(rings["d_A"], tolerance_pct=tolerance_pct) if len(rings) else pd.DataFrame()
            options = [p for p in ranked.get("phase", []) if p not in picks.values()]
            if not options:
                raise MissingDataError(f"no phase matches the rings of the {'first' if idx == 0 else 'last'} pattern; "
                                       f"name the {label} phase.")
            given = options[0]
        picks[label] = given
    windows = {}
    other = {"reactant": picks["product"], "product": picks["reactant"]}
    for label, phase in picks.items():
        refs = reflections(phase).head(3)
        clash = reflections(other[label])["d_A"].to_numpy()
        best = None
        for _, ref in refs.iterrows():  # the innermost ring the other phase leaves free
            if np.all(np.abs(clash / ref["d_A"] - 1) > window_pct / 100):
                best = ref
                break
        if best is None:
            raise MissingDataError(f"every strong ring of {phase} overlaps {other[label]}; choose other phases.")
        h = window_pct / 100
        windows[f"{phase} {best['hkl']}"] = ("d", best["d_A"] * (1 - h), best["d_A"] * (1 + h))
    intens = saed.ring_intensities(profiles, windows)
    names = list(windows)
    frac = saed.phase_fraction_from_rings(intens, reactant=names[0], product=names[1])
    out.tables["ring_intensities"] = intens
    out.tables["phase_fraction"] = frac.assign(reactant=picks["reactant"], product=picks["product"])
    out.tables["center"] = pd.DataFrame([{"center_y_px": center[0], "center_x_px": center[1],
                                          "camera_constant_px_A": camera_constant}])
    return out


def _maps_table(maps: dict, axes=("y_px", "x_px")) -> pd.DataFrame:
    """2-D maps (name -> DataArray) as one tidy long table: the two pixel indices, one column per map."""
    first = next(iter(maps.values()))
    ny, nx = first.shape
    yy, xx = np.indices((ny, nx))
    cols = {axes[0]: yy.ravel(), axes[1]: xx.ravel()}
    cols.update({name: np.asarray(m.values, float).ravel() for name, m in maps.items()})
    return pd.DataFrame(cols)


def analyse_eds(data, *, elements=("O", "Mn", "Co", "Ni"), k_factors: dict | None = None,
                background: str = "linear", calibrate_lines=None, n_components: int = 0, ratios=(),
                min_counts: float = 10.0) -> TEMResult:
    """EDS spectrum or spectrum image: optional two-line calibration, net line counts,
    Cliff–Lorimer composition; for a spectrum image also element and at.% maps (chunk by
    chunk), atomic ratio maps such as ``"Ni/Mn"`` (:func:`battlab.elements.analysis.ratio_map`
    with the k-factors as sensitivities; pixels with fewer than ``min_counts`` net counts
    masked) and, with ``n_components``, an NMF decomposition (the EELS implementation)."""
    from battlab.tem import eds
    from battlab.tem.eels import decompose_spectrum_image

    out = TEMResult(options={"elements": list(elements), "k_factors": {**eds.K_FACTORS, **(k_factors or {})},
                             "k_factors_given": dict(k_factors or {}), "background": background,
                             "calibrate_lines": list(calibrate_lines) if calibrate_lines else None,
                             "n_components": n_components, "ratios": list(ratios), "min_counts": min_counts})
    out.tables["metadata"] = metadata_table(data)
    if calibrate_lines:
        data, info = eds.calibrate_eds_energy(data, tuple(calibrate_lines))
        out.tables["energy_calibration"] = pd.DataFrame([{"offset_eV": info["offset_eV"], "gain": info["gain"],
                                                          "lines": " + ".join(calibrate_lines)}])
    total = data if data.ndim == 1 else data.sum(dim=[d for d in data.dims if d != "energy"])
    if hasattr(total.data, "dask"):
        total = total.compute()
    lines = eds.line_table(total, elements, background=background)
    out.tables["eds_lines"] = lines.drop(columns=["overlap_warning"]).assign(note=lines["overlap_warning"])
    comp = eds.cliff_lorimer(lines, k_factors=k_factors)
    out.tables["eds_composition"] = comp
    out.notes.append("Cliff–Lorimer " + comp.attrs["k_factors_note"] + ".")
    out.arrays["spectrum"] = total
    if data.ndim == 3:
        maps = eds.eds_element_maps(data, elements, background=background)
        at = eds.composition_maps(maps, k_factors=k_factors)
        out.arrays["maps"], out.arrays["composition"] = maps, at
        named = {f"{el}_net_counts": maps.sel(element=el) for el in maps["element"].values}
        named.update({f"{el}_at_pct": at.sel(element=el) for el in at["element"].values})
        if ratios:
            from battlab.elements.analysis import ratio_map

            ks = {**eds.K_FACTORS, **(k_factors or {})}
            counts = maps.clip(min=0).assign_attrs(maps.attrs)  # net counts: negative residue is no signal
            sens = {el: 1.0 / ks[el.split()[0]] for el in maps["element"].values if el.split()[0] in ks}
            for text in ratios:
                ds = ratio_map(counts, text, sensitivity=sens, min_counts=min_counts)
                out.arrays[f"ratio {text}"] = ds["ratio"]
                named[f"{text.replace('/', '_per_')}_atomic_ratio"] = ds["ratio"]
        out.tables["eds_maps"] = _maps_table(named)
        if n_components:
            cmaps, spectra, _ = decompose_spectrum_image(data, n_components=n_components, method="nmf")
            out.arrays["nmf_maps"], out.arrays["nmf_spectra"] = cmaps, spectra
            out.tables["eds_nmf_spectra"] = pd.DataFrame(
                {"energy_eV": spectra["energy_eV"].values,
                 **{f"component_{k}": spectra.values[k] for k in range(spectra.sizes["component"])}})
    return out


def analyse_4dstem(cube, *, bf_outer_px: float | None = None, adf_px=None, center=None,
                   com_mask_px: float | None = None) -> TEMResult:
    """4D-STEM: virtual bright-field and annular dark-field images, mean and max patterns and
    centre-of-mass shift maps, each reduced block by block over scan positions.

    Default detectors: the bright-field disc holds the direct beam wherever it is
    deflected (the max pattern's half-maximum radius + 1 px); ADF from 1.5× that radius
    to the detector edge."""
    from battlab.tem import stem4d

    out = TEMResult(options={"bf_outer_px": bf_outer_px, "adf_px": adf_px, "center_px": center,
                             "com_mask_px": com_mask_px})
    out.tables["metadata"] = metadata_table(cube)
    mean = stem4d.mean_pattern(cube)
    ny, nx = mean.shape
    if center is None:
        center = ((ny - 1) / 2, (nx - 1) / 2)
    peak = stem4d.max_pattern(cube)
    if bf_outer_px is None:
        # the max pattern's half-maximum envelope holds the direct beam at every deflection
        r = np.hypot(*np.indices((ny, nx)) - np.asarray(center)[:, None, None])
        bright = r[np.asarray(peak.values) >= 0.5 * float(peak.max())]
        bf_outer_px = float(bright.max()) + 1.0
        out.notes.append(f"bright-field disc radius {bf_outer_px:.1f} px from the max pattern.")
    inner, outer = adf_px if adf_px is not None else (1.5 * bf_outer_px, None)
    bf = stem4d.virtual_image(cube, outer_px=bf_outer_px, center=center)
    adf = stem4d.virtual_image(cube, inner_px=inner, outer_px=outer, center=center)
    com = stem4d.center_of_mass(cube, mask_px=com_mask_px, center=center)
    out.options.update(bf_outer_px=bf_outer_px, adf_px=(inner, outer), center_px=tuple(center))
    out.arrays.update({"bf": bf, "adf": adf, "mean_pattern": mean, "max_pattern": peak,
                       "com": com})
    out.tables["virtual_images"] = _maps_table({"bf_counts": bf, "adf_counts": adf, "com_y_px": com["com_y_px"],
                                                "com_x_px": com["com_x_px"]})
    out.tables["mean_pattern"] = _maps_table({"mean_counts": mean, "max_counts": out.arrays["max_pattern"]},
                                             axes=("ky_px", "kx_px"))
    return out
