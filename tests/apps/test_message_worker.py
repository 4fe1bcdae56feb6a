"""The page's widget messages are handled off the kernel's thread, and stale moves are dropped.

The messages are fed through the widgets' own comms (``comm.handle_msg``, as the kernel
does when the page sends them) to a real app; the analysis they start is the app's real
one (the optical app's side-view analysis, about a second per ROI move on the demo movie).
"""

import uuid

import pandas as pd
import pytest

from battlab.apps import OpticalApp
from battlab.apps._worker import MessageWorker, _is_echo


def _update(widget, **state):
    """A widget update message as the page sends it."""
    return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "comm_msg"}, "parent_header": {}, "metadata": {},
            "content": {"comm_id": widget.comm.comm_id,
                        "data": {"method": "update", "state": state, "buffer_paths": []}},
            "buffers": []}


@pytest.mark.slow
def test_moves_queue_on_the_worker_and_only_the_newest_of_waiting_moves_runs():
    app = OpticalApp()
    worker = MessageWorker(app.widget, app._set_busy)
    worker.attach(app.widget)
    first = app.result
    lo, hi = app.rows.value
    moves = [(lo + k, hi) for k in (2, 4, 6, 8)]
    for move in moves:
        app.rows.comm.handle_msg(_update(app.rows, value=list(move)))
    # Every call returned at once: the kernel's thread only queued the moves (each analysis
    # takes about a second), so the newest is not applied yet, and the busy indicator is up.
    assert app.rows.value != moves[-1]
    assert app.busy.layout.display == "flex"
    assert worker.wait_idle(timeout_s=300)
    assert app.busy.layout.display == "none"
    # Moves that a newer one superseded while they waited never ran; the newest did.
    assert worker.dropped >= 2 and worker.handled + worker.dropped == len(moves)
    assert app.rows.value == moves[-1] and app.result is not first
    assert app.result.parameters["roi"] == [*moves[-1], *app.cols.value]
    assert app.banner.layout.display == "none", app.banner.value
    # ...and the page shows what the same move made in code (on the kernel's thread) gives.
    direct = OpticalApp()
    direct.rows.value = moves[-1]
    pd.testing.assert_frame_equal(app.result.frames, direct.result.frames)


def test_messages_of_other_widgets_and_clicks_are_never_dropped():
    app = OpticalApp()
    worker = MessageWorker(app.widget, app._set_busy)
    worker.attach(app.widget)
    sigma = app.event_sigma.value
    assert app.find_events.value and app.events is not None
    app.event_sigma.comm.handle_msg(_update(app.event_sigma, value=sigma + 1.0))
    app.find_events.comm.handle_msg(_update(app.find_events, value=False))
    app.event_sigma.comm.handle_msg(_update(app.event_sigma, value=sigma + 2.0))
    assert worker.wait_idle(timeout_s=300)
    # the second σ move may replace the first while it waits; the checkbox is another widget's message
    assert worker.handled + worker.dropped == 3 and worker.dropped <= 1
    assert app.find_events.value is False and app.events is None and app.event_sigma.value == sigma + 2.0


def test_figure_echoes_are_not_queued():
    echo = {"content": {"data": {"method": "custom", "content": {"event": "jsevent", "kind": "ModelChanged"}}}}
    tap = {"content": {"data": {"method": "custom", "content": {"event": "jsevent", "kind": "MessageSent"}}}}
    assert _is_echo(echo) and not _is_echo(tap)


def test_the_busy_indicator_comes_down_after_many_quick_messages():
    # Quick moves finish on the worker while the kernel's thread is still queuing the next
    # ones: the count that shows the indicator must never lose a message.
    app = OpticalApp()
    worker = MessageWorker(app.widget, app._set_busy)
    worker.attach(app.widget)
    for k in range(30):
        app.frame.comm.handle_msg(_update(app.frame, value=k % 7))
        app.show_classes.comm.handle_msg(_update(app.show_classes, value=bool(k % 2)))
    assert worker.wait_idle(timeout_s=300)
    assert app._busy_depth == 0 and app.busy.layout.display == "none"
    assert app.frame.value == 29 % 7 and worker.handled + worker.dropped == 60


