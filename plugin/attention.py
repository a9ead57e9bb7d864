"""QMultiHeadSelfAttention: integer multi-head self attention for (batch, window, d_model) inputs.

Forward pass (every step an exact integer computation, the same in `reference_attention`
and in the hardware):
    x  -> cast to (input_bits, input_integer)
    Q, K, V = cast(x Wq + bq), ... to (proj_bits, proj_integer); weights and biases by the
              QKeras kernel/bias quantizers (quantized_bits, alpha 1)
    S_h = cast(Q_h K_h^T * 2^-scale_shift) to (score_bits, score_integer) per head h; the shift
              stands for 1/sqrt(key_dim) (scale_shift = round(log2(key_dim) / 2) by default)
    A_h = integer softmax of S_h rows (QSoftmax: exp table, exact division) to prob_bits
    C   = heads concatenated, C_h = cast(A_h V_h) to (context_bits, context_integer)
    y   = cast(C Wo + bo) to (output_bits, output_integer)
Gradients pass straight through the float attention computed with the quantized weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from qkeras.quantizers import get_quantizer

from . import tf_integer as ti
from .errors import UnsupportedError
from .fixed import FixedType
from .integer_ops import cast_sum, check_exp_table, exp_table, reference_softmax, signed_type, unsigned_unit_type

# QMultiHeadSelfAttention's integer config keys besides num_heads, key_dim, the quantizers, scale_shift
PARAM_KEYS = ('input_bits', 'input_integer', 'proj_bits', 'proj_integer', 'score_bits', 'score_integer', 'exp_bits',
              'table_size', 'prob_bits', 'context_bits', 'context_integer', 'output_bits', 'output_integer')  # fmt: skip


def quantizer_type(quantizer, what: str) -> FixedType:
    """The fixed-point type of a QKeras quantized_bits quantizer with alpha 1 (what hls4ml maps exactly)."""
    q = get_quantizer(quantizer) if isinstance(quantizer, (str, dict)) else quantizer
    name = type(q).__name__
    if name != 'quantized_bits' or getattr(q, 'alpha', None) not in (None, 1, 1.0) or getattr(q, 'symmetric', 0):
        raise UnsupportedError(f'{what}: quantizer {q} is not supported; use quantized_bits(bits, integer, alpha=1)')
    if not q.keep_negative:
        raise UnsupportedError(f'{what}: quantizer {q} without a sign is not supported; use keep_negative=True')
    return signed_type(int(q.bits), int(q.integer))


@dataclass(frozen=True)
class AttentionSpec:
    """The integer types of one attention layer (shared by Keras, emulation and hardware)."""

    num_heads: int
    key_dim: int
    scale_shift: int
    in_type: FixedType
    w_type: FixedType
    b_type: FixedType
    proj_type: FixedType
    score_type: FixedType
    exp_type: FixedType
    table_size: int
    prob_type: FixedType
    context_type: FixedType
    out_type: FixedType

    def check(self, what: str):
        check_exp_table(self.score_type, self.exp_type, self.table_size, what)


def default_scale_shift(key_dim: int) -> int:
    """The power-of-2 shift that stands for 1/sqrt(key_dim)."""
    return round(math.log2(key_dim) / 2)


def attention_spec(num_heads: int, key_dim: int, scale_shift: int, kernel_quantizer, bias_quantizer, params: dict,
                   what: str) -> AttentionSpec:  # fmt: skip
    """The spec QMultiHeadSelfAttention's config declares (params: the *_bits, *_integer, table_size keys)."""
    p = {k: int(v) for k, v in params.items()}
    spec = AttentionSpec(
        int(num_heads), int(key_dim), int(scale_shift),
        in_type=signed_type(p['input_bits'], p['input_integer']),
        w_type=quantizer_type(kernel_quantizer, f'{what} kernel'), b_type=quantizer_type(bias_quantizer, f'{what} bias'),
        proj_type=signed_type(p['proj_bits'], p['proj_integer']),
        score_type=signed_type(p['score_bits'], p['score_integer']),
        exp_type=unsigned_unit_type(p['exp_bits']), table_size=p['table_size'],
        prob_type=unsigned_unit_type(p['prob_bits']),
        context_type=signed_type(p['context_bits'], p['context_integer']),
        out_type=signed_type(p['output_bits'], p['output_integer']),
    )  # fmt: skip
    spec.check(what)
    return spec


