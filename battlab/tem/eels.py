"""EELS: energy calibration, power-law background, edge signals and maps, log-ratio thickness.

* :func:`calibrate_energy` puts the zero-loss peak at 0 eV (parabola through its top);
* :func:`powerlaw_background` fits A·E^−r in a pre-edge window (straight line in
  log–log);
* :func:`edge_signal` integrates the background-subtracted edge over a signal window;
  :func:`edge_map` does the same for every pixel of a spectrum image (one vectorised
  log–log fit);
* :func:`edge_onset` locates an edge (half of its first rise), for edge-shift tracking;
* :func:`log_ratio_thickness` gives t/λ = ln(I_total / I_zero-loss).

Edge onsets (:data:`EDGES`) are the usual tabulated values. The Li K edge (≈ 55 eV)
overlaps transition-metal M₂,₃ edges (≈ 50–70 eV): quantify Li only without them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["EDGES", "calibrate_energy", "decompose_spectrum_image", "edge_map", "edge_onset", "edge_shift_series",
           "edge_signal", "edge_table", "log_ratio_thickness", "powerlaw_background"]

#: edge -> onset in eV
EDGES = {"Li K": 55.0, "S L2,3": 165.0, "C K": 284.0, "O K": 532.0, "Mn L3": 640.0, "F K": 685.0,
         "Fe L3": 708.0, "Co L3": 779.0, "Ni L3": 855.0}

_TM_EDGES = ("Mn L3", "Fe L3", "Co L3", "Ni L3")


def _xy(spectrum):
    if "energy_eV" not in getattr(spectrum, "coords", {}):
        raise MissingDataError("the spectrum has no energy_eV axis (open it with battlab.tem.open_tem).")
    e = spectrum["energy_eV"].to_numpy().astype(float)
    y = np.asarray(spectrum.values, float)
    return e, y


def calibrate_energy(spectrum, *, search_eV=(-20.0, 20.0)):
    """Shift the energy axis so the zero-loss peak sits at 0 eV.

    Returns
    -------
    (calibrated, shift_eV) : DataArray, float
        ``shift_eV`` is the measured ZLP position that was subtracted.
    """
    e, y = _xy(spectrum)
    if spectrum.dims != ("energy",):
        raise InvalidParameterError("calibrate_energy works on a single spectrum (dims ('energy',)).")
    sel = np.nonzero((e >= search_eV[0]) & (e <= search_eV[1]))[0]
    if sel.size < 3:
        raise MissingDataError(f"no channels between {search_eV[0]} and {search_eV[1]} eV: no zero-loss peak to use.")
    k = sel[np.argmax(y[sel])]
    shift = e[k]
    if 0 < k < e.size - 1 and y[k - 1] > 0 and y[k + 1] > 0:
        lm, lc, lp = np.log(y[k - 1]), np.log(y[k]), np.log(y[k + 1])
        den = lm - 2 * lc + lp
        if den < 0:
            shift = e[k] + 0.5 * (lm - lp) / den * (e[k + 1] - e[k])
    out = spectrum.assign_coords(energy_eV=("energy", e - shift))
    out["energy_eV"].attrs["units"] = "eV"
    out.attrs = dict(spectrum.attrs)
    out.attrs["zlp_shift_eV"] = float(shift)
    note = f"energy axis shifted by {-shift:+.3f} eV (ZLP at 0)."
    out.attrs["notes"] = list(spectrum.attrs.get("notes", [])) + [note]
    return out, float(shift)


def _window(e, window, what):
    lo, hi = sorted(map(float, window))
    sel = (e >= lo) & (e <= hi)
    if sel.sum() < 3:
        raise MissingDataError(f"the {what} window {lo:g}–{hi:g} eV holds fewer than 3 channels of this spectrum "
                               f"({e.min():.1f}–{e.max():.1f} eV).")
    return sel


def powerlaw_background(spectrum, window) -> dict:
    """Fit I = A·E^−r over ``window`` (eV) by least squares in log–log space.

    Returns
    -------
    dict
        ``A``, ``r``, ``window_eV``.
    """
    e, y = _xy(spectrum)
    sel = _window(e, window, "background") & (y > 0) & (e > 0)
    if sel.sum() < 3:
        raise MissingDataError("the background window has fewer than 3 positive channels.")
    slope, icpt = np.polyfit(np.log(e[sel]), np.log(y[sel]), 1)
    return {"A": float(np.exp(icpt)), "r": float(-slope), "window_eV": tuple(map(float, window))}


def _default_windows(edge, onset_eV, pre_window, signal_width_eV):
    if onset_eV is None:
        if edge not in EDGES:
            raise InvalidParameterError(f"unknown edge {edge!r}; known: {', '.join(EDGES)} (or give onset_eV=).")
        onset_eV = EDGES[edge]
    if pre_window is None:
        width = min(30.0, 0.3 * onset_eV)
        pre_window = (onset_eV - width - 3.0, onset_eV - 3.0)
    return float(onset_eV), pre_window, (onset_eV, onset_eV + signal_width_eV)


def edge_signal(spectrum, edge: str | None = None, *, onset_eV: float | None = None, pre_window=None,
                signal_width_eV: float = 50.0) -> dict:
    """Background-subtracted edge intensity integrated over ``signal_width_eV`` above the onset.

    Returns
    -------
    dict
        ``edge``, ``onset_eV``, ``signal`` (counts·eV / channel width: summed counts),
        ``background`` (summed under the window), ``snr`` (signal / √(signal + background)),
        ``A``, ``r``, ``warning`` (Li K with transition metals, or an empty string).
    """
    e, y = _xy(spectrum)
    onset, pre, sig = _default_windows(edge, onset_eV, pre_window, signal_width_eV)
    bg = powerlaw_background(spectrum, pre)
    sel = _window(e, sig, "signal")
    model = bg["A"] * e[sel] ** (-bg["r"])
    signal = float(np.sum(y[sel] - model))
    background = float(np.sum(model))
    warning = ""
    if edge == "Li K":
        warning = "Li K overlaps transition-metal M2,3 edges (50–70 eV); check the sample has none."
    return {"edge": edge or f"{onset:g} eV", "onset_eV": onset, "signal": signal, "background": background,
            "snr": signal / np.sqrt(max(signal + background, 1e-12)), "A": bg["A"], "r": bg["r"],
            "warning": warning}


def edge_map(spectrum_image, edge: str | None = None, *, onset_eV: float | None = None, pre_window=None,
             signal_width_eV: float = 30.0):
    """Edge signal in every pixel of a spectrum image ``(y, x, energy)``.

    Returns
    -------
    xarray.DataArray
        dims ``(y, x)``: summed background-subtracted counts in the signal window.
    """
    import xarray as xr

    if "energy" not in spectrum_image.dims or spectrum_image.dims[-1] != "energy":
        raise InvalidParameterError("expected a spectrum image with energy as the last dimension.")
    e = spectrum_image["energy_eV"].to_numpy().astype(float)
    onset, pre, sig = _default_windows(edge, onset_eV, pre_window, signal_width_eV)
    cube = np.asarray(spectrum_image.values, float)
    flat = cube.reshape(-1, e.size)
    pre_sel = _window(e, pre, "background") & (e > 0)
    sig_sel = _window(e, sig, "signal")
    lx = np.log(e[pre_sel])
    ly = np.log(np.clip(flat[:, pre_sel], 1e-12, None))
    # one least-squares line per pixel, all pixels at once
    xm = lx.mean()
    slope = ((lx - xm) * (ly - ly.mean(axis=1, keepdims=True))).sum(axis=1) / ((lx - xm) ** 2).sum()
    icpt = ly.mean(axis=1) - slope * xm
    model = np.exp(icpt[:, None] + slope[:, None] * np.log(e[sig_sel])[None, :])
    signal = (flat[:, sig_sel] - model).sum(axis=1).reshape(cube.shape[:-1])
    coords = {k: v for k, v in spectrum_image.coords.items() if "energy" not in v.dims}
    return xr.DataArray(signal, dims=spectrum_image.dims[:-1], coords=coords, name=f"{edge or onset} signal",
                        attrs={"units": "counts", "edge": edge, "onset_eV": onset, "pre_window_eV": tuple(pre),
                               "signal_window_eV": tuple(sig)})


def edge_onset(spectrum, edge: str | None = None, *, onset_eV: float | None = None, pre_window=None,
               search_eV: float = 20.0) -> float:
    """Energy where the background-subtracted edge first reaches half its maximum within
    ``search_eV`` of the nominal onset (for edge-shift tracking)."""
    e, y = _xy(spectrum)
    onset, pre, _ = _default_windows(edge, onset_eV, pre_window, search_eV)
    bg = powerlaw_background(spectrum, pre)
    sel = _window(e, (onset - search_eV / 2, onset + search_eV), "search")
    sub = y[sel] - bg["A"] * e[sel] ** (-bg["r"])
    from scipy.ndimage import uniform_filter1d

    sub = uniform_filter1d(sub, 5)
    half = 0.5 * sub.max()
    k = int(np.argmax(sub >= half))
    if k == 0:
        return float(e[sel][0])
    e0, e1 = e[sel][k - 1], e[sel][k]
    return float(e0 + (half - sub[k - 1]) / (sub[k] - sub[k - 1]) * (e1 - e0))


def log_ratio_thickness(spectrum) -> dict:
    """Relative thickness t/λ = ln(I_t / I_0) of a low-loss spectrum.

    I₀ is the zero-loss intensity, integrated up to the first minimum after the
    zero-loss peak; I_t is the whole spectrum. The spectrum should start below the
    zero-loss peak and reach well past the plasmons (≥ 5× the plasmon energy).

    Returns
    -------
    dict
        ``t_over_lambda``, ``I_zero_loss``, ``I_total``, ``zlp_cut_eV``.
    """
    e, y = _xy(spectrum)
    if e.min() > -1.0:
        raise MissingDataError("the spectrum does not contain the zero-loss peak (it starts above 0 eV); "
                               "calibrate_energy first, or record the low-loss region.")
    k = int(np.argmax(np.where(np.abs(e) <= 10, y, -np.inf)))
    from scipy.ndimage import uniform_filter1d

    smooth = uniform_filter1d(y, 3)
    j = k + 1
    while j < y.size - 1 and not (smooth[j] <= smooth[j - 1] and smooth[j] <= smooth[j + 1]):
        j += 1
    if j >= y.size - 1:
        raise MissingDataError("no minimum after the zero-loss peak: the spectrum ends too early.")
    i0 = float(np.sum(y[:j + 1]))
    it = float(np.sum(y))
    if i0 <= 0:
        raise MissingDataError("the zero-loss intensity is not positive.")
    return {"t_over_lambda": float(np.log(it / i0)), "I_zero_loss": i0, "I_total": it, "zlp_cut_eV": float(e[j])}


def edge_table(spectrum, edges=("Li K", "C K", "O K", "F K")) -> pd.DataFrame:
    """:func:`edge_signal` for every listed edge inside the spectrum's range (one row each)."""
    e, _ = _xy(spectrum)
    rows = []
    for edge in edges:
        onset = EDGES.get(edge)
        if onset is None or onset - min(30.0, 0.3 * onset) - 3.0 < e.min() or onset + 20 > e.max():
            continue
        try:
            rows.append(edge_signal(spectrum, edge, signal_width_eV=min(50.0, e.max() - onset)))
        except MissingDataError:
            continue
    return pd.DataFrame(rows, columns=["edge", "onset_eV", "signal", "background", "snr", "A", "r", "warning"])


