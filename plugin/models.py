"""Model builders: the reference integer-only Transformer encoder for time-series forecasting."""

from __future__ import annotations

import numpy as np
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
# readout: how the encoder's (window, d_model) output becomes one forecast.
#   'pool': average over time, then Dense(d_model -> 1) (the reference work's; keeps no position);
#   'flatten': Dense(window * d_model -> 1) on the whole output (every position its own weights).
READOUTS = ('pool', 'flatten')
# skip: a linear branch on the raw (quantized) input window, added to the encoder's forecast.
#   None: none; 'linear': Dense(window * features -> 1), trainable (DLinear's finding: a linear
#   branch beside a Transformer wins on small series; `fit_linear_skip` starts it at the least
#   squares fit); 'last': the same Dense frozen at weight 1 on the target's last value, so the
#   encoder forecasts the change from it.
SKIPS = (None, 'linear', 'last')
SKIP_INTEGER = 2  # default integer bits of the skip's weights, [-4, 4): AR weights reach 2.1 (electricity);
#   vhdlspartan.training.linear_skip_integer picks the fewest that hold a series' least squares fit
FORECAST_INTEGER = 1  # with a skip, the forecast's types in [-2, 2): finer steps for a value in [-1, 1]


def _bits(bits) -> dict:
    if isinstance(bits, int):
        return {k: bits for k in BITS_KEYS}
    unknown = set(bits) - set(BITS_KEYS)
    if unknown:
        raise UnsupportedError(f'ts_transformer: unknown bits keys {sorted(unknown)}; use {BITS_KEYS}')
    default = bits.get('default', 8)
    return {k: int(bits.get(k, default)) for k in BITS_KEYS}


def ts_transformer(window, n_features, d_model, num_heads, ffn_dim, num_layers, bits=8, norm='batch', key_dim=None,
                   integer=3, name='ts_transformer', readout='pool', skip=None, target=0, input_integer=None,
                   skip_integer=SKIP_INTEGER):  # fmt: skip
    """The reference encoder: per-time-step Dense(features -> d_model), positional encoding,
    num_layers x (attention -> Add -> norm -> Dense(d->ffn) ReLU Dense(ffn->d) -> Add -> norm),
    then the readout (READOUTS; 'pool': average pooling over time, Dense(d -> 1)), plus the
    optional linear skip on the input window (SKIPS).

    bits: one width for every tensor and weight, or a dict with keys from BITS_KEYS.
    integer: integer bits (above the sign) of activations; weights have 0 (values in [-1, 1)).
    input_integer: those of the input quantizer (default: integer); series scaled to [-1, 1] need 1.
    target: the input column of the forecast value (skip='last'). With a skip, the forecast's
    types (head, skip, their sum) have FORECAST_INTEGER integer bits: finer steps for a value in [-1, 1].
    skip_integer: integer bits (above the sign) of the skip's weights; fewer give finer steps.
    """
    if norm not in NORMS:
        raise UnsupportedError(f'ts_transformer: norm {norm!r} is not supported; use one of {NORMS}')
    if readout not in READOUTS:
        raise UnsupportedError(f'ts_transformer: readout {readout!r} is not supported; use one of {READOUTS}')
    if skip not in SKIPS:
        raise UnsupportedError(f'ts_transformer: skip {skip!r} is not supported; use one of {SKIPS}')
    if not 0 <= int(skip_integer) <= 4:
        raise UnsupportedError(f'ts_transformer: skip_integer {skip_integer!r}; use 0 to 4 (weights in [-2^i, 2^i))')
    if skip == 'last' and skip_integer < 1:
        raise UnsupportedError(f"ts_transformer: skip='last' needs skip_integer >= 1 for its weight 1, not {skip_integer}")
    if not 0 <= target < n_features:
        raise UnsupportedError(f'ts_transformer: target column {target} is not one of the {n_features} inputs')
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
    in_integer = integer if input_integer is None else input_integer
    x_q = QActivation(quantized_bits(b['input'], in_integer, alpha=1), name='q_in')(x)
    h = qdense(d_model, 'embed', 'embed')(x_q)
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
    if readout == 'pool':
        h = QGlobalAveragePooling1D(**act('pool'), name='pool')(h)
    else:
        h = tf.keras.layers.Flatten(name='flatten')(h)
    head = qdense(1, 'head', 'head')
    if skip is not None:  # the encoder starts at 0: the model starts as its skip, then learns the residual
        head.kernel_initializer = tf.keras.initializers.Zeros()
    h = head(h)
    out_integer = integer
    if skip is not None:
        out_integer = FORECAST_INTEGER
        h = QActivation(quantized_bits(b['head'], out_integer, alpha=1), name='head_q')(h)
        q = quantized_bits(b['head'], int(skip_integer), alpha=1)
        dense = QDense(1, kernel_quantizer=q, bias_quantizer=q, name='skip', trainable=skip == 'linear')
        s = dense(tf.keras.layers.Flatten(name='skip_flatten')(x_q))
        if skip == 'last':  # weight 1 on the target's last value, 0 elsewhere: y = x[-1, target] + encoder
            kernel = np.zeros((window * n_features, 1), np.float32)
            kernel[(window - 1) * n_features + target, 0] = 1.0
            dense.set_weights([kernel, np.zeros(1, np.float32)])
        s = QActivation(quantized_bits(b['head'], out_integer, alpha=1), name='skip_q')(s)
        h = tf.keras.layers.Add(name='skip_add')([h, s])
    y = QActivation(quantized_bits(b['head'], out_integer, alpha=1), name='out')(h)
    return tf.keras.Model(x, y, name=name)


def fit_linear_skip(model, x_train, y_train) -> None:
    """Start a skip='linear' model's skip at the least squares fit of the target on its quantized
    input window (the linear AR baseline on the grid the hardware sees), clipped to the weights'
    range; the encoder then learns what the linear model misses."""
    skip = model.get_layer('skip')
    x_q = tf.keras.Model(model.input, model.get_layer('q_in').output).predict(x_train, verbose=0)
    a = np.hstack([x_q.reshape(len(x_q), -1), np.ones((len(x_q), 1))])
    sol, *_ = np.linalg.lstsq(a, np.asarray(y_train, np.float64).reshape(-1), rcond=None)
    q = skip.kernel_quantizer_internal
    top = 2.0**q.integer - 2.0 ** (q.integer + 1 - q.bits)
    sol = np.clip(sol, -(2.0**q.integer), top)
    skip.set_weights([sol[:-1, None].astype(np.float32), sol[-1:].astype(np.float32)])


def _table_size(bits: int, integer: int) -> int:
    """The smallest exp table for scores of (bits, integer) and exp entries of bits."""
    return min_exp_table_size(signed_type(bits, integer), unsigned_unit_type(bits))


def hls_config(model, lanes=1, dsp_lanes=None, input_bits=None, integer=None, **model_keys):
    """hls4ml config for a ts_transformer: the input type is the model's input quantizer (its bits
    and integer bits unless given), residual sums are exact (the norm after them casts), everything
    else comes from the layers themselves."""
    import hls4ml

    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    q_in = model.get_layer('q_in').quantizer
    bits = input_bits or q_in.bits
    integer = int(q_in.integer) if integer is None else integer
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
