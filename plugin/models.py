"""Model builders: the reference integer-only Transformer encoder for time-series forecasting."""

from __future__ import annotations

import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from .errors import UnsupportedError
from .integer_ops import min_exp_table_size, signed_type, unsigned_unit_type
from .layers import (
    QFoldedBatchNorm,
    QGlobalAveragePooling1D,
    QLayerNormalization,
    QMultiHeadSelfAttention,
    QPositionalEncoding,
)

BITS_KEYS = ('input', 'embed', 'posenc', 'attention', 'norm', 'ffn', 'pool', 'head')
NORMS = ('batch', 'layer')


def _bits(bits) -> dict:
    if isinstance(bits, int):
        return {k: bits for k in BITS_KEYS}
    unknown = set(bits) - set(BITS_KEYS)
    if unknown:
        raise UnsupportedError(f'ts_transformer: unknown bits keys {sorted(unknown)}; use {BITS_KEYS}')
    default = bits.get('default', 8)
    return {k: int(bits.get(k, default)) for k in BITS_KEYS}


def ts_transformer(window, n_features, d_model, num_heads, ffn_dim, num_layers, bits=8, norm='batch', key_dim=None,
                   integer=3, name='ts_transformer'):  # fmt: skip
    """The reference encoder: per-time-step Dense(features -> d_model), positional encoding,
    num_layers x (attention -> Add -> norm -> Dense(d->ffn) ReLU Dense(ffn->d) -> Add -> norm),
    average pooling over time, Dense(d -> 1).

    bits: one width for every tensor and weight, or a dict with keys from BITS_KEYS.
    integer: integer bits (above the sign) of activations; weights have 0 (values in [-1, 1)).
    """
    if norm not in NORMS:
        raise UnsupportedError(f'ts_transformer: norm {norm!r} is not supported; use one of {NORMS}')
    key_dim = key_dim or d_model // num_heads
    if key_dim < 1:
        raise UnsupportedError(f'ts_transformer: key_dim {key_dim}; d_model {d_model} / num_heads {num_heads} < 1')
    b = _bits(bits)

    def act(k):
        return dict(input_bits=b[k], input_integer=integer, output_bits=b[k], output_integer=integer)

    def qdense(units, k, lname):
        q = quantized_bits(b[k], 0, alpha=1)
        return QDense(units, kernel_quantizer=q, bias_quantizer=q, name=lname)

    def normalize(h, lname):
        if norm == 'layer':
            return QLayerNormalization(**act('norm'), norm_bits=b['norm'], norm_integer=integer, gamma_bits=b['norm'],
                                       beta_bits=b['norm'], name=lname)(h)  # fmt: skip
        return QFoldedBatchNorm(**act('norm'), scale_bits=b['norm'], shift_bits=b['norm'], name=lname)(h)

    x = tf.keras.Input((window, n_features), name='x')
    h = QActivation(quantized_bits(b['input'], integer, alpha=1), name='q_in')(x)
    h = qdense(d_model, 'embed', 'embed')(h)
    h = QActivation(quantized_bits(b['embed'], integer, alpha=1), name='embed_q')(h)
    h = QPositionalEncoding(input_bits=b['embed'], input_integer=integer, pe_bits=b['posenc'], pe_integer=0,
                            output_bits=b['posenc'], output_integer=integer, name='posenc')(h)  # fmt: skip
    for i in range(num_layers):
        a = b['attention']
        att = QMultiHeadSelfAttention(
            num_heads, key_dim, kernel_quantizer=f'quantized_bits({a},0,alpha=1)',
            bias_quantizer=f'quantized_bits({a},0,alpha=1)', input_bits=b['posenc'] if i == 0 else b['norm'],
            input_integer=integer, proj_bits=a, proj_integer=integer, score_bits=a, score_integer=integer,
            exp_bits=a, table_size=_table_size(a, integer), prob_bits=a, context_bits=a, context_integer=integer,
            output_bits=a, output_integer=integer, name=f'att{i}',
        )(h)  # fmt: skip
        h = normalize(tf.keras.layers.Add(name=f'att{i}_add')([h, att]), f'att{i}_norm')
        f = qdense(ffn_dim, 'ffn', f'ffn{i}_up')(h)
        f = QActivation(quantized_relu(b['ffn'], integer), name=f'ffn{i}_relu')(f)
        f = qdense(d_model, 'ffn', f'ffn{i}_down')(f)
        f = QActivation(quantized_bits(b['ffn'], integer, alpha=1), name=f'ffn{i}_q')(f)
        h = normalize(tf.keras.layers.Add(name=f'ffn{i}_add')([h, f]), f'ffn{i}_norm')
    h = QGlobalAveragePooling1D(**act('pool'), name='pool')(h)
    h = qdense(1, 'head', 'head')(h)
    y = QActivation(quantized_bits(b['head'], integer, alpha=1), name='out')(h)
    return tf.keras.Model(x, y, name=name)


def _table_size(bits: int, integer: int) -> int:
    """The smallest exp table for scores of (bits, integer) and exp entries of bits."""
    return min_exp_table_size(signed_type(bits, integer), unsigned_unit_type(bits))


def hls_config(model, lanes=1, dsp_lanes=None, input_bits=None, integer=3, **model_keys):
    """hls4ml config for a ts_transformer: the input type is the model's input quantizer, residual
    sums are exact (the norm after them casts), everything else comes from the layers themselves."""
    import hls4ml

    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    bits = input_bits or model.get_layer('q_in').quantizer.bits
    cfg['LayerName']['x']['Precision']['result'] = f'fixed<{bits},{integer + 1},RND_CONV,SAT>'
    for layer in model.layers:
        if layer.name.endswith('_add'):
            cfg['LayerName'][layer.name]['Precision']['result'] = exact_sum_type(layer)
    cfg['Model'].update(Lanes=lanes, DSPLanes=lanes if dsp_lanes is None else dsp_lanes, **model_keys)
    return cfg


def exact_sum_type(add_layer) -> str:
    """The hls4ml type that holds the sum of a ts_transformer Add's operands exactly (the finer
    of their scales, one integer bit above the wider range), whatever widths the tuner gave each:
    Keras adds in float and only the norm after the sum rounds, so the sum itself must not."""
    grids = [_output_grid(layer) for layer in add_layer.inbound_nodes[0].inbound_layers]
    integer = max(i for i, _ in grids) + 1
    frac = max(f for _, f in grids)
    return f'fixed<{integer + frac},{integer}>'


def _output_grid(layer) -> tuple:
    """(integer bits with the sign, fraction bits) of a ts_transformer layer's signed output."""
    config = layer.get_config()
    if 'output_bits' in config:  # vhdlspartan layers
        bits, integer = config['output_bits'], config['output_integer']
    else:  # QActivation(quantized_bits)
        bits, integer = layer.quantizer.bits, layer.quantizer.integer
    return int(integer) + 1, int(bits) - int(integer) - 1
