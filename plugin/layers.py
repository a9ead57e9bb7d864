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

from . import tf_integer as ti
from .errors import UnsupportedError
from .integer_ops import (  # noqa: F401  (re-exported: the references of these layers)
    LayerNormSpec,
    check_exp_table,
    exp_table,
    reference_add_encoding,
    reference_affine,
    reference_layernorm,
    reference_softmax,
    signed_type,
    sinusoid_table,
    unsigned_unit_type,
)

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
        q = ti.codes(x, self.input_type)
        exact = ti.value(ti.integer_softmax(q, self._table, self.table_size, self.out_type), self.out_type)
        return ti.straight_through(tf.nn.softmax(x, axis=-1), exact)

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
        xq, pq = ti.codes(x, self.input_type), ti.codes(self.table, self.pe_type)
        frac = max(self.input_type.frac, self.pe_type.frac)
        total = xq * 2 ** (frac - self.input_type.frac) + pq * 2 ** (frac - self.pe_type.frac)
        exact = ti.value(ti.requantize(total, frac, self.out_type), self.out_type)
        return ti.straight_through(x + tf.cast(self.table, x.dtype), exact)

    def get_config(self):
        return {**super().get_config(), 'input_bits': self.input_bits, 'input_integer': self.input_integer,
                'pe_bits': self.pe_bits, 'pe_integer': self.pe_integer, 'output_bits': self.output_bits,
                'output_integer': self.output_integer, 'learned': self.learned}  # fmt: skip


# -- normalization ----------------------------------------------------------------------------


def _feature_weights(layer, n):
    layer.gamma = layer.add_weight('gamma', shape=(n,), initializer='ones')
    layer.beta = layer.add_weight('beta', shape=(n,), initializer='zeros')


