"""Multi-head self attention lowered to engine jobs and a softmax unit.

    [cast] -> Q, K, V projections (Dense on the engine; K written banked by row, V banked by
    column, so the products below read P elements a cycle) -> S = Q K^T per head (engine, buffer
    operands, the 1/sqrt(key_dim) shift folded into the cast) -> softmax (vs_softmax) ->
    C = A V per head (engine) -> output projection (Dense).
Arithmetic: `vhdlspartan.attention.reference_attention`; each step here is one of its casts.
The IR layer (VSMultiHeadAttention) comes from QMultiHeadSelfAttention, whose types are its
own, or from tf.keras MultiHeadAttention, whose types come from the hls4ml configuration
(post-training quantization; `ptq_spec`).
"""

from __future__ import annotations

import math

import numpy as np

from ...attention import PARAM_KEYS, AttentionSpec, attention_spec, default_scale_shift
from ...errors import UnsupportedError
from ...fixed import fixed_type_from_hls4ml
from ...integer_ops import min_exp_table_size, signed_type, unsigned_unit_type
from .activation import cast_input
from .base import BANK_BY_COLUMN, BANK_BY_ROW, Buffer, configured_type, vhdl_name
from .dense import DenseUnit, MatMulUnit, lanes_for_reuse
from .softmax import SoftmaxUnit, softmax_dividers

# Post-training quantization of tf.keras MultiHeadAttention: hls4ml Precision keys of the layer
# and their defaults when not configured at layer name or layer type level.
PTQ_DEFAULTS = {
    'input': 'fixed<8,4,RND_CONV,SAT>', 'weight': 'fixed<8,1,RND_CONV,SAT>', 'bias': 'fixed<8,1,RND_CONV,SAT>',
    'proj': 'fixed<8,4,RND_CONV,SAT>', 'score': 'fixed<8,4,RND_CONV,SAT>', 'exp': 'ufixed<8,1,RND_CONV,SAT>',
    'prob': 'ufixed<8,1,RND_CONV,SAT>', 'context': 'fixed<8,4,RND_CONV,SAT>', 'result': None,  # the layer's result type
}  # fmt: skip


def ptq_spec(layer) -> AttentionSpec:
    """The integer types of a tf.keras MultiHeadAttention, from the hls4ml configuration."""
    what = f'layer {layer.name!r} (MultiHeadAttention)'
    t = {var: configured_type(layer, var, default) for var, default in PTQ_DEFAULTS.items() if var != 'result'}
    t['result'] = fixed_type_from_hls4ml(layer.get_output_variable().type.precision, f'{what} result')
    for var in ('exp', 'prob'):
        if t[var].signed or t[var].integer != 1:
            raise UnsupportedError(f'{what}: {var} precision {t[var]} is not supported; use ufixed<W,1,...>')
    exp_t, prob_t = unsigned_unit_type(t['exp'].width), unsigned_unit_type(t['prob'].width)
    score_t = signed_type(t['score'].width, t['score'].integer - 1) if t['score'].signed else None
    if score_t is None:
        raise UnsupportedError(f'{what}: score precision {t["score"]} must be signed')
    table = int(layer.get_attr('table_size', 0)) or min_exp_table_size(score_t, exp_t)
    spec = AttentionSpec(layer.get_attr('num_heads'), layer.get_attr('key_dim'),
                         default_scale_shift(layer.get_attr('key_dim')), t['input'], t['weight'], t['bias'],
                         t['proj'], score_t, exp_t, table, prob_t, t['context'], t['result'])  # fmt: skip
    spec.check(what)
    return spec


def qkeras_spec(layer) -> AttentionSpec:
    """The integer types QMultiHeadSelfAttention declared (its Keras config, kept as an attribute)."""
    cfg = layer.get_attr('keras_config')
    params = {k: cfg[k] for k in PARAM_KEYS}
    return attention_spec(cfg['num_heads'], cfg['key_dim'], cfg['scale_shift'], cfg['kernel_quantizer'],
                          cfg['bias_quantizer'], params, f'layer {layer.name!r} (QMultiHeadSelfAttention)')  # fmt: skip


