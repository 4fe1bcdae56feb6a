"""Imaging foundation: lazy calibrated movies, frame timing against the cycler, drift.

``open_movie`` reads TIFF / OME-TIFF stacks, image sequences and AVI/MP4/MOV video into
a dask-backed ``xarray.DataArray`` (time, y, x, channel); ``per_frame_echem`` gives each
frame the cell's potential, current and charge; ``estimate_drift`` / ``apply_drift``
measure and undo stage drift.
"""

from battlab.imaging.drift import apply_drift, estimate_drift, phase_shift
from battlab.imaging.movie import frame_times_from_csv, open_movie
from battlab.imaging.timing import per_frame_echem

__all__ = ["open_movie", "frame_times_from_csv", "per_frame_echem", "estimate_drift", "apply_drift",
           "phase_shift"]