@pytest.mark.slow
def test_a_running_analysis_stops_when_a_newer_value_of_its_control_arrives(monkeypatch):
    import threading
    import time

    import battlab.optical.sideview as sideview

    app = OpticalApp()
    n_frames = app.movie.sizes["time"]
    measured = []
    started = threading.Event()
    real_measure = sideview.measure_frame

    def counting_measure(*args, **kwargs):  # the real per-frame analysis, counted
        measured.append(1)
        started.set()
        return real_measure(*args, **kwargs)

    monkeypatch.setattr(sideview, "measure_frame", counting_measure)
    worker = MessageWorker(app.widget, app._set_busy)
    worker.attach(app.widget)
    lo, hi = app.rows.value
    app.rows.comm.handle_msg(_update(app.rows, value=[lo + 2, hi]))
    assert started.wait(timeout=60)  # the first move's analysis is running on the worker
    time.sleep(0.05)
    app.rows.comm.handle_msg(_update(app.rows, value=[lo + 4, hi]))
    assert worker.wait_idle(timeout_s=300)
    assert worker.cancelled == 1 and worker.handled == 2 and worker.dropped == 0
    # The first analysis stopped part-way: fewer frames were measured than two full runs.
    assert n_frames < len(measured) < 2 * n_frames
    assert app.banner.layout.display == "none" and app._busy_depth == 0
    # What is on show is the newest move's full result, as the same move made in code gives.
    assert app.rows.value == (lo + 4, hi)
    direct = OpticalApp()
    direct.rows.value = (lo + 4, hi)
    pd.testing.assert_frame_equal(app.result.frames, direct.result.frames)


def test_checkpoints_raise_only_in_a_cancelled_run():
    import threading

    from battlab._cancel import Cancelled, cancellable, checkpoint

    checkpoint()  # outside any run: never raises
    event = threading.Event()
    with cancellable(event):
        checkpoint()
        event.set()
        with pytest.raises(Cancelled):
            checkpoint()
    checkpoint()
    assert not issubclass(Cancelled, Exception)  # `except Exception` in an analysis cannot swallow it


def _superseded(run):
    """Run ``run()`` as the worker runs a stale move: its cancellation event already set."""
    import threading

    from battlab._cancel import cancellable

    event = threading.Event()
    event.set()
    with cancellable(event):
        run()


@pytest.mark.parametrize("analysis", ["side-view movie", "plating movie", "approach curves", "SAXS series"])
def test_long_analyses_stop_at_their_next_unit_of_work_when_superseded(analysis):
    """Each long analysis an app runs checks for a newer move between its frames or curves."""
    from battlab._cancel import Cancelled
    from battlab.datasets.optical import make_graphite_movie, make_plating_movie
    from battlab.datasets.probes import make_approach_curves
    from battlab.datasets.scattering import make_saxs_series
    from battlab.optical import analyze_movie, plating_metrics
    from battlab.probes.workflow import analyse_approach
    from battlab.scattering.saxs import fit_saxs_series

    runs = {
        "side-view movie": lambda: analyze_movie(make_graphite_movie(n_frames=6, lithiation_frames=3).data["movie"],
                                                 pixel_size_um=1.0),
        "plating movie": lambda: plating_metrics(make_plating_movie(n_frames=4).data["movie"], pixel_size_um=0.5),
        "approach curves": lambda: analyse_approach(make_approach_curves().data, radius_um=5.0),
        "SAXS series": lambda: fit_saxs_series(make_saxs_series(n_curves=3).data),
    }
    run = runs[analysis]
    run()  # outside a superseded run it completes
    with pytest.raises(Cancelled):
        _superseded(run)
