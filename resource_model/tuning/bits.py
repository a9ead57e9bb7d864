"""Per-layer bitwidths of a quantized Keras model: read them, and rebuild the model with others.

A layer's bitwidth is the width of every quantizer it holds: a QKeras layer's quantizers
(QDense kernel and bias, QActivation's activation) and the `*_bits` keys of vhdlspartan's
layers. Changing it keeps each quantizer's integer bits (clamped to fit the new width) and
keeps the float weights, so a rebuilt model is the same trained model quantized differently,
ready for evaluation or quantization-aware fine-tuning.

A layer may also give up integer bits of its activation types for fraction bits (`drop`): at
4 bits, an activation with 2 integer bits above the sign keeps a single fraction bit, which is
often the worse half of the range/resolution trade. Weights, biases and the fixed tables
(positional encoding, norm scale and shift) keep theirs.
"""

from __future__ import annotations

import copy
import re

from ...errors import UnsupportedError
from ...quiet import quiet_keras

QUANTIZER_KEYS = ('kernel_quantizer', 'bias_quantizer', 'activation')
# Internal table precisions of QLayerNormalization: not a tensor width, kept as trained
FIXED_BITS_KEYS = ('table_bits', 'inv_bits')
MIN_BITS, MAX_BITS = 2, 16
# integer bits of activation types (what `drop` lowers); the other *_integer keys are parameters
ACTIVATION_INTEGER_KEYS = ('input_integer', 'output_integer', 'proj_integer', 'score_integer', 'context_integer',
                           'norm_integer')  # fmt: skip


def _quantizer_bits(q) -> int | None:
    if q is None:
        return None
    if isinstance(q, dict):
        return int(q.get('config', {}).get('bits', 0)) or None
    if isinstance(q, str):
        m = re.match(r'\s*quantized_\w+\(\s*(\d+)', q)
        return int(m.group(1)) if m else None
    return int(q.bits) if hasattr(q, 'bits') else None


def _bits_keys(config: dict) -> list:
    return [k for k in config if k.endswith('_bits') and k not in FIXED_BITS_KEYS]


def layer_config(layer) -> dict:
    with quiet_keras():  # QKeras layers serialize their quantizers as constraints: Keras warns each time
        config = layer.get_config()
    if type(layer).__name__ == 'QActivation':
        config['activation'] = layer.quantizer  # its config would hold a string or the object itself
    return config


def layer_bits(layer) -> int | None:
    """The layer's widest quantizer, or None for a layer without quantizers."""
    config = layer_config(layer)
    widths = [_quantizer_bits(config.get(k)) for k in QUANTIZER_KEYS] + [int(config[k]) for k in _bits_keys(config)]
    widths = [w for w in widths if w]
    return max(widths) if widths else None


def quantized_layers(model) -> dict:
    """{layer name: its bitwidth} of every layer with quantizers, in model order."""
    return {layer.name: b for layer in model.layers if (b := layer_bits(layer))}


def _signed_integer(integer: int, bits: int, keep_negative: bool = True) -> int:
    return max(0, min(int(integer), bits - 1 if keep_negative else bits))


def _requantizer(q, bits: int, drop: int = 0):
    """A copy of quantizer q (object, config dict or string) with `bits` bits and `drop` fewer
    integer bits (never below 0)."""
    if isinstance(q, dict):
        q = copy.deepcopy(q)
        cfg = q['config']
        cfg['integer'] = _signed_integer(cfg.get('integer', 0) - drop, bits, cfg.get('keep_negative', True))
        cfg['bits'] = bits
        return q
    if isinstance(q, str):
        m = re.match(r'\s*(quantized_\w+)\(\s*(\d+)\s*(?:,\s*(\d+))?(.*)$', q)
        if not m:
            raise UnsupportedError(f'quantizer {q!r}: cannot change its bits (expected quantized_bits(b, i, ...))')
        integer = _signed_integer(int(m.group(3) or 0) - drop, bits, m.group(1) != 'quantized_relu')
        return f'{m.group(1)}({bits},{integer}{m.group(4)}'
    name = type(q).__name__
    if name == 'quantized_bits':
        from qkeras import quantized_bits

        return quantized_bits(bits, _signed_integer(q.integer - drop, bits, q.keep_negative), symmetric=q.symmetric,
                              keep_negative=q.keep_negative, alpha=q.alpha)  # fmt: skip
    if name == 'quantized_relu':
        from qkeras import quantized_relu

        return quantized_relu(bits, _signed_integer(q.integer - drop, bits, False))
    raise UnsupportedError(f'quantizer {name}: the tuner changes the bits of quantized_bits and quantized_relu only')


def requantized_config(layer, bits: int, drop: int = 0) -> dict:
    """The layer's config with every quantizer at `bits` bits, its activation types with `drop`
    fewer integer bits."""
    if not MIN_BITS <= bits <= MAX_BITS:
        raise UnsupportedError(f'layer {layer.name!r}: {bits} bits is outside the supported {MIN_BITS}..{MAX_BITS}')
    if isinstance(drop, bool) or not isinstance(drop, int) or drop < 0:
        raise UnsupportedError(f'layer {layer.name!r}: integer bits to drop must be an integer >= 0, not {drop!r}')
    config = layer_config(layer)
    for key in QUANTIZER_KEYS:
        q = config.get(key)
        if q is not None and _quantizer_bits(q):
            config[key] = _requantizer(q, bits, drop if key == 'activation' else 0)
    for key in _bits_keys(config):
        config[key] = bits
        integer_key = key[: -len('_bits')] + '_integer'
        if integer_key in config:
            lower = drop if integer_key in ACTIVATION_INTEGER_KEYS else 0
            config[integer_key] = _signed_integer(config[integer_key] - lower, bits)
    if 'table_size' in config and 'exp_bits' in config:  # the exp table follows the score and exp types
        from ...integer_ops import min_exp_table_size, signed_type, unsigned_unit_type

        score = ('score_bits', 'score_integer') if 'score_bits' in config else ('input_bits', 'input_integer')
        config['table_size'] = min_exp_table_size(signed_type(config[score[0]], config[score[1]]),
                                                  unsigned_unit_type(config['exp_bits']))  # fmt: skip
    return config


def with_bits(model, bits: dict, drop: dict | None = None):
    """A copy of `model` whose layers named in `bits` ({layer name: bitwidth}) are requantized,
    those named in `drop` ({layer name: k}) with k fewer integer bits in their activation types;
    every float weight is copied from `model`."""
    import tensorflow as tf

    known = quantized_layers(model)
    drop = {name: k for name, k in (drop or {}).items() if k}
    unknown = sorted((set(bits) | set(drop)) - set(known))
    if unknown:
        raise UnsupportedError(f'layers {unknown} have no quantizers to tune; quantized layers: {list(known)}')

    def clone(layer):
        width = int(bits.get(layer.name, known.get(layer.name, 0)))
        if layer.name in drop or (layer.name in bits and width != known[layer.name]):
            return type(layer).from_config(requantized_config(layer, width, drop.get(layer.name, 0)))
        return type(layer).from_config(layer_config(layer))

    with quiet_keras():  # as in layer_config
        new = tf.keras.models.clone_model(model, clone_function=clone)
    new.set_weights(model.get_weights())
    return new
