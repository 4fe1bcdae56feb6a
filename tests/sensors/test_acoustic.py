"""Acoustic emission: exact hit detection, features, clustering and hits on the cycling."""

import numpy as np
import pandas as pd
import pytest

from battlab.datasets import make_acoustic, make_ae_waveform
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.sensors import acoustic, analyze


def naive_hits(x, fs, thr, hdt_s, hlt_s):
    """Sample-by-sample reference of the hit definition (the slow, obvious state machine)."""
    hdt, hlt = hdt_s * fs, hlt_s * fs
    hits, in_hit, deaf_until = [], False, -np.inf
    start = last_cross = last_above = None
    prev = False
    for i, v in enumerate(x):
        above = abs(v) > thr
        if above and not prev:
            if in_hit and i - last_cross > hdt:
                hits.append((start, last_above))
                deaf_until = last_above + hdt + hlt
                in_hit = False
            if in_hit:
                last_cross = i
            elif i > deaf_until:
                start, last_cross, in_hit = i, i, True
        if above and in_hit:
            last_above = i
        prev = above
    if in_hit:
        hits.append((start, last_above))
    counts = [sum(1 for j in range(max(s, 1), e + 1) if x[j] > thr >= x[j - 1]) + int(s == 0 and x[0] > thr)
              for s, e in hits]
    return hits, counts


def burst(n, fs, t0, f, amp, tau):
    t = np.arange(n) / fs - t0
    return np.where(t >= 0, amp * np.exp(-np.clip(t, 0, None) / tau) * np.sin(2 * np.pi * f * t), 0.0)


@pytest.fixture(scope="module")
def waveform():
    return make_ae_waveform()


def test_hit_count_exact_and_onsets_on_synthetic_waveform(waveform):
    x = waveform.data.sensor["amplitude_V"].to_numpy()
    fs = waveform.truth["sampling_rate_Hz"]
    hits = acoustic.detect_hits(x, sampling_rate_Hz=fs, threshold_dB=40.0)
    assert len(hits) == waveform.truth["n_hits"]  # exact
    # A burst crosses 100 µV within a few cycles of its onset.
    np.testing.assert_allclose(hits["sensor_time_s"], waveform.truth["onset_s"], atol=20e-6)
    np.testing.assert_allclose(hits["peak_frequency_Hz"], waveform.truth["frequency_Hz"], rtol=0.05)
    # 8 µV rms noise on peaks of at least 0.5 mV: within 0.5 dB.
    np.testing.assert_allclose(hits["amplitude_dB"], waveform.truth["amplitude_dB"], atol=0.5)
    assert (hits["counts"] > 0).all() and (hits["energy_aJ"] > 0).all()


def test_vectorised_detection_equals_the_reference_loop(waveform):
    x = waveform.data.sensor["amplitude_V"].to_numpy()[:300_000]
    fs = waveform.truth["sampling_rate_Hz"]
    for thr_db, hdt, hlt in ((40.0, 200e-6, 1e-3), (55.0, 50e-6, 0.0), (35.0, 1e-3, 5e-3)):
        got = acoustic.detect_hits(x, sampling_rate_Hz=fs, threshold_dB=thr_db, hit_definition_time_s=hdt,
                                   hit_lockout_time_s=hlt)
        ref, counts = naive_hits(x, fs, acoustic.threshold_volts(thr_db), hdt, hlt)
        assert list(zip(got["start_sample"], got["end_sample"], strict=True)) == ref
        assert list(got["counts"]) == counts


