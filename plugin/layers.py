"""Quantized Keras layers for integer-only Transformers (tf.keras 2.14).

The forward pass of each layer computes exactly the integers the hardware computes (the
NumPy reference in ``reference_*`` below, built on `vhdlspartan.fixed`); gradients pass
straight through the float version of the same function, so quantization-aware training
trains what the FPGA runs. Quantizer parameters follow QKeras' quantized_bits: ``bits``
in all, ``integer`` bits above the binary point, a sign bit; rounding half to even and
saturation (hls4ml's RND_CONV/SAT for activations).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from .errors import UnsupportedError
from .fixed import FixedType, divide_requantize, requantize

MAX_TABLE_SIZE = 4096  # entries of an exp table kept in one ROM


def signed_type(bits: int, integer: int) -> FixedType:
    """QKeras quantized_bits(bits, integer) as a fixed-point type."""
    if bits < 2 or integer < 0 or integer >= bits:
        raise UnsupportedError(f'quantizer ({bits}, {integer}) is not valid; use bits >= 2 and 0 <= integer < bits')
    return FixedType(bits, bits - integer - 1, True, 'RND_CONV', 'SAT')


def unsigned_unit_type(bits: int) -> FixedType:
    """Values in [0, 1]: one integer bit, so that 1.0 itself is representable."""
    return FixedType(bits, bits - 1, False, 'RND_CONV', 'SAT')


def _quantize_tf(x, t: FixedType):
    """Integer codes (as float64) of x cast to t: round half to even, saturate."""
    q = tf.round(tf.cast(x, tf.float64) * (2.0**t.frac))
    return tf.clip_by_value(q, float(t.min_int), float(t.max_int))


def _straight_through(x_float, y_exact):
    return x_float + tf.stop_gradient(tf.cast(y_exact, x_float.dtype) - x_float)


# -- softmax ----------------------------------------------------------------------------------


def exp_table(input_type: FixedType, exp_type: FixedType, table_size: int) -> np.ndarray:
    """exp(-k * LSB) for k = 0..table_size-1, as exp_type codes."""
    k = np.arange(table_size, dtype=np.float64)
    return exp_type.from_float(np.exp(-k * 2.0**-input_type.frac))


def exp_zero_index(input_type: FixedType, exp_type: FixedType) -> int:
    """The first distance whose exp entry rounds to 0 (every larger distance is 0 too)."""
    k = math.ceil((exp_type.frac + 1) * math.log(2) * 2.0**input_type.frac)  # exp(-k LSB) <= 1/2 LSB
    while k > 0 and exp_table(input_type, exp_type, k)[-1] == 0:  # float rounding at the edge
        k -= 1
    while exp_table(input_type, exp_type, k + 1)[-1] != 0:
        k += 1
    return k


def check_exp_table(input_type: FixedType, exp_type: FixedType, table_size: int, what: str) -> None:
    """The table must reach the index where exp rounds to 0, or clamping changes results."""
    if not 2 <= table_size <= MAX_TABLE_SIZE:
        raise UnsupportedError(f'{what}: table_size {table_size} is not valid; use 2..{MAX_TABLE_SIZE}')
    needed = exp_zero_index(input_type, exp_type) + 1
    if table_size < needed:
        raise UnsupportedError(
            f'{what}: table_size {table_size} is too small for input {input_type} and exp {exp_type}: '
            f'exp is non-zero up to distance {needed - 2}; use table_size >= {needed} (or fewer exp bits, '
            'or fewer input fraction bits)'
        )


def reference_softmax(q_in: np.ndarray, input_type: FixedType, exp_type: FixedType, out_type: FixedType,
                      table_size: int) -> np.ndarray:  # fmt: skip
    """Integer softmax over the last axis: distance to the row maximum, exp by table (index
    clamped to the last entry), exact sum, each entry's exact quotient cast once to out_type."""
    table = exp_table(input_type, exp_type, table_size)
    q = np.asarray(q_in, dtype=np.int64)
    dist = np.minimum(q.max(axis=-1, keepdims=True) - q, table_size - 1)
    e = table[dist]
    total = e.sum(axis=-1, keepdims=True)
    num, den = e << out_type.frac, total  # e / total is a ratio: its code at out_type's scale
    out = np.empty_like(e)
    flat_num, flat_den, flat_out = num.reshape(-1, num.shape[-1]), den.reshape(-1, 1), out.reshape(-1, out.shape[-1])
    for r in range(flat_num.shape[0]):  # divide_requantize takes one divisor
        flat_out[r] = divide_requantize(flat_num[r], int(flat_den[r, 0]), out_type)
    return out


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


def sinusoid_table(window: int, d_model: int) -> np.ndarray:
    """The fixed sin/cos encoding (Vaswani et al.): even features sin, odd features cos."""
    pos = np.arange(window, dtype=np.float64)[:, None]
    i = np.arange(d_model, dtype=np.float64)[None, :]
    angle = pos / np.power(10000.0, (2 * (i // 2)) / d_model)
    return np.where(i % 2 == 0, np.sin(angle), np.cos(angle))


def reference_add_encoding(q_in, table_codes, input_type, pe_type, out_type):
    """(x + pe): the exact sum on the finer scale, cast once to out_type."""
    frac = max(input_type.frac, pe_type.frac)
    total = (np.asarray(q_in, np.int64) << (frac - input_type.frac)) + (table_codes << (frac - pe_type.frac))
    return requantize(total, frac, out_type)


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
