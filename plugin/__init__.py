"""hls4ml-vhdlspartan: an hls4ml backend that writes bit-exact, synthesizable VHDL for small
AMD 7-series FPGAs (first the Spartan-7 XC7S15).

Installing the package registers the backend 'VHDLSpartan' with hls4ml through the
``hls4ml.backends`` entry point, which calls `register`.
"""

__version__ = '0.1.0'
BACKEND_NAME = 'VHDLSpartan'


def register(register_backend, register_writer):
    """hls4ml plugin hook: the writer first, under the backend's name (FPGABackend looks it up)."""
    from .vhdl_backend.backend import VHDLSpartanBackend
    from .vhdl_backend.writer import VHDLSpartanWriter

    register_writer(BACKEND_NAME, VHDLSpartanWriter)
    register_backend(BACKEND_NAME, VHDLSpartanBackend)
