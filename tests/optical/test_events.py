"""Rare events (a short in a symmetric cell, crack onset) as (x, y, t), with known answers.

The demo holds a soft short (voltage collapse + a metal filament across the electrolyte)
and a crack (a bright line appearing in the electrolyte). Tolerances: event time within
one frame, position within 3 px.
"""

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.optical import make_graphite_movie, make_plating_movie
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.optical import find_events, local_change_events, voltage_collapse_events


@pytest.fixture(scope="module")
def events_demo():
    return make_plating_movie(short_frame=30.3, crack_frame=12)


@pytest.fixture(scope="module")
def events(events_demo):
    return find_events(events_demo.data["movie"], events_demo.data["echem"])


def test_short_and_crack_found_within_one_frame_and_three_px(events_demo, events):
    truth = events_demo.truth["events"].set_index("kind")
    dt = events_demo.truth["time_s"][1] - events_demo.truth["time_s"][0]
    assert len(events) == 2, events  # nothing else: steady growth and dendrites are not events
    short = events[events["kind"] == "short (voltage collapse)"].iloc[0]
    crack = events[events["kind"] == "local change"].iloc[0]
    for got, name in ((short, "short"), (crack, "crack")):
        want = truth.loc[name]
        assert abs(got["time_s"] - want["time_s"]) <= dt, name  # within one frame
        assert got["frame"] == want["frame"], name
        assert np.hypot(got["x_px"] - want["x_px"], got["y_px"] - want["y_px"]) < 3.0, name  # 3 px
    assert short["voltage_after_V"] == pytest.approx(0.08 * short["voltage_before_V"], rel=0.1)
    assert crack["contrast"] > 0  # the crack brightened
    assert events["x_um"].iloc[0] == pytest.approx(events["x_px"].iloc[0] * 0.5)
    assert list(events["event"]) == [1, 2] and events["time_s"].is_monotonic_increasing


def test_quiet_movies_have_no_events():
    # steady growth, dendrites growing from an onset, and a lithiating graphite electrode
    plating = make_plating_movie(n_frames=30)
    assert find_events(plating.data["movie"], plating.data["echem"]).empty
    graphite = make_graphite_movie(n_frames=40, lithiation_frames=25)
    assert find_events(graphite.data["movie"], graphite.data["echem"]).empty


def test_voltage_collapse_needs_same_current_and_persistence():
    t = np.arange(40) * 10.0
    v = np.full(40, -0.03)
    i = np.full(40, -1e-3)
    v[20:] = -0.002  # collapse at t = 200 s
    ev = voltage_collapse_events(pd.DataFrame({"test_time_s": t, "voltage_V": v, "current_A": i}))
    assert list(ev["test_time_s"]) == [200.0]
    # a current reversal (stripping) with the voltage passing zero is not a short
    v2, i2 = np.where(t < 200, -0.03, 0.001), np.where(t < 200, -1e-3, 1e-3)
    assert voltage_collapse_events(pd.DataFrame({"test_time_s": t, "voltage_V": v2, "current_A": i2})).empty
    # a one-row glitch that recovers is not a short
    v3 = np.full(40, -0.03)
    v3[20] = -0.001
    assert voltage_collapse_events(pd.DataFrame({"test_time_s": t, "voltage_V": v3, "current_A": i})).empty


def test_local_changes_alone_and_bad_inputs(events_demo):
    movie = events_demo.data["movie"]
    local = local_change_events(movie.isel(time=slice(8, 16)))
    assert len(local) == 1 and local["frame"].iloc[0] == 4  # frame 12 of the movie is frame 4 of the slice
    with pytest.raises(InvalidParameterError):
        local_change_events(movie, threshold_sigma=0)
    with pytest.raises(MissingDataError):
        find_events(None, None)
    with pytest.raises(MissingDataError, match="current_A"):
        voltage_collapse_events(pd.DataFrame({"test_time_s": [0.0]}))


def test_a_kept_movie_search_gives_the_same_events_on_a_new_clock(events_demo, events):
    """``local_events`` reuses a search of the movie; its times follow the movie's frame times."""
    movie, echem = events_demo.data["movie"], events_demo.data["echem"]
    local = local_change_events(movie)
    pd.testing.assert_frame_equal(find_events(movie, echem, local_events=local), events)
    # a new frame clock (e.g. a typed frame interval) and a clock offset: as a full search gives
    retimed = movie.assign_coords(time_s=("time", movie["time_s"].to_numpy() * 1.5 + 4.0))
    again = find_events(retimed, echem, clock_offset_s=-2.0, local_events=local)
    pd.testing.assert_frame_equal(again, find_events(retimed, echem, clock_offset_s=-2.0))
    with pytest.raises(InvalidParameterError, match="frames"):
        find_events(movie.isel(time=slice(0, 5)), echem, local_events=local)
