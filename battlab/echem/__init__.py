"""Electroanalytical methods: galvanostatic cycling (and, later, CV, EIS, GITT)."""

from battlab.echem import cycling

__all__ = ["cycling"]