def lower_attention(layer, design) -> list:
    what = f'layer {layer.name!r} ({layer.get_attr("keras_class", "attention")})'
    spec = qkeras_spec(layer) if layer.get_attr('keras_config') is not None else ptq_spec(layer)
    t_len, d_model = (int(v) for v in layer.get_input_variable().shape)
    h, dk = spec.num_heads, spec.key_dim
    inner = h * dk
    units, x = cast_input(design, layer, spec.in_type)
    base = vhdl_name(layer.name)

    def buffer(tag, depth, ftype, **banking):
        buf = Buffer(design._unique(f't_{base}_{tag}'), depth, ftype, design.storage(layer, tag, 0), **banking)
        design.buffers[f'{layer.outputs[0]}:{tag}'] = buf
        return buf

    def weights(key, shape):
        data = np.asarray(layer.get_attr(f'{key}_data'), dtype=np.float64)
        if data.size != math.prod(shape):
            raise UnsupportedError(f'{what}: {key} has {data.size} values, expected {shape}')
        return (spec.w_type if key[0] == 'w' else spec.b_type).from_float(data.reshape(shape))

    reuse = layer.get_attr('reuse_factor', 1)

    def dense(tag, src, dst, n_in, n_out, lanes=None):
        lanes = lanes or lanes_for_reuse(n_in, n_out, min(reuse, n_in * n_out), design.lanes, what)
        unit = DenseUnit(design._unique(f'u_{base}_{tag}'), layer.name, src, dst, n_in, n_out, t_len, lanes,
                         spec.w_type, spec.b_type, weights(f'w{tag}', (n_in, n_out)), weights(f'b{tag}', (n_out,)),
                         design.storage(layer, 'weight', n_in * n_out * spec.w_type.width))  # fmt: skip
        unit.check_accumulator(what)
        return unit

    p_qk = min(design.lanes, t_len)  # lanes over the keys of a score row
    p_av = max(p for p in range(1, min(design.lanes, dk) + 1) if dk % p == 0)  # lanes over a head's features
    q = buffer('q', t_len * inner, spec.proj_type)
    k = buffer('k', t_len * inner, spec.proj_type, banks=p_qk, bank_mode=BANK_BY_ROW, row=inner)
    v = buffer('v', t_len * inner, spec.proj_type, banks=p_av, bank_mode=BANK_BY_COLUMN, row=inner)
    s = buffer('score', h * t_len * t_len, spec.score_type)
    a = buffer('prob', h * t_len * t_len, spec.prob_type)
    c = buffer('context', t_len * inner, spec.context_type)
    units += [dense('q', x, q, d_model, inner), dense('k', x, k, d_model, inner), dense('v', x, v, d_model, inner, p_av)]
    qk = MatMulUnit(design._unique(f'u_{base}_qk'), layer.name, q, k, s, t_len, dk, t_len, p_qk,
                    dict(X_T=inner, X_H=dk, W_G=inner, W_H=dk, W_SI=1, Y_T=t_len, Y_H=t_len * t_len), h,
                    spec.scale_shift)  # fmt: skip
    sm = SoftmaxUnit(design._unique(f'u_{base}_softmax'), layer.name, s, a, h * t_len, t_len, spec.score_type.width,
                     spec.score_type.integer - 1, spec.exp_type.width, spec.table_size,
                     design.storage(layer, 'weight', 0))  # fmt: skip
    sm.divs = softmax_dividers(layer, design, sm.n, sm.num_width)
    av = MatMulUnit(design._unique(f'u_{base}_av'), layer.name, a, v, c, t_len, t_len, dk, p_av,
                    dict(X_T=t_len, X_H=t_len * t_len, W_G=1, W_H=dk // p_av, W_SI=inner // p_av, Y_T=inner, Y_H=dk),
                    h)  # fmt: skip
    for unit in (qk, av):
        unit.check_accumulator(what)
    units += [qk, sm, av, dense('o', c, design.output_buffer(layer), inner, d_model)]
    return units