def dense_codes(x, w, b, x_frac: int, w_type: FixedType, b_type: FixedType, out_type: FixedType, extra_shift=0):
    """cast(x w + b) on codes (NumPy): exact sum on the finer scale, one cast."""
    return cast_sum(np.matmul(x, w), x_frac + w_type.frac, b, b_type.frac, out_type, extra_shift)


def reference_attention(xq, weights: dict, spec: AttentionSpec) -> np.ndarray:
    """Integer attention on input codes xq (batch, T, d_model); weights: codes of wq, bq, wk, bk, wv, bv, wo, bo."""
    h, dk = spec.num_heads, spec.key_dim
    n, t = xq.shape[0], xq.shape[1]
    proj = {k: dense_codes(xq, weights[f'w{k}'], weights[f'b{k}'], spec.in_type.frac, spec.w_type, spec.b_type,
                           spec.proj_type) for k in 'qkv'}  # fmt: skip
    heads = {k: v.reshape(n, t, h, dk).transpose(0, 2, 1, 3) for k, v in proj.items()}  # (n, h, t, dk)
    zero = FixedType(1, 0)
    scores = dense_codes(heads['q'], heads['k'].transpose(0, 1, 3, 2), 0, 2 * spec.proj_type.frac, FixedType(1, 0),
                         zero, spec.score_type, spec.scale_shift)  # fmt: skip
    probs = reference_softmax(scores, spec.score_type, spec.exp_type, spec.prob_type, spec.table_size)
    ctx = dense_codes(probs, heads['v'], 0, spec.prob_type.frac + spec.proj_type.frac, FixedType(1, 0), zero,
                      spec.context_type)  # fmt: skip
    ctx = ctx.transpose(0, 2, 1, 3).reshape(n, t, h * dk)
    return dense_codes(ctx, weights['wo'], weights['bo'], spec.context_type.frac, spec.w_type, spec.b_type,
                       spec.out_type)  # fmt: skip


def _dense_tf(x, w, b, x_frac, w_frac, b_frac, out_type, extra_shift=0):
    """dense_codes in TensorFlow: float64 sums of integer products are exact below 2^53 (conversion
    refuses accumulators wider than 48 bits)."""
    acc = tf.cast(tf.round(tf.matmul(tf.cast(x, tf.float64), tf.cast(w, tf.float64))), tf.int64)
    return ti.cast_sum(acc, x_frac + w_frac, b, b_frac, out_type, extra_shift)


