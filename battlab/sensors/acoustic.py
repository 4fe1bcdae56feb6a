"""Acoustic emission (AE): hits from raw waveforms, hit statistics on the cycling, hit types.

Hit definition (the convention of AE acquisition systems): a hit starts when |V| first
rises above the threshold; it ends when no new threshold crossing follows within the
hit definition time (HDT) after the last one; for the hit lockout time (HLT) after that
end the channel is deaf, so reflections are not counted as new hits. Per hit:

- ``amplitude_dB``: peak |V| in dB_AE = 20·log10(V_peak / 1 µV) − preamplifier gain;
- ``counts``: positive-going crossings of +threshold within the hit (ring-down counts);
- ``duration_s`` (first to last crossing) and ``rise_time_s`` (first crossing to peak);
- ``energy_aJ``: ∫V² dt over the hit across a 10 kΩ reference resistance;
- ``peak_frequency_Hz`` and ``centroid_frequency_Hz`` of the hit's spectrum.

Hit types are told apart by frequency: brittle cracking of active particles emits short,
high-frequency bursts; gas evolution and other slow processes emit lower frequencies.
:func:`cluster_hits` separates them by k-means (seeded, so the labels are reproducible).

Reference: the seed review §3.7.1 (Si anodes: most hits during the first lithiation);
K. Rhodes et al., J. Electrochem. Soc. 157 (2010) A1354, doi:10.1149/1.3489374.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["detect_hits", "threshold_volts", "cluster_hits", "summarize_hits", "cumulative_hits",
           "REFERENCE_RESISTANCE_OHM", "HIT_COLUMNS"]

REFERENCE_RESISTANCE_OHM = 10_000.0
HIT_COLUMNS = ("sensor_time_s", "amplitude_dB", "counts", "duration_s", "rise_time_s", "energy_aJ",
               "peak_frequency_Hz", "centroid_frequency_Hz")


def threshold_volts(threshold_dB: float, *, preamp_gain_dB: float = 0.0) -> float:
    """Threshold in volts at the recorder for a threshold in dB_AE (sensor-referred)."""
    return 1e-6 * 10.0 ** ((threshold_dB + preamp_gain_dB) / 20.0)


def _spectrum(segment, fs):
    n = max(1024, 1 << int(np.ceil(np.log2(max(len(segment), 2)))))
    mag = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), n=n))
    freqs = np.fft.rfftfreq(n, d=1.0 / fs)
    mag[0] = 0.0
    total = mag.sum()
    return float(freqs[np.argmax(mag)]), float((freqs * mag).sum() / total) if total > 0 else np.nan


def detect_hits(waveform, *, sampling_rate_Hz: float, threshold_dB: float = 40.0, preamp_gain_dB: float = 0.0,
                hit_definition_time_s: float = 200e-6, hit_lockout_time_s: float = 1e-3, start_time_s: float = 0.0,
                max_spectrum_samples: int = 4096) -> pd.DataFrame:
    """Find AE hits in a uniformly sampled waveform (volts) and measure their features.

    Parameters
    ----------
    waveform : (n_samples,) array or DataFrame
        Volts at the recorder; a table from ``read_sensor_table(kind="acoustic")`` with
        ``amplitude_V`` (and ``sensor_time_s``, which then sets the sampling rate and
        start time when they are not given as arguments differently).
    sampling_rate_Hz : float
        Samples per second.
    threshold_dB : float
        Detection threshold in dB_AE (40 dB = 100 µV at the sensor).
    preamp_gain_dB : float
        Gain between sensor and recorder (commonly 40 dB); amplitudes are reported at
        the sensor.
    hit_definition_time_s, hit_lockout_time_s : float
        HDT and HLT (see the module notes).
    start_time_s : float
        Time of the first sample; hit times are ``start_time_s + index / fs``.

    Returns
    -------
    DataFrame
        One row per hit: sensor_time_s, amplitude_dB, counts, duration_s, rise_time_s,
        energy_aJ, peak_frequency_Hz, centroid_frequency_Hz, start_sample, end_sample.

    Examples
    --------
    >>> fs = 1e6
    >>> t = np.arange(20_000) / fs
    >>> burst = 0.01 * np.exp(-(t - 0.005) / 1e-4) * np.sin(2 * np.pi * 2e5 * (t - 0.005)) * (t >= 0.005)
    >>> len(detect_hits(burst, sampling_rate_Hz=fs))
    1
    """
    if isinstance(waveform, pd.DataFrame):
        if "amplitude_V" not in waveform:
            raise MissingDataError("the table has no amplitude_V (raw waveform) column; a hit list in dB "
                                   "needs no detection.")
        x = waveform["amplitude_V"].to_numpy(dtype=float)
    else:
        x = np.asarray(waveform, dtype=float)
    if x.ndim != 1 or len(x) < 2:
        raise InvalidParameterError("the waveform must be a 1-D series of at least two samples.")
    fs = float(sampling_rate_Hz)
    if not (np.isfinite(fs) and fs > 0):
        raise InvalidParameterError("sampling_rate_Hz must be positive.")
    for name, v in (("hit_definition_time_s", hit_definition_time_s), ("hit_lockout_time_s", hit_lockout_time_s)):
        if not (np.isfinite(v) and v >= 0):
            raise InvalidParameterError(f"{name} must be >= 0.")
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    thr = threshold_volts(threshold_dB, preamp_gain_dB=preamp_gain_dB)
    above = np.abs(x) > thr
    # Samples where |V| rises above the threshold, and where it last stays above
    # (one int8 difference instead of several boolean temporaries: fewer passes over x).
    step = np.diff(above.view(np.int8))
    rises = np.flatnonzero(step == 1) + 1
    falls = np.flatnonzero(step == -1)
    del step
    if above[0]:
        rises = np.r_[0, rises]
    if above[-1]:
        falls = np.r_[falls, len(x) - 1]
    cols = list(HIT_COLUMNS) + ["start_sample", "end_sample"]
    if len(rises) == 0:
        return pd.DataFrame(columns=cols)
    hdt = hit_definition_time_s * fs
    hlt = hit_lockout_time_s * fs
    # Crossings closer than the HDT belong to one candidate hit (vectorised split) ...
    breaks = np.flatnonzero(np.diff(rises) > hdt) + 1
    g_start = np.r_[0, breaks]
    g_stop = np.r_[breaks, len(rises)]
    # ... then the lockout drops crossings that come too soon after a hit's end.
    starts, lasts = [], []
    deaf_until = -np.inf
    for a, b in zip(g_start, g_stop, strict=True):
        if rises[a] <= deaf_until:
            a = int(np.searchsorted(rises, deaf_until, side="right"))
            if a >= b:
                continue
        last_rise = rises[b - 1]
        last_above = falls[np.searchsorted(falls, last_rise)]
        starts.append(rises[a])
        lasts.append(last_above)
        deaf_until = last_above + hdt + hlt
    starts = np.asarray(starts, dtype=np.int64)
    lasts = np.asarray(lasts, dtype=np.int64)
    ends = lasts + 1
    # Per-hit features only touch the hits' own samples.
    peak = np.empty(len(starts))
    energy = np.empty(len(starts))
    counts = np.empty(len(starts), dtype=np.int64)
    rise_time = np.empty(len(starts))
    f_peak = np.empty(len(starts))
    f_centroid = np.empty(len(starts))
    for k, (s, e) in enumerate(zip(starts, ends, strict=True)):
        seg = x[s:e]
        mag = np.abs(seg)
        j = int(np.argmax(mag))
        peak[k] = mag[j]
        rise_time[k] = j / fs
        energy[k] = float(np.dot(seg, seg))
        pos = seg > thr
        # Positive-going crossings of +threshold; the sample before the hit decides the first.
        counts[k] = int(np.count_nonzero(pos[1:] & ~pos[:-1])) + int(pos[0] and (s == 0 or x[s - 1] <= thr))
        f_peak[k], f_centroid[k] = _spectrum(seg[:max_spectrum_samples], fs)
    energy = energy / fs / REFERENCE_RESISTANCE_OHM * 1e18
    amp_db = 20.0 * np.log10(peak / 1e-6) - preamp_gain_dB
    out = pd.DataFrame({
        "sensor_time_s": start_time_s + starts / fs, "amplitude_dB": amp_db, "counts": counts.astype(np.int64),
        "duration_s": (lasts - starts) / fs, "rise_time_s": rise_time, "energy_aJ": energy,
        "peak_frequency_Hz": f_peak, "centroid_frequency_Hz": f_centroid,
        "start_sample": starts, "end_sample": lasts,
    })
    out.attrs["battlab"] = {"ae_detection": {
        "sampling_rate_Hz": fs, "threshold_dB": threshold_dB, "threshold_V": thr, "preamp_gain_dB": preamp_gain_dB,
        "hit_definition_time_s": hit_definition_time_s, "hit_lockout_time_s": hit_lockout_time_s}}
    return out


def waveform_sampling(table: pd.DataFrame) -> tuple[float, float]:
    """(sampling rate Hz, start time s) of a waveform table from its time column."""
    t = table["sensor_time_s"].to_numpy(dtype=float)
    dt = np.diff(t)
    if len(dt) == 0 or not np.isfinite(dt).all() or np.median(dt) <= 0:
        raise InvalidParameterError("the waveform's time column does not increase; give the sampling rate.")
    step = float(np.median(dt))
    if np.max(np.abs(dt - step)) > 0.01 * step:
        raise InvalidParameterError("the waveform is not uniformly sampled; resample it or export it with a "
                                    "constant sampling rate.")
    return 1.0 / step, float(t[0])


def cluster_hits(hits: pd.DataFrame, *, n_clusters: int = 2,
                 features=("peak_frequency_Hz", "centroid_frequency_Hz"), rng=0) -> pd.DataFrame:
    """Group hits by their frequency content (k-means on standardised features).

    Clusters are numbered by falling mean peak (or first feature) frequency: cluster 0
    is the highest-frequency group, labelled "particle cracking", the lowest "gas
    evolution"; any clusters between are "other k". The k-means start is seeded by
    ``rng``, so the same hits always get the same labels.

    Returns a copy with ``cluster`` and ``hit_type`` columns.
    """
    from scipy.cluster.vq import kmeans2

    if not (isinstance(n_clusters, (int, np.integer)) and 1 <= n_clusters <= 8):
        raise InvalidParameterError("n_clusters must be an integer from 1 to 8.")
    use = [f for f in features if f in hits and hits[f].notna().any()]
    if not use:
        raise MissingDataError(f"clustering needs at least one of {list(features)}; the hit list has "
                               f"{list(hits.columns)}.")
    out = hits.copy()
    X = out[use].to_numpy(dtype=float)
    ok = np.isfinite(X).all(axis=1)
    out["cluster"] = -1
    out["hit_type"] = "unclassified"
    if ok.sum() < n_clusters:
        return out
    Xs = X[ok]
    sd = Xs.std(axis=0)
    Z = (Xs - Xs.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    if n_clusters == 1:
        labels = np.zeros(len(Z), dtype=int)
    else:
        _, labels = kmeans2(Z, n_clusters, minit="++", seed=np.random.default_rng(rng))
    means = np.array([Xs[labels == k, 0].mean() if (labels == k).any() else -np.inf for k in range(n_clusters)])
    order = np.argsort(-means)  # rank 0 = highest frequency
    rank = np.empty(n_clusters, dtype=int)
    rank[order] = np.arange(n_clusters)
    ranked = rank[labels]
    names = {0: "particle cracking"}
    if n_clusters > 1:
        names[n_clusters - 1] = "gas evolution"
    out.loc[ok, "cluster"] = ranked
    out.loc[ok, "hit_type"] = [names.get(r, f"other {r}") for r in ranked]
    out.attrs = dict(hits.attrs)
    return out


def cumulative_hits(hits: pd.DataFrame) -> pd.DataFrame:
    """Hits sorted by time with ``cumulative_hits`` and ``cumulative_energy_aJ`` columns."""
    out = hits.sort_values("sensor_time_s", kind="stable").reset_index(drop=True)
    out["cumulative_hits"] = np.arange(1, len(out) + 1)
    if "energy_aJ" in out:
        out["cumulative_energy_aJ"] = np.nancumsum(out["energy_aJ"].to_numpy(dtype=float))
    out.attrs = dict(hits.attrs)
    return out


def summarize_hits(hits: pd.DataFrame, *, min_amplitude_dB: float | None = None) -> pd.DataFrame:
    """Hits per cycle and half cycle direction (and per hit type when clustered).

    ``hits`` is aligned on the cycling (``cycle``, ``direction``). Returns cycle,
    direction ("charge"/"discharge"/"rest"), n_hits, energy_aJ (sum), mean_amplitude_dB
    and, with a ``hit_type`` column, one ``n_<type>`` column per type.
    """
    if not {"cycle", "direction"} <= set(hits.columns):
        raise MissingDataError("summarize_hits needs hits aligned on the cycling (cycle, direction).")
    h = hits
    if min_amplitude_dB is not None and "amplitude_dB" in h:
        h = h.loc[h["amplitude_dB"] >= min_amplitude_dB]
    h = h.assign(direction_name=np.select([h["direction"] > 0, h["direction"] < 0], ["charge", "discharge"], "rest"))
    rows = []
    types = sorted(h["hit_type"].unique()) if "hit_type" in h else []
    for (cycle, d), g in h.groupby(["cycle", "direction_name"], sort=True):
        row = {"cycle": int(cycle), "direction": d, "n_hits": len(g),
               "energy_aJ": float(g["energy_aJ"].sum()) if "energy_aJ" in g else np.nan,
               "mean_amplitude_dB": float(g["amplitude_dB"].mean()) if "amplitude_dB" in g else np.nan}
        for t in types:
            row[f"n_{t.replace(' ', '_')}"] = int((g["hit_type"] == t).sum())
        rows.append(row)
    cols = ["cycle", "direction", "n_hits", "energy_aJ", "mean_amplitude_dB"] + [
        f"n_{t.replace(' ', '_')}" for t in types]
    return pd.DataFrame(rows, columns=cols)
