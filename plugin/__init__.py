"""hls4ml-vhdlspartan: an hls4ml backend that writes bit-exact, synthesizable VHDL for small
AMD 7-series FPGAs (first the Spartan-7 XC7S15).

Installing the package registers the backend 'VHDLSpartan' with hls4ml through the
``hls4ml.backends`` entry point, which calls `register`.
"""

import importlib.abc
import sys

__version__ = '0.1.0'
BACKEND_NAME = 'VHDLSpartan'


def register(register_backend, register_writer):
    """hls4ml plugin hook: the writer first, under the backend's name (FPGABackend looks it up)."""
    from .vhdl_backend.backend import VHDLSpartanBackend
    from .vhdl_backend.writer import VHDLSpartanWriter

    register_writer(BACKEND_NAME, VHDLSpartanWriter)
    register_backend(BACKEND_NAME, VHDLSpartanBackend)
    _register_qkeras_objects()
    sys.meta_path.insert(0, _RegisterParsersWhenReady())


class _RegisterParsersWhenReady(importlib.abc.MetaPathFinder):
    """Imports vhdlspartan.layers, which registers its Keras layers and the parsers of them and of
    tf.keras MultiHeadAttention, as soon as
    hls4ml's Keras converter module has finished importing: plugins load in the middle of it,
    when its handler registry does not exist yet. It watches the next imports, acts once, and
    leaves; it never finds a module itself."""

    def find_spec(self, name, path=None, target=None):
        converter = sys.modules.get('hls4ml.converters.keras_v2_to_hls')
        if converter is not None and hasattr(converter, 'get_supported_keras_layers'):
            sys.meta_path.remove(self)
            from . import layers  # noqa: F401  (Keras can load them by name; registers their parsers)
        return None


def _register_qkeras_objects():
    """Let keras.models.load_model read QKeras layers without custom_objects, as hls4ml's
    YAML flow (`KerasModel: !keras_model model.h5`, `hls4ml convert`) loads models."""
    import tensorflow as tf
    from qkeras.utils import _add_supported_quantized_objects

    objects = {}
    _add_supported_quantized_objects(objects)
    tf.keras.utils.get_custom_objects().update(objects)


def load_model(path):
    """Load a saved Keras model (HDF5) with QKeras and vhdlspartan layers, e.g. the tuner's."""
    import tensorflow as tf

    from . import layers  # noqa: F401  (registers vhdlspartan's layers with Keras)
    from .quiet import quiet_keras

    _register_qkeras_objects()
    with quiet_keras():
        return tf.keras.models.load_model(path, compile=False)
