"""Errors the plugin raises for input it cannot honour."""


class UnsupportedError(ValueError):
    """A layer, quantizer, precision, part or configuration VHDLSpartan cannot implement.

    The message names the offending thing and what is supported.
    """


class TimingWarning(UserWarning):
    """ClockPeriod is shorter than the design's estimated worst register-to-register path."""
