"""Quantized Keras layers for integer-only Transformers (tf.keras 2.14).

The forward pass of each layer computes exactly the integers the hardware computes (the
NumPy reference in ``reference_*`` below, built on `vhdlspartan.fixed`); gradients pass
straight through the float version of the same function, so quantization-aware training
trains what the FPGA runs. Quantizer parameters follow QKeras' quantized_bits: ``bits``
in all, ``integer`` bits above the binary point, a sign bit; rounding half to even and
saturation (hls4ml's RND_CONV/SAT for activations).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .errors import UnsupportedError
from .fixed import FixedType
from .integer_ops import (  # noqa: F401  (re-exported: the references of these layers)
    check_exp_table,
    exp_table,
    reference_add_encoding,
    reference_softmax,
    signed_type,
    sinusoid_table,
    unsigned_unit_type,
)

def _quantize_tf(x, t: FixedType):
    """Integer codes (as float64) of x cast to t: round half to even, saturate."""
    q = tf.round(tf.cast(x, tf.float64) * (2.0**t.frac))
    return tf.clip_by_value(q, float(t.min_int), float(t.max_int))


def _straight_through(x_float, y_exact):
    return x_float + tf.stop_gradient(tf.cast(y_exact, x_float.dtype) - x_float)


# -- softmax ----------------------------------------------------------------------------------


@tf.keras.utils.register_keras_serializable(package='vhdlspartan')
class QSoftmax(tf.keras.layers.Layer):
    """Integer softmax over the last axis.

    input (input_bits, input_integer): the grid the scores are cast to first;
    exp_bits: bits of the exp table entries (values in [0, 1]); table_size: entries;
    output_bits: bits of the probabilities (values in [0, 1]).
    """

    def __init__(self, input_bits=8, input_integer=3, exp_bits=8, table_size=256, output_bits=8, **kwargs):
        super().__init__(**kwargs)
        self.input_bits, self.input_integer = int(input_bits), int(input_integer)
        self.exp_bits, self.table_size, self.output_bits = int(exp_bits), int(table_size), int(output_bits)
        self.input_type = signed_type(self.input_bits, self.input_integer)
        self.exp_type = unsigned_unit_type(self.exp_bits)
        self.out_type = unsigned_unit_type(self.output_bits)
        check_exp_table(self.input_type, self.exp_type, self.table_size, f'QSoftmax {self.name!r}')
        self._table = tf.constant(exp_table(self.input_type, self.exp_type, self.table_size), tf.int64)

    def call(self, x):
        q = tf.cast(_quantize_tf(x, self.input_type), tf.int64)
        dist = tf.minimum(tf.reduce_max(q, axis=-1, keepdims=True) - q, self.table_size - 1)
        e = tf.gather(self._table, dist)
        den = tf.reduce_sum(e, axis=-1, keepdims=True)
        num = e * 2**self.out_type.frac
        quo = tf.math.floordiv(num, den)
        rem = num - quo * den
        up = (2 * rem > den) | ((2 * rem == den) & (tf.math.floormod(quo, 2) == 1))  # half to even
        codes = tf.minimum(quo + tf.cast(up, tf.int64), self.out_type.max_int)
        exact = tf.cast(codes, tf.float64) * 2.0**-self.out_type.frac
        return _straight_through(tf.nn.softmax(x, axis=-1), exact)

    def get_config(self):
        return {**super().get_config(), 'input_bits': self.input_bits, 'input_integer': self.input_integer,
                'exp_bits': self.exp_bits, 'table_size': self.table_size, 'output_bits': self.output_bits}  # fmt: skip


# -- positional encoding ------------------------------------------------------------------------


@tf.keras.utils.register_keras_serializable(package='vhdlspartan')
class QPositionalEncoding(tf.keras.layers.Layer):
    """Adds a quantized positional encoding to (batch, window, d_model) inputs.

    The input is cast to (input_bits, input_integer), the table to (pe_bits, pe_integer); the
    exact sum is cast to (output_bits, output_integer). ``learned=True`` makes the table a
    trainable weight initialised with the sin/cos encoding (quantized in the forward pass).
    """

    def __init__(self, input_bits=8, input_integer=2, pe_bits=8, pe_integer=0, output_bits=8, output_integer=2,
                 learned=False, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.input_bits, self.input_integer = int(input_bits), int(input_integer)
        self.pe_bits, self.pe_integer = int(pe_bits), int(pe_integer)
        self.output_bits, self.output_integer = int(output_bits), int(output_integer)
        self.learned = bool(learned)
        self.input_type = signed_type(self.input_bits, self.input_integer)
        self.pe_type = signed_type(self.pe_bits, self.pe_integer)
        self.out_type = signed_type(self.output_bits, self.output_integer)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise UnsupportedError(f'QPositionalEncoding {self.name!r}: input shape {input_shape}; use (batch, window, d_model)')
        window, d_model = int(input_shape[1]), int(input_shape[2])
        init = tf.keras.initializers.Constant(sinusoid_table(window, d_model))
        self.table = self.add_weight('table', shape=(window, d_model), initializer=init, trainable=self.learned)
        super().build(input_shape)

    def table_codes(self) -> np.ndarray:
        """The table as pe_type codes (what the hardware ROM holds)."""
        return self.pe_type.from_float(self.table.numpy())

    def call(self, x):
        xq = _quantize_tf(x, self.input_type)
        pq = _quantize_tf(self.table, self.pe_type)
        frac = max(self.input_type.frac, self.pe_type.frac)
        total = xq * 2.0 ** (frac - self.input_type.frac) + pq * 2.0 ** (frac - self.pe_type.frac)
        exact = _quantize_tf(total * 2.0**-frac, self.out_type) * 2.0**-self.out_type.frac
        return _straight_through(x + tf.cast(self.table, x.dtype), exact)

    def get_config(self):
        return {**super().get_config(), 'input_bits': self.input_bits, 'input_integer': self.input_integer,
                'pe_bits': self.pe_bits, 'pe_integer': self.pe_integer, 'output_bits': self.output_bits,
                'output_integer': self.output_integer, 'learned': self.learned}  # fmt: skip


def _register_with_hls4ml():
    """hls4ml parses these layers once this module is imported (hls4ml is imported here if it
    was not: its plugin loading needs nothing from this module)."""
    import hls4ml  # noqa: F401

    from .handlers import register_handlers

    register_handlers()


_register_with_hls4ml()
