"""TensorFlow twins of the integer functions in `vhdlspartan.integer_ops` and `vhdlspartan.fixed`.

The quantized Keras layers compute their forward pass with these (int64 codes, or float64
values that are exact dyadic rationals), so the numbers Keras produces are the integers the
hardware produces; `straight_through` gives them the gradient of the float function.
"""

from __future__ import annotations

import tensorflow as tf

from .fixed import FixedType


def quantize(x, t: FixedType):
    """Integer codes (as float64) of real x cast to t: round half to even, saturate."""
    q = tf.round(tf.cast(x, tf.float64) * (2.0**t.frac))
    return tf.clip_by_value(q, float(t.min_int), float(t.max_int))


def codes(x, t: FixedType):
    """Integer codes (int64) of real x cast to t."""
    return tf.cast(quantize(x, t), tf.int64)


def value(q, t: FixedType):
    """Real value (float64) of int64 codes of t."""
    return tf.cast(q, tf.float64) * 2.0**-t.frac


def straight_through(x_float, y_exact):
    """y_exact in the forward pass, the gradient of x_float in the backward pass. (x - x is exactly 0,
    so the forward value is y_exact itself; x + (y - x) would round in float32.)"""
    return tf.stop_gradient(tf.cast(y_exact, x_float.dtype)) + (x_float - tf.stop_gradient(x_float))


def round_half_even_div(num, den):
    """num / den (int64, den > 0) rounded half to even."""
    quo = tf.math.floordiv(num, den)
    rem = num - quo * den
    up = (2 * rem > den) | ((2 * rem == den) & (tf.math.floormod(quo, 2) == 1))
    return quo + tf.cast(up, tf.int64)


def requantize(v, frac: int, t: FixedType):
    """Cast int64 v standing for v * 2^-frac to t (t rounds half to even and saturates)."""
    if (t.rounding, t.saturation) != ('RND_CONV', 'SAT'):  # the layers' own types only
        raise ValueError(f'requantize in TensorFlow supports RND_CONV, SAT types, not {t}')
    shift = frac - t.frac
    q = v * (2**-shift) if shift <= 0 else round_half_even_div(v, tf.constant(2**shift, tf.int64))
    return tf.clip_by_value(q, t.min_int, t.max_int)


def integer_softmax(q, table, table_size: int, out_type: FixedType):
    """reference_softmax on int64 codes q (last axis) with the exp table (int64 tensor)."""
    dist = tf.minimum(tf.reduce_max(q, axis=-1, keepdims=True) - q, table_size - 1)
    e = tf.gather(table, dist)
    den = tf.reduce_sum(e, axis=-1, keepdims=True)
    return tf.minimum(round_half_even_div(e * 2**out_type.frac, den), out_type.max_int)


def bit_length(v):
    """Bit length of non-negative int64 values (0 for 0)."""
    powers = tf.constant([1 << k for k in range(63)], tf.int64)
    return tf.reduce_sum(tf.cast(v[..., None] >= powers, tf.int64), axis=-1)


def integer_layernorm(q, spec, table):
    """reference_layernorm on int64 codes q (last axis spec.n long)."""
    s = tf.reduce_sum(q, axis=-1, keepdims=True)
    d = spec.n * q - s
    v = tf.reduce_sum(d * d, axis=-1, keepdims=True) + spec.v_add
    over = bit_length(v) - spec.table_bits
    sh = over + tf.bitwise.bitwise_and(over, 1)  # rounded up to even
    idx = tf.where(sh >= 0, tf.bitwise.right_shift(v, tf.maximum(sh, 0)), tf.bitwise.left_shift(v, tf.maximum(-sh, 0)))
    inv = tf.gather(table, idx)
    p = tf.bitwise.left_shift(d * inv, spec.e_max - tf.math.floordiv(sh, 2))
    return requantize(p, spec.inv_frac + spec.e_max, spec.z_type)


def cast_sum(acc, acc_frac: int, bias, b_frac: int, out_type: FixedType, extra_shift: int = 0):
    """integer_ops.cast_sum on int64 tensors."""
    frac = max(acc_frac, b_frac)
    return requantize(acc * 2 ** (frac - acc_frac) + bias * 2 ** (frac - b_frac), frac + extra_shift, out_type)


def affine(z, z_frac: int, gamma, g_frac: int, beta, b_frac: int, out_type: FixedType):
    """reference_affine: cast(z * gamma + beta) on int64 codes."""
    return cast_sum(z * gamma, z_frac + g_frac, beta, b_frac, out_type)
