"""The canonical electrochemistry time-series schema.

Every cycler reader returns a :class:`pandas.DataFrame` with these columns (names carry
units) so that analyses never see vendor names. The labels map one to one onto the
Battery Data Format (BDF) so a table round-trips through :func:`battlab.io.write_bdf_csv`.

Current sign convention
-----------------------
``current_A > 0`` is *charging* the cell: oxidation at the working electrode, the
working-electrode potential is pushed up. For a graphite or silicon half cell this is
delithiation; for a full cell or a cathode half cell it is charge. ``current_A < 0`` is
discharge (lithiation of an anode half cell). Readers convert vendor conventions
(for example Maccor's unsigned current with a C/D state column) onto this one.

Impedance
---------
Impedance tables (EIS) carry ``frequency_Hz``, ``z_real_ohm`` and ``z_imag_ohm`` where
``z_imag_ohm`` is Im(Z) with its true sign (negative for a capacitive arc); plots show
−Z″ upward. Readers of files that store −Im(Z) (EC-Lab) or |Z| and phase convert onto
this convention and say so in the notes. In a time series the EIS rows may sit among
other rows; rows without a frequency are not impedance points.

Vendor columns that have no canonical meaning are kept under their original names;
``df.attrs["battlab"]["column_map"]`` records which vendor column became which
canonical one.
"""

from __future__ import annotations

__all__ = [
    "TEST_TIME",
    "UNIX_TIME",
    "VOLTAGE",
    "CURRENT",
    "CYCLE",
    "STEP",
    "HALF_CYCLE",
    "TEMPERATURE",
    "FREQUENCY",
    "Z_REAL",
    "Z_IMAG",
    "EIS_COLUMNS",
    "REQUIRED_COLUMNS",
    "BDF_LABELS",
    "empty_metadata",
]

TEST_TIME = "test_time_s"
UNIX_TIME = "unix_time_s"
VOLTAGE = "voltage_V"
CURRENT = "current_A"
CYCLE = "cycle"
STEP = "step"
HALF_CYCLE = "half_cycle"
TEMPERATURE = "temperature_degC"
CHARGE_CAPACITY = "charge_capacity_Ah"
DISCHARGE_CAPACITY = "discharge_capacity_Ah"
FREQUENCY = "frequency_Hz"
Z_REAL = "z_real_ohm"
Z_IMAG = "z_imag_ohm"  # Im(Z), true sign: negative for capacitive behaviour

REQUIRED_COLUMNS = (TEST_TIME, VOLTAGE, CURRENT)
EIS_COLUMNS = (FREQUENCY, Z_REAL, Z_IMAG)

#: battlab column -> Battery Data Format label.
BDF_LABELS = {
    TEST_TIME: "Test Time / s",
    UNIX_TIME: "Unix Time / s",
    VOLTAGE: "Voltage / V",
    CURRENT: "Current / A",
    CYCLE: "Cycle Count / 1",
    STEP: "Step Count / 1",
    HALF_CYCLE: "Half Cycle Count / 1",
    TEMPERATURE: "Ambient Temperature / degC",
    CHARGE_CAPACITY: "Charging Capacity / Ah",
    DISCHARGE_CAPACITY: "Discharging Capacity / Ah",
}


def empty_metadata(*, format_name: str, source_name: str, sha256: str) -> dict:
    """The ``df.attrs["battlab"]`` record every reader fills in."""
    return {
        "format": format_name,
        "source_name": source_name,
        "sha256": sha256,
        "technique": None,  # e.g. "cycling", "cv", "gitt", "eis", "ocv", "cp" when the file says
        "start_time_utc": None,  # ISO 8601 string when the file has an absolute clock
        "column_map": {},  # vendor column -> battlab column
        "notes": [],  # plain-language remarks about repairs or assumptions
    }
