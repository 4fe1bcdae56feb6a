"""The format registry: restricting a load to one kind of data."""

import pytest

import battlab
from battlab.errors import UnsupportedFormatError


def test_kind_filter_refuses_a_diffraction_file_for_an_echem_analysis(real_data):
    path = real_data / "xrd" / "yadg_210520step1_30min.csv"
    pattern = battlab.load(path)
    assert pattern.attrs["battlab"]["format"].startswith("xrd") or "two_theta_deg" in pattern.dims
    with pytest.raises(UnsupportedFormatError, match="diffraction pattern.*electrochemistry record"):
        battlab.load(path, kind="echem")


def test_kind_filter_keeps_files_of_the_wanted_kind(real_data):
    data = battlab.load(real_data / "biologic" / "yadg_cv.mpt", kind="echem")
    assert {"test_time_s", "voltage_V", "current_A"} <= set(data.columns)
    with pytest.raises(UnsupportedFormatError, match="needs a diffraction pattern"):
        battlab.load(real_data / "biologic" / "yadg_cv.mpt", kind="xrd")


def test_forced_format_of_the_wrong_kind_is_refused(real_data):
    with pytest.raises(UnsupportedFormatError, match="this analysis needs"):
        battlab.load(real_data / "biologic" / "yadg_cv.mpt", format="biologic-mpt", kind="xrd")
