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
    _register_qkeras_objects()
    # The Keras handlers of vhdlspartan.layers are registered when that module is imported:
    # hls4ml's converters are still being imported while plugins load.


def _register_qkeras_objects():
    """Let keras.models.load_model read QKeras layers without custom_objects, as hls4ml's
    YAML flow (`KerasModel: !keras_model model.h5`, `hls4ml convert`) loads models."""
    import tensorflow as tf
    from qkeras.utils import _add_supported_quantized_objects

    objects = {}
    _add_supported_quantized_objects(objects)
    tf.keras.utils.get_custom_objects().update(objects)
