"""Resource model: the device table now; analytical estimates and the tuner build on it."""

from .devices import DEVICES, Device, get_device  # noqa: F401
