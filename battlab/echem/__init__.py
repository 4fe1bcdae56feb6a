"""Electroanalytical methods: galvanostatic cycling (and, later, CV, EIS, GITT)."""

from battlab.echem import cv, cycling, eis
from battlab.echem import gitt

__all__ = ["cv", "cycling", "eis", "gitt"]
