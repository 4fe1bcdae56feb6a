"""Off-axis electron holography: known-answer tests on synthetic holograms and phase images."""

import numpy as np
import pytest

from battlab.datasets.imaging import make_hologram, make_phase_step
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.tem import holography as H
from battlab.tem.physics import interaction_constant_rad_per_V_nm


@pytest.mark.parametrize(("kv", "textbook"), [(200, 0.00729), (300, 0.00652)])
def test_interaction_constant_matches_textbook_within_half_a_percent(kv, textbook):
    assert interaction_constant_rad_per_V_nm(kv) == pytest.approx(textbook, rel=0.005)


@pytest.fixture(scope="module")
def holo():
    return make_hologram()


def _rms_interior(phase, truth, margin=16):
    diff = (np.asarray(phase) - truth)[margin:-margin, margin:-margin]
    return float(np.sqrt(np.mean((diff - diff.mean()) ** 2)))


def test_sideband_found_at_the_carrier_frequency(holo):
    ky, kx = H.find_sideband(holo.data["hologram"])
    assert (ky, kx) == pytest.approx(holo.truth["sideband_px"], abs=0.2)
    assert H.looks_like_hologram(holo.data["hologram"])
    assert not H.looks_like_hologram(make_phase_step().data)


def test_reconstructed_phase_within_005_rad_rms_with_the_reference(holo):
    phase = H.reconstruct_phase(holo.data["hologram"], reference=holo.data["reference"])
    assert phase.attrs["units"] == "rad" and phase.attrs["pixel_size_nm"] == 0.5
    # the particle's peak phase (≈ 4.7 rad) wraps: unwrapping must restore it
    assert holo.truth["phase_rad"].max() > np.pi
    assert _rms_interior(phase.values, holo.truth["phase_rad"]) < 0.05
    assert "amplitude" in phase.coords
    # without the reference the biprism/lens distortion stays in the phase
    raw = H.reconstruct_phase(holo.data["hologram"])
    assert _rms_interior(raw.values, holo.truth["phase_rad"]) > 0.1
    assert phase.attrs["voltage_kV"] == 300 and phase.attrs["reference_corrected"]


def test_mean_inner_potential_of_the_particle_centre(holo):
    phase = H.reconstruct_phase(holo.data["hologram"], reference=holo.data["reference"])
    vacuum = phase.values[:12, :12].mean()  # corner far from the particle
    cy, cx = (int(v) for v in holo.truth["center_px"])
    centre = phase.values[cy - 2:cy + 3, cx - 2:cx + 3] - vacuum
    v0 = H.mean_inner_potential(centre, voltage_kV=300, thickness_nm=holo.truth["thickness_nm"][cy - 2:cy + 3,
                                                                                               cx - 2:cx + 3])
    assert float(np.mean(v0)) == pytest.approx(holo.truth["mean_inner_potential_V"], rel=0.02)


def test_potential_step_within_2_percent_with_its_uncertainty():
    demo = make_phase_step()
    ny, nx = demo.data.shape
    prof = H.phase_profile(demo.data, (ny / 2, 8), (ny / 2, nx - 8), width_px=64)
    assert {"s_px", "s_nm", "phase_rad", "phase_sem_rad"} <= set(prof.columns)
    step = H.potential_step(prof, voltage_kV=demo.truth["voltage_kV"], thickness_nm=demo.truth["thickness_nm"])
    assert step["delta_potential_V"] == pytest.approx(demo.truth["step_V"], rel=0.02)
    assert step["delta_phase_rad"] == pytest.approx(demo.truth["delta_phase_rad"], rel=0.02)
    # the stated uncertainty is honest: white noise 0.03 rad over 64 lines × ≈45 points per plateau
    expected = demo.truth["noise_rad"] * np.sqrt(2 / (64 * 45))
    assert step["delta_phase_err_rad"] == pytest.approx(expected, rel=0.3)
    assert abs(step["delta_phase_rad"] - demo.truth["delta_phase_rad"]) < 4 * step["delta_phase_err_rad"]
    pp = H.projected_potential(demo.data, voltage_kV=300)
    assert pp.attrs["units"] == "V nm" and pp.name == "projected_potential"


def test_profile_matches_the_shared_line_sampler():
    from battlab.imaging.kymograph import line_profile

    demo = make_phase_step(noise_rad=0.0)
    prof = H.phase_profile(demo.data, (10, 5), (100, 180), width_px=5)
    s, mean = line_profile(demo.data.values, (10, 5), (100, 180), width_px=5)
    np.testing.assert_allclose(prof["phase_rad"], mean)
    np.testing.assert_allclose(prof["s_nm"], s * 1.0)


def test_bad_inputs_are_battlab_errors(holo):
    flat = np.random.default_rng(0).normal(100, 1, (64, 64))
    with pytest.raises(MissingDataError, match="sideband"):
        H.reconstruct_phase(flat)
    with pytest.raises(InvalidParameterError, match="2-D"):
        H.reconstruct_phase(np.zeros((3, 64, 64)))
    with pytest.raises(InvalidParameterError, match="aperture"):
        H.reconstruct_phase(holo.data["hologram"], aperture_px=500)
    with pytest.raises(InvalidParameterError, match="same camera area"):
        H.reconstruct_phase(holo.data["hologram"], reference=holo.data["reference"][:128, :128])
    prof = H.phase_profile(make_phase_step().data, (10, 5), (10, 60))
    with pytest.raises(MissingDataError, match="widen"):
        H.potential_step(prof, voltage_kV=300, left=(0, 1))
    with pytest.raises(InvalidParameterError):
        H.mean_inner_potential(1.0, voltage_kV=300, thickness_nm=0)


def test_any_image_gives_a_phase_or_a_battlab_error():
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    from battlab.errors import BattlabError

    images = arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 40)),
                    elements=st.floats(-1e6, 1e6) | st.sampled_from([np.nan, np.inf]))

    @settings(max_examples=60, deadline=None)
    @given(images)
    def check(img):
        try:
            phase = H.reconstruct_phase(img)
        except BattlabError:
            return
        assert phase.shape == img.shape and np.isfinite(phase.values).all()

    check()
