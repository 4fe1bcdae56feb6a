"""Unit mix-ups give an explicit warning (in the library and on the app page), never a silent result.

A millivolt voltage column, a millisecond clock and a millihertz frequency column read in
the base unit all still give numbers; battlab says which column looks wrong and how to load
it, and the numbers it gives are the same as without the warning (deterministic).
"""

import datetime
import warnings

import numpy as np
import pytest

from battlab.apps import CyclingApp
from battlab.datasets import make_cycling, make_randles
from battlab.echem.cycling import clean_timeseries, summarize_cycles
from battlab.echem.eis import impedance_from_table
from battlab.errors import BattlabWarning
from battlab.io import write_bdf_csv


def _messages(func, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BattlabWarning)
        result = func(*args)
    return result, [str(w.message) for w in caught if issubclass(w.category, BattlabWarning)]


@pytest.fixture(scope="module")
def cycling():
    return make_cycling(n_cycles=3).data


def test_a_table_in_the_right_units_gets_no_unit_warning(cycling):
    _, messages = _messages(clean_timeseries, cycling)
    assert not [m for m in messages if "millivolts" in m or "milliseconds" in m]


def test_millivolts_read_as_volts_are_named(cycling):
    in_mV = cycling.assign(voltage_V=cycling["voltage_V"] * 1000)
    _, messages = _messages(clean_timeseries, in_mV)
    [message] = [m for m in messages if "millivolts" in m]
    assert "voltage_unit='mV'" in message and "V, beyond any cell" in message


def test_a_millisecond_clock_is_named_and_the_numbers_stay_deterministic(cycling):
    in_ms = cycling.assign(test_time_s=cycling["test_time_s"] * 1000)
    first, messages = _messages(summarize_cycles, in_ms)
    assert any("milliseconds" in m and "time_unit='ms'" in m for m in messages)
    again, _ = _messages(summarize_cycles, in_ms)
    assert first.equals(again)
    # The warning is what tells the user: capacities from a ms clock are 1000× the true ones (±0.1 %).
    right, _ = _messages(summarize_cycles, cycling)
    np.testing.assert_allclose(first["charge_capacity_mAh"], 1000 * right["charge_capacity_mAh"], rtol=1e-3)


def test_millihertz_read_as_hertz_is_named():
    table = make_randles(frequency_Hz=np.logspace(6, -2, 50)).data  # 1 MHz to 10 mHz, a real analyser's span
    _, messages = _messages(impedance_from_table, table)
    assert not [m for m in messages if "mHz" in m]
    _, messages = _messages(impedance_from_table, table.assign(frequency_Hz=table["frequency_Hz"] * 1e3))
    assert any("looks like mHz" in m for m in messages)


def test_the_app_shows_the_warning_on_the_page_and_forgets_it_with_new_data(cycling, tmp_path):
    app = CyclingApp()
    assert "millivolts" not in app.notices.value
    path = write_bdf_csv(cycling.assign(voltage_V=cycling["voltage_V"] * 1000), tmp_path / "cell in mV.csv")
    content = path.read_bytes()
    app.upload.value = ({"name": "cell in mV.csv", "type": "", "size": len(content), "content": memoryview(content),
                         "last_modified": datetime.datetime.now()},)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.notices.layout.display != "none" and "millivolts" in app.notices.value
    app.window_mV.value = app.window_mV.value * 2  # a control move keeps the data's notes
    assert "millivolts" in app.notices.value
    app._load_demo(next(iter(app.demos())))
    assert "millivolts" not in app.notices.value


def test_a_pixel_size_in_the_wrong_unit_is_named():
    from battlab.datasets.optical import make_graphite_movie
    from battlab.optical import analyze_movie

    demo = make_graphite_movie(n_frames=6, lithiation_frames=4)
    movie = demo.data["movie"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", BattlabWarning)  # the right unit: no unit warning
        analyze_movie(movie, pixel_size_um=0.5, separator="left")
    # 500 "µm"/px (the microscope's 500 nm/px typed into the µm field): named, and the numbers
    # are the right ones scaled by the factor given (deterministic, not silently "corrected")
    with pytest.warns(BattlabWarning, match="nm given as µm"):
        wrong = analyze_movie(movie, pixel_size_um=500.0, separator="left")
    right = analyze_movie(movie, pixel_size_um=0.5, separator="left")
    np.testing.assert_allclose(wrong.frames["thickness_um"], 1000 * right.frames["thickness_um"], rtol=1e-12)
    with pytest.warns(BattlabWarning, match="mm given as µm"):
        analyze_movie(movie, pixel_size_um=0.0005, separator="left")
