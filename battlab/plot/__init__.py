"""Figure builders: pure functions from battlab tables to HoloViews objects.

Nothing here displays anything; apps render the objects, users can ``hv.save`` them.
"""

from battlab.plot import cv
from battlab.plot import cycling
from battlab.plot import diffraction
from battlab.plot import eis
from battlab.plot import gitt
from battlab.plot import optical
from battlab.plot import sensors
from battlab.plot import series
from battlab.plot import spectra
from battlab.plot._core import to_html

__all__ = ["cv", "cycling", "diffraction", "eis", "gitt", "optical", "sensors", "series", "spectra", "to_html"]