def decompose_spectrum_image(spectrum_image, *, n_components: int = 2, method: str = "nmf", energy_range=None,
                             n_iter: int = 500, rng=0):
    """PCA or non-negative matrix factorisation of a spectrum image ``(y, x, energy)``.

    The cube is unfolded to pixels × energies. NMF (X ≈ W H, W, H ≥ 0) uses Lee–Seung
    multiplicative updates; PCA is the SVD of the mean-centred matrix.

    Returns
    -------
    (maps, spectra, explained) : DataArray, DataArray, ndarray
        ``maps`` dims ``(component, y, x)`` (abundances / scores), ``spectra`` dims
        ``(component, energy)`` (components / loadings), and the explained-variance
        fraction per component (PCA) or the relative reconstruction error (NMF).
    """
    import xarray as xr

    if spectrum_image.dims[-1] != "energy" or spectrum_image.ndim != 3:
        raise InvalidParameterError("expected a spectrum image (y, x, energy).")
    k = int(n_components)
    si = spectrum_image
    if energy_range is not None:
        e = si["energy_eV"]
        si = si.sel(energy=(e >= energy_range[0]) & (e <= energy_range[1]))
    ny, nx, ne = si.shape
    if not 1 <= k <= min(ny * nx, ne):
        raise InvalidParameterError(f"n_components must be between 1 and {min(ny * nx, ne)}.")
    x = np.asarray(si.values, float).reshape(-1, ne)
    if method == "pca":
        mean = x.mean(axis=0)
        u, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
        w_, h_ = u[:, :k] * sv[:k], vt[:k]
        explained = (sv ** 2 / np.sum(sv ** 2))[:k]
    elif method == "nmf":
        x = np.clip(x, 0, None)
        gen = np.random.default_rng(rng)
        scale = np.sqrt(x.mean() / k)
        w_ = gen.random((x.shape[0], k)) * scale + 1e-9
        h_ = gen.random((k, ne)) * scale + 1e-9
        for _ in range(int(n_iter)):
            h_ *= (w_.T @ x) / (w_.T @ w_ @ h_ + 1e-12)
            w_ *= (x @ h_.T) / (w_ @ (h_ @ h_.T) + 1e-12)
        # unit-area spectra, abundances carry the intensity
        norm = h_.sum(axis=1, keepdims=True)
        h_, w_ = h_ / norm, w_ * norm.T
        explained = np.array([np.linalg.norm(x - w_ @ h_) / np.linalg.norm(x)])
    else:
        raise InvalidParameterError("method must be 'nmf' or 'pca'.")
    comp = np.arange(k)
    maps = xr.DataArray(w_.T.reshape(k, ny, nx), dims=("component", "y", "x"),
                        coords={"component": comp, **{c: v for c, v in si.coords.items() if "energy" not in v.dims}},
                        name=f"{method} maps")
    spectra = xr.DataArray(h_, dims=("component", "energy"),
                           coords={"component": comp, "energy_eV": ("energy", si["energy_eV"].to_numpy())},
                           name=f"{method} spectra")
    return maps, spectra, explained


def edge_shift_series(spectra, edge: str | None = None, *, onset_eV: float | None = None, pre_window=None,
                      search_eV: float = 20.0):
    """Edge position (:func:`edge_onset`) in every spectrum of a ``(time, energy)`` series and its
    shift from the first spectrum (e.g. a chemical shift of S L2,3 as Li2S forms).

    Returns
    -------
    DataFrame
        ``time_s``, ``onset_eV``, ``shift_eV``.
    """
    if "time" not in spectra.dims or spectra.dims[-1] != "energy":
        raise InvalidParameterError("expected a (time, energy) series of spectra.")
    onsets = np.array([edge_onset(spectra.isel(time=i), edge, onset_eV=onset_eV, pre_window=pre_window,
                                  search_eV=search_eV) for i in range(spectra.sizes["time"])])
    times = spectra["time_s"].to_numpy() if "time_s" in spectra.coords else np.arange(onsets.size, dtype=float)
    return pd.DataFrame({"time_s": times, "onset_eV": onsets, "shift_eV": onsets - onsets[0]})