@tf.keras.utils.register_keras_serializable(package='vhdlspartan')
class QLayerNormalization(tf.keras.layers.Layer):
    """Integer layer normalization over the last axis (see integer_ops.reference_layernorm).

    The input is cast to (input_bits, input_integer); the normalized value z, computed with an
    exact integer mean and variance and an inverse square root table of 2^table_bits entries of
    inv_bits, is cast to (norm_bits, norm_integer); then y = cast(z * gamma + beta) with gamma,
    beta quantized to (gamma_bits, gamma_integer), (beta_bits, beta_integer).
    """

    PARAMS = ('input_bits', 'input_integer', 'table_bits', 'inv_bits', 'norm_bits', 'norm_integer', 'gamma_bits',
              'gamma_integer', 'beta_bits', 'beta_integer', 'output_bits', 'output_integer')  # fmt: skip

    def __init__(self, input_bits=8, input_integer=3, table_bits=8, inv_bits=10, norm_bits=8, norm_integer=3,
                 gamma_bits=8, gamma_integer=1, beta_bits=8, beta_integer=1, output_bits=8, output_integer=3,
                 epsilon=1e-3, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        for key, val in zip(self.PARAMS, (input_bits, input_integer, table_bits, inv_bits, norm_bits, norm_integer,
                                          gamma_bits, gamma_integer, beta_bits, beta_integer, output_bits,
                                          output_integer)):  # fmt: skip
            setattr(self, key, int(val))
        self.epsilon = float(epsilon)  # the float (gradient) path only: V = 0 gives z = 0 exactly
        self.input_type = signed_type(self.input_bits, self.input_integer)
        self.gamma_type = signed_type(self.gamma_bits, self.gamma_integer)
        self.beta_type = signed_type(self.beta_bits, self.beta_integer)
        self.out_type = signed_type(self.output_bits, self.output_integer)

    def build(self, input_shape):
        n = int(input_shape[-1])
        self.spec = LayerNormSpec(n, self.input_type, self.table_bits, self.inv_bits,
                                  signed_type(self.norm_bits, self.norm_integer))  # fmt: skip
        self._table = tf.constant(self.spec.table(), tf.int64)
        _feature_weights(self, n)
        super().build(input_shape)

    def call(self, x):
        z = ti.integer_layernorm(ti.codes(x, self.input_type), self.spec, self._table)
        g, b = ti.codes(self.gamma, self.gamma_type), ti.codes(self.beta, self.beta_type)
        y = ti.affine(z, self.spec.z_type.frac, g, self.gamma_type.frac, b, self.beta_type.frac, self.out_type)
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        y_float = (x - mean) * tf.math.rsqrt(var + self.epsilon) * self.gamma + self.beta
        return ti.straight_through(y_float, ti.value(y, self.out_type))

    def get_config(self):
        return {**super().get_config(), **{k: getattr(self, k) for k in self.PARAMS}, 'epsilon': self.epsilon}


@tf.keras.utils.register_keras_serializable(package='vhdlspartan')
class QFoldedBatchNorm(tf.keras.layers.Layer):
    """BatchNormalization over the last (feature) axis, folded as the hardware runs it.

    Training uses batch statistics (and updates the moving ones) with the output quantized
    straight-through; inference computes y = cast(x * s + t) with the folded
    s = gamma / sqrt(moving_variance + epsilon), t = beta - moving_mean * s quantized to
    (scale_bits, scale_integer) and (shift_bits, shift_integer), x cast to (input_bits, input_integer).
    """

    PARAMS = ('input_bits', 'input_integer', 'scale_bits', 'scale_integer', 'shift_bits', 'shift_integer',
              'output_bits', 'output_integer')  # fmt: skip

    def __init__(self, input_bits=8, input_integer=3, scale_bits=8, scale_integer=2, shift_bits=8, shift_integer=2,
                 output_bits=8, output_integer=3, momentum=0.9, epsilon=1e-3, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        for key, val in zip(self.PARAMS, (input_bits, input_integer, scale_bits, scale_integer, shift_bits,
                                          shift_integer, output_bits, output_integer)):  # fmt: skip
            setattr(self, key, int(val))
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.input_type = signed_type(self.input_bits, self.input_integer)
        self.scale_type = signed_type(self.scale_bits, self.scale_integer)
        self.shift_type = signed_type(self.shift_bits, self.shift_integer)
        self.out_type = signed_type(self.output_bits, self.output_integer)

    def build(self, input_shape):
        n = int(input_shape[-1])
        _feature_weights(self, n)
        self.moving_mean = self.add_weight('moving_mean', shape=(n,), initializer='zeros', trainable=False)
        self.moving_variance = self.add_weight('moving_variance', shape=(n,), initializer='ones', trainable=False)
        super().build(input_shape)

    def folded(self, gamma, beta, mean, variance):
        """(scale, shift) in float64, the same operations in TensorFlow and NumPy (IEEE exact)."""
        sqrt = tf.sqrt if isinstance(gamma, tf.Tensor) else np.sqrt
        scale = gamma / sqrt(variance + self.epsilon)
        return scale, beta - mean * scale

    def call(self, x, training=None):
        if training:
            axes = list(range(len(x.shape) - 1))
            mean, var = tf.nn.moments(x, axes=axes)
            self.moving_mean.assign(self.momentum * self.moving_mean + (1 - self.momentum) * mean)
            self.moving_variance.assign(self.momentum * self.moving_variance + (1 - self.momentum) * var)
            y_float = (x - mean) * tf.math.rsqrt(var + self.epsilon) * self.gamma + self.beta
            return ti.straight_through(y_float, ti.value(ti.codes(y_float, self.out_type), self.out_type))
        f64 = [tf.cast(w, tf.float64) for w in (self.gamma, self.beta, self.moving_mean, self.moving_variance)]
        scale, shift = self.folded(*f64)
        s, t = ti.codes(scale, self.scale_type), ti.codes(shift, self.shift_type)
        y = ti.affine(ti.codes(x, self.input_type), self.input_type.frac, s, self.scale_type.frac, t,
                      self.shift_type.frac, self.out_type)  # fmt: skip
        y_float = x * tf.cast(scale, x.dtype) + tf.cast(shift, x.dtype)
        return ti.straight_through(y_float, ti.value(y, self.out_type))

    def get_config(self):
        return {**super().get_config(), **{k: getattr(self, k) for k in self.PARAMS}, 'momentum': self.momentum,
                'epsilon': self.epsilon}  # fmt: skip


# -- pooling ----------------------------------------------------------------------------------


@tf.keras.utils.register_keras_serializable(package='vhdlspartan')
class QGlobalAveragePooling1D(tf.keras.layers.Layer):
    """Average over time of (batch, window, features): the input cast to (input_bits, input_integer),
    the exact sum, the exact quotient by the window rounded once (half to even) to
    (output_bits, output_integer)."""

    PARAMS = ('input_bits', 'input_integer', 'output_bits', 'output_integer')

    def __init__(self, input_bits=8, input_integer=3, output_bits=8, output_integer=3, **kwargs):
        super().__init__(**kwargs)
        for key, val in zip(self.PARAMS, (input_bits, input_integer, output_bits, output_integer)):
            setattr(self, key, int(val))
        self.input_type = signed_type(self.input_bits, self.input_integer)
        self.out_type = signed_type(self.output_bits, self.output_integer)

    def call(self, x):
        total = tf.reduce_sum(ti.codes(x, self.input_type), axis=1)
        shift = self.out_type.frac - self.input_type.frac
        den = tf.constant(int(x.shape[1]) << max(-shift, 0), tf.int64)
        q = ti.round_half_even_div(total * 2 ** max(shift, 0), den)
        exact = ti.value(tf.clip_by_value(q, self.out_type.min_int, self.out_type.max_int), self.out_type)
        return ti.straight_through(tf.reduce_mean(x, axis=1), exact)

    def get_config(self):
        return {**super().get_config(), **{k: getattr(self, k) for k in self.PARAMS}}


from .attention import QMultiHeadSelfAttention, reference_attention  # noqa: E402,F401  (a layer of this module)


def _register_with_hls4ml():
    """hls4ml parses these layers once this module is imported (hls4ml is imported here if it
    was not: its plugin loading needs nothing from this module)."""
    import hls4ml  # noqa: F401

    from .handlers import register_handlers

    register_handlers()


_register_with_hls4ml()