@tf.keras.utils.register_keras_serializable(package='vhdlspartan')
class QMultiHeadSelfAttention(tf.keras.layers.Layer):
    """Integer multi-head self attention (see the module docstring). Call it on one tensor."""

    def __init__(self, num_heads, key_dim, kernel_quantizer='quantized_bits(8,0,alpha=1)',
                 bias_quantizer='quantized_bits(8,0,alpha=1)', input_bits=8, input_integer=3, proj_bits=8,
                 proj_integer=3, score_bits=8, score_integer=3, exp_bits=8, table_size=256, prob_bits=8,
                 context_bits=8, context_integer=3, output_bits=8, output_integer=3, scale_shift=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        if self.num_heads < 1 or self.key_dim < 1:
            raise UnsupportedError(f'QMultiHeadSelfAttention {self.name!r}: num_heads {num_heads} and key_dim '
                                   f'{key_dim} must be >= 1')  # fmt: skip
        self.kernel_quantizer = str(kernel_quantizer) if not isinstance(kernel_quantizer, dict) else kernel_quantizer
        self.bias_quantizer = str(bias_quantizer) if not isinstance(bias_quantizer, dict) else bias_quantizer
        self.kernel_q, self.bias_q = get_quantizer(self.kernel_quantizer), get_quantizer(self.bias_quantizer)
        self.params = dict(input_bits=input_bits, input_integer=input_integer, proj_bits=proj_bits,
                           proj_integer=proj_integer, score_bits=score_bits, score_integer=score_integer,
                           exp_bits=exp_bits, table_size=table_size, prob_bits=prob_bits, context_bits=context_bits,
                           context_integer=context_integer, output_bits=output_bits, output_integer=output_integer)  # fmt: skip
        self.params = {k: int(v) for k, v in self.params.items()}  # the *_bits, *_integer and table_size keys
        self.scale_shift = default_scale_shift(self.key_dim) if scale_shift is None else int(scale_shift)
        self.spec = attention_spec(self.num_heads, self.key_dim, self.scale_shift, self.kernel_q, self.bias_q,
                                   self.params, f'QMultiHeadSelfAttention {self.name!r}')  # fmt: skip
        self._table = tf.constant(exp_table(self.spec.score_type, self.spec.exp_type, self.spec.table_size), tf.int64)

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple, tf.TensorShape)):
            raise UnsupportedError(f'QMultiHeadSelfAttention {self.name!r}: called on {len(input_shape)} tensors; '
                                   'only self attention (one input tensor) is supported')  # fmt: skip
        if len(input_shape) != 3:
            raise UnsupportedError(f'QMultiHeadSelfAttention {self.name!r}: input shape {tuple(input_shape)}; '
                                   'use (batch, window, d_model)')  # fmt: skip
        d_model, inner = int(input_shape[-1]), self.num_heads * self.key_dim
        for k in 'qkv':
            setattr(self, f'w{k}', self.add_weight(f'w{k}', shape=(d_model, inner), initializer='glorot_uniform'))
            setattr(self, f'b{k}', self.add_weight(f'b{k}', shape=(inner,), initializer='zeros'))
        self.wo = self.add_weight('wo', shape=(inner, d_model), initializer='glorot_uniform')
        self.bo = self.add_weight('bo', shape=(d_model,), initializer='zeros')
        super().build(input_shape)

    def quantized_weights(self) -> dict:
        """Weights and biases as codes of the kernel / bias types (what the hardware ROMs hold)."""
        s = self.spec
        return {n: (s.w_type if n[0] == 'w' else s.b_type).from_float(getattr(self, n).numpy())
                for n in ('wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'wo', 'bo')}  # fmt: skip

    def call(self, x, mask=None):
        if mask is not None:
            raise UnsupportedError(f'QMultiHeadSelfAttention {self.name!r}: attention masks are not supported')
        s, h, dk = self.spec, self.num_heads, self.key_dim
        wq = {n: self.kernel_q(getattr(self, n)) if n[0] == 'w' else self.bias_q(getattr(self, n))
              for n in ('wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'wo', 'bo')}  # fmt: skip (QKeras: straight-through)
        codes = {n: ti.codes(v, s.w_type if n[0] == 'w' else s.b_type) for n, v in wq.items()}
        xq = ti.codes(x, s.in_type)
        batch, t = tf.shape(x)[0], x.shape[1]

        def split(v):  # (batch, t, h*dk) -> (batch, h, t, dk)
            return tf.transpose(tf.reshape(v, (batch, t, h, dk)), (0, 2, 1, 3))

        proj = {k: split(_dense_tf(xq, codes[f'w{k}'], codes[f'b{k}'], s.in_type.frac, s.w_type.frac, s.b_type.frac,
                                   s.proj_type)) for k in 'qkv'}  # fmt: skip
        zero = tf.constant(0, tf.int64)
        scores = _dense_tf(proj['q'], tf.transpose(proj['k'], (0, 1, 3, 2)), zero, 2 * s.proj_type.frac, 0, 0,
                           s.score_type, s.scale_shift)  # fmt: skip
        probs = ti.integer_softmax(scores, self._table, s.table_size, s.prob_type)
        ctx = _dense_tf(probs, proj['v'], zero, s.prob_type.frac + s.proj_type.frac, 0, 0, s.context_type)
        ctx = tf.reshape(tf.transpose(ctx, (0, 2, 1, 3)), (batch, t, h * dk))
        y = _dense_tf(ctx, codes['wo'], codes['bo'], s.context_type.frac, s.w_type.frac, s.b_type.frac, s.out_type)

        # the float attention with the quantized weights, for the gradient
        fq, fk, fv = (split(tf.matmul(x, wq[f'w{k}']) + wq[f'b{k}']) for k in 'qkv')
        att = tf.nn.softmax(tf.matmul(fq, fk, transpose_b=True) * 2.0**-s.scale_shift, axis=-1)
        f_ctx = tf.reshape(tf.transpose(tf.matmul(att, fv), (0, 2, 1, 3)), (batch, t, h * dk))
        y_float = tf.matmul(f_ctx, wq['wo']) + wq['bo']
        return ti.straight_through(y_float, ti.value(y, s.out_type))

    def get_config(self):
        return {**super().get_config(), 'num_heads': self.num_heads, 'key_dim': self.key_dim,
                'kernel_quantizer': self.kernel_quantizer, 'bias_quantizer': self.bias_quantizer,
                'scale_shift': self.scale_shift, **self.params}  # fmt: skip
