"""Known answers for the free profile line (length axis, ISO 4287 Ra/Rq, step height) and
the KPFM reference region (work-function differences)."""

import numpy as np
import pytest

from battlab.afm import height_map, line_profile, profile_roughness, profile_step_height, region_mask
from battlab.afm.electrical import work_function_map
from battlab.errors import BattlabError


def _oblique_step(*, height_nm=2.0, angle_deg=33.0, noise_nm=0.05, seed=3):
    """A step of known height along a line at ``angle_deg``, on a tilted plane, with
    rectangular pixels (10 × 12.5 nm) so that the µm axis is not the pixel axis."""
    rng = np.random.default_rng(seed)
    dx, dy = 0.010, 0.0125
    ny, nx = 160, 200
    y = (np.arange(ny) + 0.5)[:, None] * dy
    x = (np.arange(nx) + 0.5)[None, :] * dx
    t = np.deg2rad(angle_deg)
    # Normal of the step edge; the edge passes through the map centre.
    along = (x - 1.0) * np.cos(t) + (y - 1.0) * np.sin(t)
    z = height_nm * (along > 0) + 0.8 * x + 0.5 * y + rng.normal(0, noise_nm, (ny, nx))
    return height_map(z, pixel_size_um=dx, pixel_size_y_um=dy), t


def test_profile_across_an_oblique_step():
    image, t = _oblique_step()
    start = (1.0 - 0.7 * np.cos(t), 1.0 - 0.7 * np.sin(t))
    end = (1.0 + 0.7 * np.cos(t), 1.0 + 0.7 * np.sin(t))
    prof = line_profile(image, start, end, width_um=0.08)
    s = prof["distance_um"].to_numpy()
    # Length axis exact: 0 at the start, the line's length at the end, equal steps.
    assert s[0] == 0.0 and s[-1] == pytest.approx(1.4, rel=1e-12)
    np.testing.assert_allclose(np.diff(s), s[-1] / (s.size - 1), rtol=1e-9)
    assert prof["x_um"].iloc[-1] == pytest.approx(end[0], rel=1e-12)
    assert np.diff(s).max() <= 0.0125  # about one pixel apart
    step = profile_step_height(prof)
    # Step height within 1 % (noise 0.05 nm, averaged over the 80 nm width).
    assert step["step_height"] == pytest.approx(2.0, rel=0.01)
    assert step["edge_um"] == pytest.approx(0.7, abs=0.03)
    # The plane's slope along the line: 0.8·cos t + 0.5·sin t nm/µm.
    assert step["slope"] == pytest.approx(0.8 * np.cos(t) + 0.5 * np.sin(t), abs=0.05)
    # Reversed line: the step falls.
    back = profile_step_height(line_profile(image, end, start, width_um=0.08))
    assert back["step_height"] == pytest.approx(-2.0, rel=0.01)


def test_profile_ra_rq_of_a_sine_iso4287():
    # z = A sin(2π x / λ) along x on 10 whole periods: Ra = 2A/π, Rq = A/√2 (mean line removed).
    a, lam = 3.0, 0.2
    x = (np.arange(420) + 0.5) * 0.005
    z = np.tile(a * np.sin(2 * np.pi * x / lam), (20, 1)) + 0.3 * x  # a tilt the mean line removes
    image = height_map(z, pixel_size_um=0.005)
    prof = line_profile(image, (0.0025, 0.05), (0.0025 + 2.0, 0.05))
    r = profile_roughness(prof)
    assert r["Ra"] == pytest.approx(2 * a / np.pi, rel=0.01)
    assert r["Rq"] == pytest.approx(a / np.sqrt(2), rel=0.01)
    assert r["length_um"] == pytest.approx(2.0, rel=1e-12)


def test_profile_refuses_bad_lines():
    image, _ = _oblique_step()
    with pytest.raises(BattlabError, match="outside the map"):
        line_profile(image, (0.1, 0.1), (5.0, 0.1))
    with pytest.raises(BattlabError, match="under 2 pixels"):
        line_profile(image, (0.5, 0.5), (0.505, 0.5))
    with pytest.raises(BattlabError):
        line_profile(image, (0.1, 0.1), (0.9, 0.9), width_um=float("nan"))
    # Wider than the map's diagonal: only repeated edge pixels would be averaged.
    diagonal = float(np.hypot(*image.attrs["scan_size_um"]))
    with pytest.raises(BattlabError, match="wider than the map's diagonal"):
        line_profile(image, (0.1, 0.1), (0.9, 0.9), width_um=1.01 * diagonal)
    assert line_profile(image, (0.1, 0.1), (0.9, 0.9), width_um=0.99 * diagonal)["height"].notna().all()


def test_kpfm_reference_rectangle_and_threshold_within_1_mV():
    rng = np.random.default_rng(5)
    n, dx = 128, 0.05
    cpd = np.full((n, n), 0.35)
    cpd[:, : n // 4] = -0.10  # Au pad on the left quarter
    cpd += rng.normal(0, 0.01, cpd.shape)
    kpfm = height_map(cpd, pixel_size_um=dx, units="V", channel="potential")
    pad = region_mask(kpfm, x_um=(0.0, n // 4 * dx - 0.1), y_um=(0.0, n * dx))
    assert pad.sum() == (n // 4 - 2) * n
    d = work_function_map(kpfm, reference_mask=pad)
    sample = np.s_[:, n // 4 + 2:]
    # Bias on the sample: Δφ = e(V_ref − V_CPD) = −0.45 eV for the sample; within 1 mV.
    assert float(np.mean(d.values[sample])) == pytest.approx(-0.45, abs=0.001)
    assert d.attrs["relative_to_reference"] and d.attrs["units"] == "eV"
    assert "V_ref - V_CPD" in d.attrs["sign_convention"]
    # Bias on the tip flips the sign; with φ_ref given the map is absolute.
    tip = work_function_map(kpfm, reference_mask=pad, bias_on="tip", reference_work_function_eV=5.1)
    assert float(np.mean(tip.values[sample])) == pytest.approx(5.1 + 0.45, abs=0.001)
    # A mask from a height threshold: the pad stands 30 nm proud of the sample.
    topo = height_map(np.where(np.arange(n)[None, :] < n // 4, 30.0, 0.0) + rng.normal(0, 0.5, (n, n)),
                      pixel_size_um=dx)
    raised = region_mask(topo, above=15.0)
    assert (raised[:, : n // 4]).all() and not raised[:, n // 4:].any()
    d2 = work_function_map(kpfm, reference_mask=raised)
    assert d2.attrs["reference_cpd_V"] == pytest.approx(-0.10, abs=0.001)
    with pytest.raises(BattlabError, match="selects no pixel"):
        region_mask(topo, above=100.0)
