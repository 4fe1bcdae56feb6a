"""Operando sensors recorded next to the electrochemistry.

- :mod:`~battlab.sensors.eqcm`: quartz crystal microbalance: Sauerbrey mass, mass per
  electron, viscoelastic (dissipation) check;
- :mod:`~battlab.sensors.dilatometry`: electrode thickness change, reversible and
  irreversible expansion per cycle, comparison of electrodes;
- :mod:`~battlab.sensors.stress`: MOSS curvature → film stress (Stoney), stress per cycle;
- :mod:`~battlab.sensors.acoustic`: acoustic-emission hits from waveforms or hit lists,
  hit statistics on the cycling and frequency clustering of hit types.

All of them read generic sensor tables (:func:`read_sensor_table`) and are put on the
cycling timeline by :func:`align_to_cycling` (as-of join of labels, interpolated charge,
clock offset), whose tidy output is what the correlation notebook reads.
"""

from importlib import import_module

# Lazy, so that the command line can register ``battlab sensors`` without importing
# numpy/pandas on every call.
_LAZY = {
    "read_sensor_table": "_io", "SensorRun": "_io", "KINDS": "_io", "SENSOR_COLUMNS": "_io",
    # The timeline join serves every technique; it lives in battlab.correlate.
    "align_to_cycling": "battlab.correlate.timeline", "charge_timeline": "battlab.correlate.timeline",
    "FARADAY_C_MOL": "battlab.correlate.timeline",
    "analyze": "_pipeline", "SensorResult": "_pipeline", "DEFAULTS": "_pipeline",
}
_SUBMODULES = {"eqcm", "dilatometry", "stress", "acoustic"}

__all__ = ["read_sensor_table", "SensorRun", "KINDS", "SENSOR_COLUMNS", "align_to_cycling", "charge_timeline",
           "analyze", "SensorResult", "DEFAULTS", "FARADAY_C_MOL", "eqcm", "dilatometry", "stress", "acoustic"]


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module(f"battlab.sensors.{name}")
    if name in _LAZY:
        module = _LAZY[name]
        return getattr(import_module(module if "." in module else f"battlab.sensors.{module}"), name)
    raise AttributeError(f"module 'battlab.sensors' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
