"""Known answers of seed-001 §8: wavelength, camera equation, dose."""

import numpy as np
import pytest

from battlab.errors import InvalidParameterError
from battlab.tem import physics as ph


def test_relativistic_wavelength():
    # seed §8 / §3.6: 1.9687 pm at 300 kV, 2.5079 pm at 200 kV (±0.0005 pm), 4.176 / 3.349 pm at 80 / 120 kV
    assert ph.electron_wavelength_pm(300) == pytest.approx(1.9687, abs=5e-4)
    assert ph.electron_wavelength_pm(200) == pytest.approx(2.5079, abs=5e-4)
    assert ph.electron_wavelength_pm(80) == pytest.approx(4.176, abs=1e-3)
    assert ph.electron_wavelength_pm(120) == pytest.approx(3.349, abs=1e-3)
    # non-relativistic formula would be 2.742 pm at 200 kV: the correction is in
    assert ph.electron_wavelength_pm(np.array([200, 300])).shape == (2,)
    with pytest.raises(InvalidParameterError):
        ph.electron_wavelength_pm(0)


def test_interaction_constant():
    # seed §3.8: 7.29e-3 rad/(V nm) at 200 kV, 6.53e-3 at 300 kV
    assert ph.interaction_constant_rad_per_V_nm(200) == pytest.approx(7.29e-3, rel=2e-3)
    assert ph.interaction_constant_rad_per_V_nm(300) == pytest.approx(6.53e-3, rel=2e-3)


def test_camera_equation_round_trip():
    k = ph.camera_constant_px_A(voltage_kV=200, camera_length_mm=300, detector_pixel_um=14)
    r = ph.radius_from_d_px(3.136, k)
    assert ph.d_from_radius_A(r, k) == pytest.approx(3.136, rel=1e-12)
    assert ph.camera_length_mm(k, voltage_kV=200, detector_pixel_um=14) == pytest.approx(300, rel=1e-12)
    # K = λL/p: 0.025079 Å × 300 mm / 14 µm = 537.4 px·Å
    assert k == pytest.approx(0.025079 * 300e3 / 14, rel=1e-4)


def test_dose_known_answers():
    # 1 nA on a 1 µm disc -> 79.47 e/Å²/s; 1 e/Å²/s = 1.602 mA/cm²
    assert ph.dose_rate_tem(beam_current_A=1e-9, illuminated_diameter_um=1.0) == pytest.approx(79.47, abs=0.01)
    assert ph.dose_rate_to_current_density_mA_cm2(1.0) == pytest.approx(1.602, abs=1e-3)
    # seed L304: 0.1 e/Å²/s with 5 s frames -> 0.5 e/Å² per frame
    table = ph.cumulative_dose(np.arange(10) * 5.0, dose_rate_e_A2_s=0.1)
    assert table["dose_e_A2"].tolist() == pytest.approx([0.5] * 10)
    assert table["cumulative_dose_e_A2"].iloc[-1] == pytest.approx(5.0)
    blanked = ph.cumulative_dose(np.arange(4) * 10.0, dose_rate_e_A2_s=0.1, exposure_s=5.0)
    assert blanked["cumulative_dose_e_A2"].iloc[-1] == pytest.approx(2.0)


def test_stem_dose():
    # 10 pA, 0.1 nm (1 Å) pixels, 10 µs dwell: 1e-11·1e-5/1.602e-19 = 624.15 e/Å² per frame
    out = ph.dose_rate_stem(beam_current_A=1e-11, pixel_size_nm=0.1, dwell_time_s=1e-5, n_pixels=512 * 512)
    assert out["dose_per_frame_e_A2"] == pytest.approx(624.15, rel=1e-4)
    assert out["dose_rate_e_A2_s"] == pytest.approx(624.15 / (512 * 512 * 1e-5), rel=1e-4)


def test_dose_budget_planner():
    plan = ph.dose_budget(budget_e_A2=100, dose_rate_e_A2_s=0.1, exposure_s=5, frame_interval_s=10, frames_wanted=300)
    assert plan["dose_per_frame_e_A2"] == pytest.approx(0.5)
    assert plan["max_frames"] == 200 and plan["max_duration_s"] == 2000
    assert plan["fits_budget"] is False and plan["max_dose_rate_e_A2_s"] == pytest.approx(100 / 1500)
    with pytest.raises(InvalidParameterError):
        ph.dose_budget(budget_e_A2=100, dose_rate_e_A2_s=0.1, exposure_s=5, frame_interval_s=1)
    with pytest.raises(InvalidParameterError):
        ph.cumulative_dose([0, 2, 1], dose_rate_e_A2_s=1)


def test_dose_threshold_hinge():
    rng = np.random.default_rng(0)
    dose = np.sort(rng.uniform(0, 200, 120))
    metric = 10.0 + np.where(dose > 80, -0.05 * (dose - 80), 0.0) + rng.normal(0, 0.05, dose.size)
    res = ph.fit_dose_threshold(dose, metric)
    # threshold within 5 e/Å² of the generated 80 e/Å², slope within 5 %
    assert res["threshold_e_A2"] == pytest.approx(80, abs=5)
    assert res["slope_per_e_A2"] == pytest.approx(-0.05, rel=0.05)
    assert res["sse"] < res["sse_no_threshold"]
    with pytest.raises(InvalidParameterError):
        ph.fit_dose_threshold([1, 2, 3], [1, 2, 3])
