"""Figure builders: pure functions from battlab tables to HoloViews objects.

Nothing here displays anything; apps render the objects, users can ``hv.save`` them.
"""

from battlab.plot import cycling
from battlab.plot._core import to_html

__all__ = ["cycling", "to_html"]
