"""X-ray microscopy and tomography: volumes, segmentation, microstructure metrics,
tortuosity, reconstruction for teaching, XANES chemical maps and calculators."""

from battlab.xrm.io import VOLUME_SUFFIXES, make_volume, open_volume, write_zarr_volume

__all__ = ["VOLUME_SUFFIXES", "make_volume", "open_volume", "write_zarr_volume"]
