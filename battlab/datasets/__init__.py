"""Deterministic demo data with known ground truth, one generator per technique.

Every generator returns a :class:`Demo`: the data in battlab's canonical form, plus
``truth``, the parameters and exact answers the analysis must recover. The apps load
these when no file is given, so every notebook runs offline with no setup.
"""

from battlab.datasets._base import Demo
from battlab.datasets.cycling import graphite_ocv, make_cycling

__all__ = ["Demo", "make_cycling", "graphite_ocv", "load_demo", "DEMOS"]

#: Demo name -> (generator, description) for the app pickers.
DEMOS = {
    "graphite half cell (100 cycles, rate test)": (make_cycling, "cycling"),
}


def load_demo(name: str = "graphite half cell (100 cycles, rate test)") -> Demo:
    """Build a named demo dataset (deterministic)."""
    from battlab.errors import InvalidParameterError

    if name not in DEMOS:
        raise InvalidParameterError(f"unknown demo {name!r}; choose one of {list(DEMOS)}.")
    return DEMOS[name][0]()
