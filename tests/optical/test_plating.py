"""Li plating side view: Faraday thickness, deposit height, roughness and dendrite onset, with known answers."""

import numpy as np
import pytest

from battlab.datasets.optical import make_plating_movie
from battlab.errors import MissingDataError
from battlab.optical.plating import (
    faraday_thickness_um,
    interface_profile,
    plating_metrics,
)


def test_faraday_thickness_is_4_85_um_per_mAh_cm2():
    assert faraday_thickness_um(1.0) == pytest.approx(4.85, rel=0.005)  # ± 0.5 %
    # 1 mA/cm² for 3 h → 14.5 µm (research notes, Eq. 1)
    assert faraday_thickness_um(3.0) == pytest.approx(14.55, rel=0.005)


@pytest.fixture(scope="module")
def plating():
    demo = make_plating_movie()
    return demo, plating_metrics(demo.data["movie"], echem=demo.data["echem"], area_cm2=demo.truth["area_cm2"])


def test_height_roughness_and_protrusion_known_answer(plating):
    demo, m = plating
    t = demo.truth
    px = t["pixel_size_um"]
    # the mean deposit height to a tenth of a pixel; roughness and protrusion likewise
    assert np.max(np.abs(m["deposit_thickness_um"] - t["deposit_thickness_um"])) < 0.1 * px
    assert np.max(np.abs(m["roughness_um"] - t["roughness_um"])) < 0.1 * px
    assert np.max(np.abs(m["protrusion_um"] - t["protrusion_um"])) < 0.3 * px
    # the line-by-line profile of the last frame follows the true height profile
    prof = interface_profile(demo.data["movie"].values[-1])
    ref = interface_profile(demo.data["movie"].values[0])
    np.testing.assert_allclose((ref - prof) * px, t["height_um"][-1], atol=0.1)


def test_dendrite_onset_within_one_frame_and_count(plating):
    demo, m = plating
    t = demo.truth
    onset_frame = int(m.loc[m["dendrite_onset"], "frame"].iloc[0])
    assert abs(onset_frame - t["onset_frame"]) <= 1
    assert m.attrs["battlab"]["onset_time_s"] >= t["onset_time_s"]
    assert (m["dendrite_count"].iloc[:t["onset_frame"]] == 0).all()
    assert m["dendrite_count"].iloc[-1] == len(t["dendrite_y_px"])


def test_faraday_comparison_recovers_porosity(plating):
    demo, m = plating
    t = demo.truth
    np.testing.assert_allclose(m["faraday_thickness_um"], t["faraday_thickness_um"], rtol=0.005, atol=1e-9)
    before = m.iloc[2:t["onset_frame"]]  # uniform mossy layer before the dendrites
    np.testing.assert_allclose(before["porosity"], t["porosity"], atol=0.02)
    np.testing.assert_allclose(before["apparent_density_g_cm3"], 0.534 * (1 - t["porosity"]), rtol=0.03)


def test_dense_deposit_matches_faraday():
    demo = make_plating_movie(porosity=0.0, n_frames=20, onset_frame=99)
    m = plating_metrics(demo.data["movie"], echem=demo.data["echem"], area_cm2=1.0)
    late = m.iloc[5:]
    np.testing.assert_allclose(late["deposit_thickness_um"], late["faraday_thickness_um"], rtol=0.02)
    assert not m["dendrite_onset"].any() and m.attrs["battlab"]["onset_time_s"] is None


def test_plating_needs_area_for_faraday(plating):
    demo, _ = plating
    with pytest.raises(MissingDataError, match="area_cm2"):
        plating_metrics(demo.data["movie"], echem=demo.data["echem"])


def test_dead_lithium_after_stripping_known_answer():
    from battlab.optical.plating import plating_summary

    demo = make_plating_movie(n_frames=30, strip_frames=10, onset_frame=12.5, dead_li_fraction=0.25)
    m = plating_metrics(demo.data["movie"], echem=demo.data["echem"], area_cm2=1.0)
    s = plating_summary(m)
    t = demo.truth
    assert s["peak_deposit_um"] == pytest.approx(t["peak_deposit_um"], abs=0.05)
    assert s["residual_um"] == pytest.approx(t["residual_um"], abs=0.05)  # a tenth of a pixel
    assert s["dead_li_fraction"] == pytest.approx(0.25, abs=0.01)
    assert s["stripping_frames"] == 10
    assert s["onset_time_s"] == pytest.approx(13 * 300.0)  # first frame after the onset at frame 12.5
    assert s["max_dendrite_count"] == 3
    # the net charge returns to zero: the Faraday thickness of what is left plated is 0
    assert m["faraday_thickness_um"].iloc[-1] == pytest.approx(0.0, abs=1e-6)