def test_hit_definition_and_lockout_times():
    fs = 1e6
    n = 20_000
    # Two bursts 1.5 ms apart: one hit with a long HDT, two with a short one, one again
    # when the lockout covers the second burst.
    x = burst(n, fs, 0.002, 2e5, 0.01, 1e-4) + burst(n, fs, 0.0035, 2e5, 0.01, 1e-4)
    long_hdt = acoustic.detect_hits(x, sampling_rate_Hz=fs, hit_definition_time_s=2e-3, hit_lockout_time_s=0)
    short = acoustic.detect_hits(x, sampling_rate_Hz=fs, hit_definition_time_s=100e-6, hit_lockout_time_s=0)
    locked = acoustic.detect_hits(x, sampling_rate_Hz=fs, hit_definition_time_s=100e-6, hit_lockout_time_s=2e-3)
    assert (len(long_hdt), len(short), len(locked)) == (1, 2, 1)
    np.testing.assert_allclose(short["sensor_time_s"], [0.002, 0.0035], atol=5e-6)
    # Amplitude in dB_AE: 10 mV peak -> 80 dB; with 40 dB preamplifier gain the sensor saw 40 dB less.
    peak_db = 20 * np.log10(np.abs(x[:3000]).max() / 1e-6)
    assert peak_db == pytest.approx(80.0, abs=0.6)
    assert short["amplitude_dB"].iloc[0] == pytest.approx(peak_db, abs=1e-9)
    gained = acoustic.detect_hits(x, sampling_rate_Hz=fs, preamp_gain_dB=40.0, threshold_dB=20.0,
                                  hit_definition_time_s=100e-6, hit_lockout_time_s=0)
    assert gained["amplitude_dB"].iloc[0] == pytest.approx(peak_db - 40.0, abs=1e-9)
    assert len(acoustic.detect_hits(np.zeros(1000), sampling_rate_Hz=fs)) == 0
    with pytest.raises(InvalidParameterError):
        acoustic.detect_hits(x, sampling_rate_Hz=0)


def test_energy_of_a_known_burst():
    fs = 5e6
    amp, tau, f = 0.01, 1e-4, 2e5
    x = burst(50_000, fs, 0.001, f, amp, tau)
    hit = acoustic.detect_hits(x, sampling_rate_Hz=fs, threshold_dB=20.0).iloc[0]
    # ∫ (A e^{-t/τ} sin ωt)² dt ≈ A²τ/4 over the ring-down above a low threshold.
    expected = amp**2 * tau / 4 / acoustic.REFERENCE_RESISTANCE_OHM * 1e18
    assert hit["energy_aJ"] == pytest.approx(expected, rel=0.02)
    assert hit["peak_frequency_Hz"] == pytest.approx(f, rel=0.02)


def test_clustering_recovers_hit_types_deterministically():
    demo = make_acoustic()
    hits = demo.data.sensor
    a = acoustic.cluster_hits(hits, n_clusters=2, rng=0)
    b = acoustic.cluster_hits(hits, n_clusters=2, rng=0)
    assert (a["cluster"] == b["cluster"]).all()
    assert (a["hit_type"].to_numpy() == demo.truth["hit_type"]).mean() > 0.99
    assert a.loc[a["hit_type"] == "particle cracking", "peak_frequency_Hz"].mean() > 300e3
    three = acoustic.cluster_hits(hits, n_clusters=3)
    assert set(three["cluster"]) == {0, 1, 2}
    with pytest.raises(MissingDataError):
        acoustic.cluster_hits(pd.DataFrame({"amplitude_dB": [50.0]}))


def test_hits_per_cycle_on_the_cycling():
    demo = make_acoustic()
    res = analyze("acoustic", demo.data.sensor, demo.data.echem, clock_offset_s=demo.truth["clock_offset_s"])
    truth = pd.DataFrame({"cycle": demo.truth["cycle"], "direction": demo.truth["direction"]})
    expected = truth.groupby(["cycle", "direction"]).size().rename("n_true").reset_index()
    merged = res.cycles.merge(expected, on=["cycle", "direction"])
    assert len(merged) == len(expected)
    assert (merged["n_hits"] == merged["n_true"]).all()
    first = res.cycles.set_index(["cycle", "direction"])
    assert first.loc[(1, "discharge"), "n_hits"] == res.cycles["n_hits"].max()  # most in the first lithiation
    assert res.aligned["cumulative_hits"].iloc[-1] == len(demo.data.sensor)


def test_waveform_pipeline_without_cycling(waveform):
    res = analyze("acoustic", waveform.data.sensor, None, threshold_dB=40.0)
    assert len(res.aligned) == waveform.truth["n_hits"]
    assert any("not aligned on cycling" in m for m in res.messages)
    agree = (res.aligned["hit_type"].to_numpy() == waveform.truth["hit_type"]).mean()
    assert agree == 1.0
    fewer = analyze("acoustic", waveform.data.sensor, None, threshold_dB=70.0)
    assert len(fewer.aligned) < waveform.truth["n_hits"]
