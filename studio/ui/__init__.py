"""Qt only: windows, widgets and the worker thread. Reaches models only through engines."""
