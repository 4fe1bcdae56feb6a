"""⁵⁷Fe Mössbauer spectroscopy: raw multichannel folding, α-Fe velocity calibration,
transmission normalisation and hyperfine-parameter fits (singlets, quadrupole doublets,
magnetic sextets) giving site fractions along an operando series.

Conventions
-----------
* Velocities in mm/s on the ``velocity_mm_s`` axis; isomer shifts δ are relative to the
  centroid of room-temperature α-Fe (after :func:`calibrate_velocity` that centroid is
  0 mm/s; data measured against the source give ``shift_reference_mm_s``).
* Absorption lines are Lorentzians in the thin-absorber limit: counts
  ``N(v) = N∞ · (1 + s·v) · (1 − Σ_sites A_site · Σ_lines w_l · L(v; v_l, Γ))`` with
  area-normalised L, so the spectral area ``A_site`` (mm/s) is what a site contributes.
* Site fractions are area ratios, assuming **equal recoil-free fractions** f for all
  sites (true to a few per cent for Fe²⁺/Fe³⁺ in olivine phosphates at room temperature;
  give a ratio of f per site when it is known).
* Sextet line positions use the α-Fe calibration lines (±5.312, ±3.076, ±0.840 mm/s at
  33.0 T): ground- and excited-state splittings scale linearly with the hyperfine field
  ``B_hf``; the first-order quadrupole shift moves lines 1 and 6 by +ε and lines 2–5 by
  −ε, reported as ``2ε = [(v6 − v5) − (v2 − v1)] / 2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab.errors import CorruptFileError, InvalidParameterError, MissingDataError, TooLargeError

__all__ = ["ALPHA_FE_FIELD_T", "ALPHA_FE_LINES_MM_S", "LFP_SITES", "MossbauerFit", "VelocityCalibration",
           "calibrate_velocity", "channels_to_spectrum", "fit_mossbauer", "fold_channels", "mossbauer_series",
           "normalize_transmission", "read_channels", "sextet_lines"]

#: Line positions of room-temperature α-Fe relative to its own centroid, mm/s (lines 1–6).
ALPHA_FE_LINES_MM_S = (-5.312, -3.076, -0.840, 0.840, 3.076, 5.312)
#: Hyperfine field of α-Fe at room temperature, T (the scale of the sextet model).
ALPHA_FE_FIELD_T = 33.0
# Ground (I = 1/2) and excited (I = 3/2) state Zeeman splittings per tesla, mm/s/T, from the
# α-Fe lines: lines 3–4 are split by (a − b), 2–5 by (a + b), 1–6 by (a + 3b).
_GROUND_MM_S_PER_T = (ALPHA_FE_LINES_MM_S[3] + ALPHA_FE_LINES_MM_S[4]) / ALPHA_FE_FIELD_T
_EXCITED_MM_S_PER_T = (ALPHA_FE_LINES_MM_S[4] - ALPHA_FE_LINES_MM_S[3]) / ALPHA_FE_FIELD_T
#: Raw files with more channels than this are refused.
MAX_CHANNELS = 1 << 20

#: Typical room-temperature parameters (vs α-Fe) of olivine LiFePO4 (Fe²⁺, high spin) and
#: heterosite FePO4 (Fe³⁺, high spin); starting values for a two-doublet fit.
LFP_SITES = [
    {"name": "Fe2+ LiFePO4", "kind": "doublet", "isomer_shift_mm_s": 1.22, "quadrupole_mm_s": 2.96,
     "fwhm_mm_s": 0.30},
    {"name": "Fe3+ FePO4", "kind": "doublet", "isomer_shift_mm_s": 0.43, "quadrupole_mm_s": 1.53,
     "fwhm_mm_s": 0.30},
]

_KINDS = ("singlet", "doublet", "sextet")


def sextet_lines(field_T: float, *, two_epsilon_mm_s: float = 0.0, isomer_shift_mm_s: float = 0.0):
    """Positions (mm/s, lines 1–6 ascending for B > 0) of a ⁵⁷Fe magnetic sextet."""
    a = _GROUND_MM_S_PER_T * field_T
    b = _EXCITED_MM_S_PER_T * field_T
    half = np.array([-(a + 3 * b), -(a + b), -(a - b), a - b, a + b, a + 3 * b]) / 2
    eps = two_epsilon_mm_s / 2
    return isomer_shift_mm_s + half + np.array([eps, -eps, -eps, -eps, -eps, eps])


def _lorentz(v, center, fwhm):
    """Area-normalised Lorentzian, broadcasting (lines, points)."""
    half = fwhm / 2
    return (half / np.pi) / ((v - center) ** 2 + half * half)


# --------------------------------------------------------------------------- raw channels


def read_channels(source, *, name: str | None = None) -> np.ndarray:
    """Counts of a raw multichannel Mössbauer spectrum from a text file.

    Accepts one or several counts per line (whitespace, comma, tab or semicolon
    separated) after any header lines, or two columns ``channel, counts`` whose first
    column counts up by one. Lines with words are skipped.

    Returns
    -------
    ndarray of float
        Counts per channel (an even number of channels, ≥ 16).
    """
    from battlab.io.registry import DEFAULT_MAX_BYTES, Source, _as_source

    src = source if isinstance(source, Source) else _as_source(source, name, DEFAULT_MAX_BYTES)
    text = src.text()
    if "\x00" in text:
        raise CorruptFileError(f"{src.name}: binary bytes in a text channel file; export the counts as text.")
    rows = []
    for line in text.splitlines():
        parts = [p for p in line.replace(",", " ").replace(";", " ").replace("\t", " ").split() if p]
        if not parts:
            continue
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            if rows:
                break  # a trailer after the data
            continue
        rows.append(vals)
        if sum(len(r) for r in rows) > MAX_CHANNELS:
            raise TooLargeError(f"{src.name}: more than {MAX_CHANNELS:,} channels; this is not a Mössbauer spectrum.")
    if not rows:
        raise MissingDataError(f"{src.name}: no counts found; expected numbers, one or more per line.")
    widths = {len(r) for r in rows}
    if widths == {2} and len(rows) > 2:
        first = np.array([r[0] for r in rows])
        if np.all(np.diff(first) == 1):
            counts = np.array([r[1] for r in rows])
        else:
            counts = np.array([v for r in rows for v in r])
    else:
        counts = np.array([v for r in rows for v in r])
    if counts.size < 16 or counts.size % 2:
        raise MissingDataError(f"{src.name}: {counts.size} channels; a raw spectrum has an even number "
                               "(2 × N mirror-image halves), at least 16.")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise CorruptFileError(f"{src.name}: counts must be finite and ≥ 0.")
    return counts


def _periodic(counts, positions):
    """Counts at fractional channel positions on the periodic raw spectrum (linear interpolation)."""
    m = counts.size
    lo = np.floor(positions).astype(int)
    frac = positions - lo
    return counts[lo % m] * (1 - frac) + counts[(lo + 1) % m] * frac


def _fold_cost(counts, p):
    i = np.arange(counts.size, dtype=float)
    a = counts
    b = _periodic(counts, 2 * p - i)
    return float(np.mean((a - b) ** 2))


def fold_channels(counts, *, folding_point: float | None = None):
    """Fold a raw 2N-channel spectrum (triangular drive) into N channels.

    The velocity is mirror-symmetric about the folding point p (and p ± N): channel
    ``p + x`` and channel ``p − x`` see the same velocity. Of the two equivalent points,
    s (= p or p − N) nearest channel 0 starts the sweep that covers the first half of the
    raw channels; folded channel k (0 … N−1) sums the raw channels at ``s + 0.5 + k`` and
    its mirror ``s − 0.5 − k`` (periodic, linearly interpolated when p is not a
    half-integer). Folded channels thus follow the first half's sweep direction.

    Parameters
    ----------
    counts : array_like
        Raw counts, an even number of channels.
    folding_point : float, optional
        In channels. Default: found automatically, the point (to 0.01 channel) that makes
        the two halves most alike.

    Returns
    -------
    folded : ndarray
        N folded counts, velocity varying linearly with the index.
    folding_point : float
    """
    c = np.asarray(counts, float)
    if c.ndim != 1 or c.size < 16 or c.size % 2:
        raise InvalidParameterError(f"a raw spectrum needs an even number (≥ 16) of channels, got shape {c.shape}.")
    n = c.size // 2
    if folding_point is None:
        # Coarse search on half-channel steps, then a parabola through the best three.
        cands = np.arange(0.0, n, 0.5)
        costs = np.array([_fold_cost(c, p) for p in cands])
        k = int(np.argmin(costs))
        p = cands[k]
        if 0 < k < cands.size - 1:
            y0, y1, y2 = costs[k - 1], costs[k], costs[k + 1]
            den = y0 - 2 * y1 + y2
            if den > 0:
                p = p + 0.5 * 0.5 * (y0 - y2) / den
        folding_point = float(p)
    p = float(folding_point)
    if not np.isfinite(p):
        raise InvalidParameterError(f"folding_point must be a finite channel number, got {folding_point}.")
    start = p % n
    if start >= n / 2:
        start -= n
    k = np.arange(n, dtype=float)
    folded = _periodic(c, start + 0.5 + k) + _periodic(c, start - 0.5 - k)
    return folded, p


# --------------------------------------------------------------------------- calibration


@dataclass
class VelocityCalibration:
    """Linear velocity scale ``v = slope · x + offset`` from an α-Fe foil.

    Attributes
    ----------
    slope_mm_s, offset_mm_s : float
        Per unit of the calibrated axis (a folded channel, or mm/s of a nominal scale).
    line_positions : ndarray
        Fitted centres of the six lines on the input axis.
    residuals_mm_s : ndarray
        Known − calibrated line positions.
    folding_point : float or None
        The raw spectrum's folding point (raw calibrations).
    n_channels : int or None
        Folded channels (raw calibrations).
    fwhm_mm_s : float
        Mean fitted linewidth, mm/s.
    """

    slope_mm_s: float
    offset_mm_s: float
    line_positions: np.ndarray
    residuals_mm_s: np.ndarray
    folding_point: float | None = None
    n_channels: int | None = None
    fwhm_mm_s: float = float("nan")

    def velocity(self, x):
        """Calibrated velocity (mm/s, relative to α-Fe) of axis values ``x``."""
        return self.slope_mm_s * np.asarray(x, float) + self.offset_mm_s

    @property
    def velocity_max_mm_s(self) -> float:
        """Largest |velocity| of the folded channels (raw calibrations)."""
        if self.n_channels is None:
            return float("nan")
        return float(np.max(np.abs(self.velocity([0, self.n_channels - 1]))))

    def as_dict(self) -> dict:
        return {"slope_mm_s": self.slope_mm_s, "offset_mm_s": self.offset_mm_s,
                "folding_point": self.folding_point, "n_channels": self.n_channels,
                "line_positions": [float(v) for v in self.line_positions],
                "rms_residual_mm_s": float(np.sqrt(np.mean(self.residuals_mm_s ** 2))),
                "fwhm_mm_s": self.fwhm_mm_s, "lines_mm_s": list(ALPHA_FE_LINES_MM_S)}


def calibrate_velocity(data, *, folding_point: float | None = None, lines=ALPHA_FE_LINES_MM_S,
                       velocity_increasing: bool = True) -> VelocityCalibration:
    """Velocity calibration from an α-Fe foil sextet.

    Parameters
    ----------
    data : array_like or DataArray
        Raw 2N-channel counts (folded here), or a spectrum on a nominal velocity axis
        whose scale and zero are to be corrected.
    folding_point : float, optional
        Raw counts only; default found automatically.
    lines : sequence of 6 float
        Known line positions, mm/s (default α-Fe at room temperature).
    velocity_increasing : bool
        Raw counts: whether velocity rises along the first half of the raw channels (the
        folded channel order). The symmetric α-Fe sextet cannot tell the direction, and
        a wrong one flips the sign of every isomer shift; check it on a sample of known
        δ once per spectrometer.

    Returns
    -------
    VelocityCalibration
        Six Lorentzian dips are fitted (:func:`battlab.peaks.fit_peaks` on the inverted
        spectrum) and the known positions regressed on their centres.
    """
    from battlab.peaks import find_peaks, fit_peaks

    lines = np.sort(np.asarray(lines, float))
    if lines.size != 6:
        raise InvalidParameterError(f"an α-Fe calibration needs the 6 sextet line positions, got {lines.size}.")
    n_channels = None
    if hasattr(data, "dims"):
        from battlab.spectra.analysis import spectrum_xy

        _, x, y = spectrum_xy(data)
    else:
        folded, folding_point = fold_channels(data, folding_point=folding_point)
        x = np.arange(folded.size, dtype=float)
        y = folded
        n_channels = folded.size
    good = np.isfinite(x) & np.isfinite(y)
    x, y = x[good], y[good]
    dips = np.max(y) - y
    step = float(np.median(np.abs(np.diff(x))))
    found = find_peaks(x, dips, prominence=0.2 * float(np.ptp(dips)), min_separation=4 * step)
    if len(found) < 6:
        raise MissingDataError(f"found {len(found)} absorption lines where the α-Fe sextet has 6; check that the "
                               "file is an α-Fe foil spectrum covering ±6 mm/s.")
    top = found.nlargest(6, "prominence").sort_values("center") if "prominence" in found else found.head(6)
    fit = fit_peaks(x, -y, top["center"].to_numpy(float), model="lorentzian",
                    fwhm=top["fwhm"].to_numpy(float) if "fwhm" in top else None, background_order=0,
                    center_tolerance=5 * float(np.median(top["fwhm"])) if "fwhm" in top else None)
    centers = np.sort(fit.peaks["center"].to_numpy(float))
    lines_used = lines if velocity_increasing or n_channels is None else lines[::-1]
    slope, offset = np.polyfit(centers, lines_used, 1)
    resid = lines_used - (slope * centers + offset)
    return VelocityCalibration(slope_mm_s=float(slope), offset_mm_s=float(offset), line_positions=centers,
                               residuals_mm_s=resid, folding_point=folding_point, n_channels=n_channels,
                               fwhm_mm_s=float(np.mean(fit.peaks["fwhm"]) * abs(slope)))


def channels_to_spectrum(counts, *, calibration: VelocityCalibration | None = None,
                         folding_point: float | None = None, velocity_max_mm_s: float | None = None,
                         meta: dict | None = None):
    """A velocity spectrum (technique ``"mossbauer"``) from raw 2N-channel counts.

    The folding point is, in order: ``folding_point``, the calibration's, found
    automatically. The velocity scale is the calibration's or, without one, linear from
    −``velocity_max_mm_s`` to +``velocity_max_mm_s`` (nominal drive; isomer shifts are
    then relative to the drive's zero, not α-Fe).
    """
    from battlab.spectra.io import make_spectrum

    if folding_point is None and calibration is not None:
        folding_point = calibration.folding_point
    folded, p = fold_channels(counts, folding_point=folding_point)
    n = folded.size
    notes = [f"folded {2 * n} channels about channel {p:.2f}."]
    if calibration is not None:
        if calibration.n_channels is not None and calibration.n_channels != n:
            raise InvalidParameterError(f"the calibration was made on {2 * calibration.n_channels} raw channels, "
                                        f"this spectrum has {2 * n}; calibrate with the same drive settings.")
        v = calibration.velocity(np.arange(n))
        notes.append(f"velocity from the α-Fe calibration ({calibration.slope_mm_s:.6g} mm/s per channel).")
    elif velocity_max_mm_s is not None and velocity_max_mm_s > 0:
        v = -velocity_max_mm_s + 2 * velocity_max_mm_s * (np.arange(n) + 0.5) / n
        notes.append(f"nominal velocity scale ±{velocity_max_mm_s:g} mm/s (not calibrated against α-Fe).")
    else:
        raise MissingDataError("a raw channel spectrum needs a velocity scale: give an α-Fe calibration "
                               "(calibrate_velocity) or velocity_max_mm_s.")
    record = dict(meta or {})
    record.setdefault("notes", []).extend(notes)
    return make_spectrum(v, folded, technique="mossbauer", units="counts", meta=record, folding_point=p)


# --------------------------------------------------------------------------- normalisation


def normalize_transmission(spectrum, *, baseline_counts: float | None = None, window=None):
    """Counts → relative transmission (1 off resonance).

    Parameters
    ----------
    spectrum : DataArray over ``velocity_mm_s`` (one spectrum or a series)
    baseline_counts : float, optional
        The off-resonance level. Default: the mean of the counts inside ``window``
        (velocities (low, high) or list of such) or, without a window, the mean of the
        outer 10 % of points at each end.
    """
    from battlab.spectra.analysis import _rows

    axis, rows, is_series = _rows(spectrum)
    if axis != "velocity_mm_s":
        raise InvalidParameterError("normalize_transmission needs a Mössbauer spectrum over velocity_mm_s.")
    v = spectrum[axis].to_numpy()
    if baseline_counts is not None:
        level = np.full(len(rows), float(baseline_counts))
    else:
        if window is None:
            k = max(2, v.size // 10)
            mask = np.zeros(v.size, bool)
            mask[:k] = mask[-k:] = True
        else:
            wins = [window] if np.isscalar(window[0]) else window
            mask = np.zeros(v.size, bool)
            for lo, hi in wins:
                mask |= (v >= lo) & (v <= hi)
        if mask.sum() < 2:
            raise MissingDataError("the baseline window holds fewer than 2 points; widen it.")
        level = np.array([np.nanmean(r.to_numpy()[mask]) for r in rows])
    if np.any(~np.isfinite(level)) or np.any(level <= 0):
        raise MissingDataError("the off-resonance level is not positive; these are not transmission counts.")
    scale = level[:, None] if is_series else level[0]
    out = spectrum / scale
    out.attrs = dict(spectrum.attrs)
    out.attrs["units"] = "relative transmission"
    return out


# --------------------------------------------------------------------------- fits


def _check_sites(sites):
    if not sites:
        raise MissingDataError("give at least one site (singlet, doublet or sextet) to fit.")
    out = []
    for k, s in enumerate(sites):
        s = dict(s)
        kind = s.get("kind", "doublet")
        if kind not in _KINDS:
            raise InvalidParameterError(f"site {k}: kind {kind!r}; choose one of {_KINDS}.")
        s["kind"] = kind
        s.setdefault("name", f"{kind} {k + 1}")
        s.setdefault("isomer_shift_mm_s", 0.0)
        s.setdefault("quadrupole_mm_s", 1.0 if kind == "doublet" else 0.0)
        s.setdefault("field_T", 33.0)
        s.setdefault("fwhm_mm_s", 0.30)
        s.setdefault("intensities", "3:2:1")
        s.setdefault("recoil_free_ratio", 1.0)
        s["fixed"] = tuple(s.get("fixed", ()))
        if s["intensities"] not in ("3:2:1", "free"):
            raise InvalidParameterError(f"site {s['name']!r}: intensities must be '3:2:1' or 'free'.")
        out.append(s)
    names = [s["name"] for s in out]
    if len(set(names)) != len(names):
        raise InvalidParameterError(f"site names must differ, got {names}.")
    return out


def _site_params(s):
    """(parameter name, start, low, high) of one site; widths and areas positive."""
    d0 = float(s["isomer_shift_mm_s"])
    tol = float(s.get("shift_tolerance_mm_s", 0.5))
    ps = [("isomer_shift_mm_s", d0, d0 - tol, d0 + tol)]
    if s["kind"] == "doublet":
        q = float(s["quadrupole_mm_s"])
        ps.append(("quadrupole_mm_s", q, max(0.0, q - 1.0), q + 1.0))
    if s["kind"] == "sextet":
        q = float(s["quadrupole_mm_s"])
        ps.append(("quadrupole_mm_s", q, q - 1.0, q + 1.0))
        b = float(s["field_T"])
        ps.append(("field_T", b, max(0.0, b - 10.0), b + 10.0))
        if s["intensities"] == "free":
            ps.append(("line_ratio_2", 2.0, 0.0, 4.0))
    w = float(s["fwhm_mm_s"])
    ps.append(("fwhm_mm_s", w, 0.05, max(3.0, 2 * w)))
    return ps


def _site_shape(v, kind, p):
    """Unit-area absorption profile of a site (sum of its lines) at velocities v."""
    d, w = p["isomer_shift_mm_s"], p["fwhm_mm_s"]
    if kind == "singlet":
        return _lorentz(v, d, w)
    if kind == "doublet":
        q = p["quadrupole_mm_s"] / 2
        return 0.5 * (_lorentz(v, d - q, w) + _lorentz(v, d + q, w))
    pos = sextet_lines(p["field_T"], two_epsilon_mm_s=p["quadrupole_mm_s"], isomer_shift_mm_s=d)
    r2 = p.get("line_ratio_2", 2.0)
    wts = np.array([3.0, r2, 1.0, 1.0, r2, 3.0])
    wts = wts / wts.sum()
    return (wts[:, None] * _lorentz(v[None, :], pos[:, None], w)).sum(axis=0)


@dataclass
class MossbauerFit:
    """One fitted Mössbauer spectrum.

    Attributes
    ----------
    table : DataFrame
        One row per site: ``site``, ``kind``, ``isomer_shift_mm_s`` (vs α-Fe),
        ``quadrupole_splitting_mm_s`` (doublets), ``two_epsilon_mm_s`` and ``field_T``
        (sextets), ``fwhm_mm_s``, ``area_mm_s``, ``fraction`` and ``*_err`` standard errors.
    velocity_mm_s, counts, model : ndarray
    components : dict site -> ndarray
        Each site's absorption in counts (baseline − site contribution).
    baseline_counts : float
        Off-resonance counts N∞ (at v = 0 for a sloped baseline).
    chi2_reduced : float
    success : bool
    """

    table: pd.DataFrame
    velocity_mm_s: np.ndarray
    counts: np.ndarray
    model: np.ndarray
    components: dict
    baseline_counts: float
    chi2_reduced: float
    success: bool
    notes: list = field(default_factory=list)

    @property
    def transmission(self) -> np.ndarray:
        """Counts / off-resonance level."""
        return self.counts / self.baseline_counts


def fit_mossbauer(spectrum, sites=None, *, baseline: str = "constant", weights: str = "poisson",
                  shift_reference_mm_s: float = 0.0, max_nfev: int = 400) -> MossbauerFit:
    """Fit singlets, quadrupole doublets and magnetic sextets to one spectrum.

    Parameters
    ----------
    spectrum : DataArray over ``velocity_mm_s``
        Counts (or relative transmission) of one spectrum.
    sites : list of dict, optional
        One dict per site: ``name``, ``kind`` (``"singlet"``, ``"doublet"``,
        ``"sextet"``), starting ``isomer_shift_mm_s``, ``quadrupole_mm_s`` (ΔE_Q of a
        doublet, 2ε of a sextet), ``field_T`` (sextet), ``fwhm_mm_s``; ``intensities``
        (sextet: ``"3:2:1"`` powder ratios 3:2:1:1:2:3, or ``"free"`` 3:x:1:1:x:3);
        ``fixed`` (names of parameters held at their start); ``shift_tolerance_mm_s``
        (default 0.5); ``recoil_free_ratio`` (f of the site / f of the others, default 1).
        Default :data:`LFP_SITES`.
    baseline : {"constant", "linear"}
        Off-resonance level (linear: a drive or geometry slope).
    weights : {"poisson", "none"}
        Poisson weights 1/√N for counts; "none" for normalised data.
    shift_reference_mm_s : float
        Velocity of the α-Fe centroid on the data's axis (e.g. −0.11 for a ⁵⁷Co(Rh)
        source scale); subtracted from the reported isomer shifts.

    Returns
    -------
    MossbauerFit
    """
    from scipy.optimize import least_squares
    from threadpoolctl import threadpool_limits

    from battlab.peaks import _standard_errors
    from battlab.spectra.analysis import spectrum_xy

    axis, v, y = spectrum_xy(spectrum, min_points=10)
    if axis != "velocity_mm_s":
        raise InvalidParameterError("fit_mossbauer needs a spectrum over velocity_mm_s (technique 'mossbauer').")
    good = np.isfinite(v) & np.isfinite(y)
    v, y = v[good], y[good]
    sites = _check_sites(LFP_SITES if sites is None else sites)
    if baseline not in ("constant", "linear"):
        raise InvalidParameterError(f"baseline must be 'constant' or 'linear', got {baseline!r}.")
    if weights == "poisson":
        if np.any(y < 0):
            raise InvalidParameterError("Poisson weights need counts ≥ 0; use weights='none' for other data.")
        wts = 1.0 / np.sqrt(np.maximum(y, 1.0))
    elif weights == "none":
        wts = np.ones_like(y)
    else:
        raise InvalidParameterError(f"weights must be 'poisson' or 'none', got {weights!r}.")
    base0 = float(np.percentile(y, 75))
    absorbed = float(np.trapezoid(np.clip(1 - y / base0, 0, None), v)) if base0 > 0 else 0.1
    # Vector layout: [N∞, (slope)] then per site [area, free hyperfine parameters...].
    names, p0, lo, hi = ["baseline"], [base0], [0.0], [np.inf]
    if baseline == "linear":
        names.append("slope")
        p0.append(0.0)
        lo.append(-1.0)
        hi.append(1.0)
    layout = []
    for k, s in enumerate(sites):
        entries = [("area_mm_s", max(absorbed / len(sites), 1e-4), 0.0, np.inf)] + _site_params(s)
        site_idx = {}
        fixed_vals = {}
        for pname, start, plo, phi in entries:
            if pname in s["fixed"]:
                fixed_vals[pname] = start
                continue
            site_idx[pname] = len(p0)
            names.append(f"{s['name']}:{pname}")
            p0.append(float(np.clip(start, plo, phi)))
            lo.append(plo)
            hi.append(phi)
        layout.append((site_idx, fixed_vals))
    p0, lo, hi = np.array(p0), np.array(lo), np.array(hi)
    eps = 1e-9 * (np.abs(p0) + 1)
    p0 = np.minimum(np.maximum(p0, lo + eps), hi - eps)

    def site_values(p, k):
        idx, fx = layout[k]
        vals = dict(fx)
        vals.update({n: p[i] for n, i in idx.items()})
        return vals

    def absorption(p):
        parts = []
        for k, s in enumerate(sites):
            vals = site_values(p, k)
            parts.append(vals["area_mm_s"] * _site_shape(v, s["kind"], vals))
        return parts

    def model(p):
        level = p[0] * (1 + (p[1] * v if baseline == "linear" else 0.0))
        return level * (1 - np.sum(absorption(p), axis=0))

    with threadpool_limits(limits=1, user_api="blas"):  # a small dense problem: threads only add contention
        res = least_squares(lambda p: wts * (model(p) - y), p0, bounds=(lo, hi), x_scale="jac", max_nfev=max_nfev)
    p = res.x
    errs = _standard_errors(res, v.size)
    level = p[0] * (1 + (p[1] * v if baseline == "linear" else 0.0))
    parts = absorption(p)
    f_ratio = np.array([float(s["recoil_free_ratio"]) for s in sites])
    areas = np.array([site_values(p, k)["area_mm_s"] for k in range(len(sites))])
    corrected = areas / f_ratio
    total = corrected.sum()
    rows = []
    for k, s in enumerate(sites):
        vals = site_values(p, k)
        idx = layout[k][0]
        err = {n: float(errs[i]) for n, i in idx.items()}
        row = {"site": s["name"], "kind": s["kind"],
               "isomer_shift_mm_s": vals["isomer_shift_mm_s"] - shift_reference_mm_s,
               "isomer_shift_mm_s_err": err.get("isomer_shift_mm_s", 0.0)}
        if s["kind"] == "doublet":
            row["quadrupole_splitting_mm_s"] = vals["quadrupole_mm_s"]
            row["quadrupole_splitting_mm_s_err"] = err.get("quadrupole_mm_s", 0.0)
        if s["kind"] == "sextet":
            row["two_epsilon_mm_s"] = vals["quadrupole_mm_s"]
            row["two_epsilon_mm_s_err"] = err.get("quadrupole_mm_s", 0.0)
            row["field_T"] = vals["field_T"]
            row["field_T_err"] = err.get("field_T", 0.0)
            row["line_ratio_2"] = vals.get("line_ratio_2", 2.0)
        row.update({"fwhm_mm_s": vals["fwhm_mm_s"], "fwhm_mm_s_err": err.get("fwhm_mm_s", 0.0),
                    "area_mm_s": vals["area_mm_s"], "area_mm_s_err": err.get("area_mm_s", 0.0),
                    "fraction": corrected[k] / total if total > 0 else np.nan})
        rows.append(row)
    dof = max(1, v.size - p.size)
    chi2 = float(np.sum((wts * (model(p) - y)) ** 2) / dof)
    table = pd.DataFrame(rows)
    table.attrs["battlab"] = {"analysis": "battlab.spectra.mossbauer.fit_mossbauer",
                              "assumption": "site fractions = area ratios / recoil_free_ratio "
                                            "(equal recoil-free fractions unless given)",
                              "isomer_shift_reference": "alpha-Fe centroid"}
    comps = {s["name"]: level * (1 - part) for s, part in zip(sites, parts, strict=True)}
    return MossbauerFit(table=table, velocity_mm_s=v, counts=y, model=model(p), components=comps,
                        baseline_counts=float(p[0]), chi2_reduced=chi2, success=bool(res.success))


def mossbauer_series(series, sites=None, **fit_options):
    """Fit every spectrum of a (time, velocity) series with the same sites.

    Returns
    -------
    sites_table : DataFrame
        Long table: ``spectrum``, ``time`` (series), every :class:`MossbauerFit` column.
    fractions : DataFrame
        One row per spectrum: ``spectrum``, ``time``, ``elapsed_s``, ``fraction_<site>``,
        ``chi2_reduced``.
    fits : list of MossbauerFit
    """
    from battlab.spectra.analysis import _rows

    _, rows, is_series = _rows(series)
    fits, longs, wide = [], [], []
    for i, r in enumerate(rows):
        fit = fit_mossbauer(r, sites, **fit_options)
        fits.append(fit)
        t = fit.table.copy()
        t.insert(0, "spectrum", i)
        longs.append(t)
        rec = {"spectrum": i}
        rec.update({f"fraction_{name}": frac for name, frac in zip(t["site"], t["fraction"], strict=True)})
        rec["chi2_reduced"] = fit.chi2_reduced
        wide.append(rec)
    long_table = pd.concat(longs, ignore_index=True)
    fractions = pd.DataFrame(wide)
    if is_series:
        times = series["time"].to_numpy()
        long_table.insert(1, "time", times[long_table["spectrum"].to_numpy()])
        fractions.insert(1, "time", times)
        if "elapsed_s" in series.coords:
            fractions.insert(2, "elapsed_s", series["elapsed_s"].to_numpy().astype(float))
    fractions.attrs["battlab"] = dict(fits[0].table.attrs["battlab"])
    return long_table, fractions, fits
