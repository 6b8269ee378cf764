"""Measurement and calibration scripts (run by hand with data folders; never at run time)."""
