"""hls4ml side of the quantized Keras layers: Keras v2 parsers and IR layer classes.

`register_handlers()` is called when the plugin registers its backend (and again, harmlessly,
when `vhdlspartan.layers` is imported). Each IR layer carries
the layer's quantizer parameters; its output type is the layer's own output quantizer.
"""

from __future__ import annotations

import numpy as np
from hls4ml.model.layers import Layer
from hls4ml.model.types import FixedPrecisionType, RoundingMode, SaturationMode

from .errors import UnsupportedError

SOFTMAX_PARAMS = ('input_bits', 'input_integer', 'exp_bits', 'table_size', 'output_bits')
POSENC_PARAMS = ('input_bits', 'input_integer', 'pe_bits', 'pe_integer', 'output_bits', 'output_integer')
LAYERNORM_PARAMS = ('input_bits', 'input_integer', 'table_bits', 'inv_bits', 'norm_bits', 'norm_integer', 'gamma_bits',
                    'gamma_integer', 'beta_bits', 'beta_integer', 'output_bits', 'output_integer')  # fmt: skip
BATCHNORM_PARAMS = ('input_bits', 'input_integer', 'scale_bits', 'scale_integer', 'shift_bits', 'shift_integer',
                    'output_bits', 'output_integer')  # fmt: skip


def signed_precision(bits: int, integer: int) -> FixedPrecisionType:
    """QKeras quantized_bits(bits, integer) in hls4ml's terms (the sign bit counts as integer)."""
    return FixedPrecisionType(bits, integer + 1, signed=True, rounding_mode=RoundingMode.RND_CONV,
                              saturation_mode=SaturationMode.SAT)  # fmt: skip


class SignedOutputLayer(Layer):
    """An IR layer whose result has the layer's (output_bits, output_integer) type and its input's shape."""

    def initialize(self):
        precision = signed_precision(self.get_attr('output_bits'), self.get_attr('output_integer'))
        self.add_output_variable(self.get_input_variable().shape, precision=precision)


class VSSoftmax(Layer):
    """QSoftmax in hls4ml's graph: probabilities in [0, 1] as ufixed<output_bits, 1>."""

    def initialize(self):
        bits = self.get_attr('output_bits')
        precision = FixedPrecisionType(bits, 1, signed=False, rounding_mode=RoundingMode.RND_CONV,
                                       saturation_mode=SaturationMode.SAT)  # fmt: skip
        self.add_output_variable(self.get_input_variable().shape, precision=precision)


class VSPositionalEncoding(SignedOutputLayer):
    """QPositionalEncoding in hls4ml's graph; the table is in attribute 'table_data'."""


class VSLayerNormalization(SignedOutputLayer):
    """QLayerNormalization in hls4ml's graph; gamma and beta (floats) in 'gamma_data', 'beta_data'."""


class VSBatchNorm(SignedOutputLayer):
    """QFoldedBatchNorm in hls4ml's graph; the folded scale and shift (floats) in 'scale_data', 'shift_data'."""


def parse_qpositional_encoding(keras_layer, input_names, input_shapes, data_reader):
    cfg = keras_layer['config']
    layer = {'class_name': 'VSPositionalEncoding', 'name': cfg['name'], 'inputs': input_names,
             **{k: int(cfg[k]) for k in POSENC_PARAMS},
             'table_data': data_reader.get_weights_data(cfg['name'], 'table')}  # fmt: skip
    return layer, list(input_shapes[0])


def parse_qsoftmax(keras_layer, input_names, input_shapes, data_reader):
    cfg = keras_layer['config']
    layer = {'class_name': 'VSSoftmax', 'name': cfg['name'], 'inputs': input_names,
             **{k: int(cfg[k]) for k in SOFTMAX_PARAMS}}  # fmt: skip
    return layer, list(input_shapes[0])


class VSGlobalAveragePooling(Layer):
    """QGlobalAveragePooling1D in hls4ml's graph: (time, features) -> (features)."""

    def initialize(self):
        precision = signed_precision(self.get_attr('output_bits'), self.get_attr('output_integer'))
        self.add_output_variable(self.get_input_variable().shape[-1:], precision=precision)


def parse_qglobal_average_pooling(keras_layer, input_names, input_shapes, data_reader):
    cfg = keras_layer['config']
    layer = {'class_name': 'VSGlobalAveragePooling', 'name': cfg['name'], 'inputs': input_names,
             **{k: int(cfg[k]) for k in ('input_bits', 'input_integer', 'output_bits', 'output_integer')}}  # fmt: skip
    return layer, [input_shapes[0][0], input_shapes[0][-1]]


class VSMultiHeadAttention(Layer):
    """Self attention in hls4ml's graph. From QMultiHeadSelfAttention: 'keras_config' holds the
    layer's config (its types) and the result type is its output type. From tf.keras
    MultiHeadAttention: the types come from the hls4ml config (post-training quantization).
    Weights (floats) in 'wq_data', 'bq_data', ..., 'wo_data', 'bo_data', kernels (in, out)."""

    def initialize(self):
        cfg = self.get_attr('keras_config')
        precision = None if cfg is None else signed_precision(cfg['output_bits'], cfg['output_integer'])
        self.add_output_variable(self.get_input_variable().shape, precision=precision)


def _one_input(keras_layer, input_names):
    """Self attention only: every input of the Keras call must be the same Keras tensor.

    Decided on the Keras tensors ([layer, node, index] of the inbound node and of the value/key
    keyword arguments), not on hls4ml's names: hls4ml renames a Dense's consumers to its activation
    layer's output, which reaches the positional input but not the keyword ones."""
    name, kinds = keras_layer['config']['name'], keras_layer['class_name']
    nodes = keras_layer.get('inbound_nodes') or [[]]
    entries = nodes[0] if nodes else []
    kwargs = entries[0][3] if entries and len(entries[0]) > 3 and isinstance(entries[0][3], dict) else {}
    if kwargs.get('attention_mask') is not None or kwargs.get('use_causal_mask'):
        raise UnsupportedError(f'layer {name!r} ({kinds}): attention masks are not supported')
    # tf.keras MultiHeadAttention gets value (and key) as keyword arguments: [name, node, index]
    tensors = [tuple(e[:3]) for e in entries] + [tuple(v[:3]) for k, v in kwargs.items() if k in ('value', 'key') and v]
    if not input_names or len(set(tensors)) > 1 or (not tensors and len(set(input_names)) != 1):
        shown = [t[0] for t in tensors] or list(input_names or [])
        raise UnsupportedError(f'layer {name!r} ({kinds}): inputs {shown}; only self attention '
                               '(query, key and value the same tensor) is supported')  # fmt: skip
    return list(input_names)[:1]


def parse_qmultihead_self_attention(keras_layer, input_names, input_shapes, data_reader):
    cfg = keras_layer['config']
    layer = {'class_name': 'VSMultiHeadAttention', 'name': cfg['name'], 'inputs': _one_input(keras_layer, input_names),
             'keras_class': 'QMultiHeadSelfAttention', 'keras_config': dict(cfg),
             'num_heads': int(cfg['num_heads']), 'key_dim': int(cfg['key_dim'])}  # fmt: skip
    for w in ('wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'wo', 'bo'):
        layer[f'{w}_data'] = data_reader.get_weights_data(cfg['name'], f'/{w}')
    return layer, list(input_shapes[0])


def parse_keras_multihead_attention(keras_layer, input_names, input_shapes, data_reader):
    """tf.keras MultiHeadAttention as self attention (post-training quantization)."""
    cfg = keras_layer['config']
    what = f'layer {cfg["name"]!r} (MultiHeadAttention)'
    inputs = _one_input(keras_layer, input_names)
    h, dk = int(cfg['num_heads']), int(cfg['key_dim'])
    if cfg.get('value_dim') not in (None, dk):
        raise UnsupportedError(f'{what}: value_dim {cfg["value_dim"]} differs from key_dim {dk}; use value_dim = key_dim')
    if cfg.get('output_shape') is not None or cfg.get('attention_axes') not in (None, [1], (1,)):
        raise UnsupportedError(f'{what}: output_shape {cfg.get("output_shape")} and attention_axes '
                               f'{cfg.get("attention_axes")} are not supported; leave them at their defaults')
    if len(input_shapes[0]) != 3:
        raise UnsupportedError(f'{what}: input shape {input_shapes[0]}; use (batch, window, d_model)')
    d_model = int(input_shapes[0][-1])
    layer = {'class_name': 'VSMultiHeadAttention', 'name': cfg['name'], 'inputs': inputs, 'keras_config': None,
             'keras_class': 'MultiHeadAttention', 'num_heads': h, 'key_dim': dk}  # fmt: skip
    for tag, part in (('q', 'query'), ('k', 'key'), ('v', 'value')):
        layer[f'w{tag}_data'] = np.asarray(data_reader.get_weights_data(cfg['name'], f'{part}/kernel')).reshape(d_model, h * dk)
        bias = data_reader.get_weights_data(cfg['name'], f'{part}/bias') if cfg.get('use_bias', True) else None
        layer[f'b{tag}_data'] = np.zeros(h * dk) if bias is None else np.asarray(bias).reshape(-1)
    layer['wo_data'] = np.asarray(data_reader.get_weights_data(cfg['name'], 'attention_output/kernel')).reshape(h * dk, d_model)
    bias = data_reader.get_weights_data(cfg['name'], 'attention_output/bias') if cfg.get('use_bias', True) else None
    layer['bo_data'] = np.zeros(d_model) if bias is None else np.asarray(bias).reshape(-1)
    return layer, list(input_shapes[0])


def parse_qlayer_normalization(keras_layer, input_names, input_shapes, data_reader):
    cfg = keras_layer['config']
    layer = {'class_name': 'VSLayerNormalization', 'name': cfg['name'], 'inputs': input_names,
             **{k: int(cfg[k]) for k in LAYERNORM_PARAMS},
             'gamma_data': data_reader.get_weights_data(cfg['name'], 'gamma'),
             'beta_data': data_reader.get_weights_data(cfg['name'], 'beta')}  # fmt: skip
    return layer, list(input_shapes[0])


def parse_qfolded_batchnorm(keras_layer, input_names, input_shapes, data_reader):
    from .layers import QFoldedBatchNorm

    cfg = keras_layer['config']
    weights = [np.asarray(data_reader.get_weights_data(cfg['name'], w), dtype=np.float64)
               for w in ('gamma', 'beta', 'moving_mean', 'moving_variance')]  # fmt: skip
    scale, shift = QFoldedBatchNorm(epsilon=cfg['epsilon']).folded(*weights)
    layer = {'class_name': 'VSBatchNorm', 'name': cfg['name'], 'inputs': input_names,
             **{k: int(cfg[k]) for k in BATCHNORM_PARAMS}, 'scale_data': scale, 'shift_data': shift}  # fmt: skip
    return layer, list(input_shapes[0])


KERAS_HANDLERS = {
    'QSoftmax': parse_qsoftmax,
    'QPositionalEncoding': parse_qpositional_encoding,
    'QLayerNormalization': parse_qlayer_normalization,
    'QFoldedBatchNorm': parse_qfolded_batchnorm,
    'QMultiHeadSelfAttention': parse_qmultihead_self_attention,
    'MultiHeadAttention': parse_keras_multihead_attention,
    'QGlobalAveragePooling1D': parse_qglobal_average_pooling,
}
IR_LAYERS = {
    'VSSoftmax': VSSoftmax,
    'VSPositionalEncoding': VSPositionalEncoding,
    'VSLayerNormalization': VSLayerNormalization,
    'VSBatchNorm': VSBatchNorm,
    'VSMultiHeadAttention': VSMultiHeadAttention,
    'VSGlobalAveragePooling': VSGlobalAveragePooling,
}


def register_handlers():
    # the module, not the package: the plugin registers while hls4ml.converters is being imported
    from hls4ml.converters.keras_v2_to_hls import get_supported_keras_layers, register_keras_v2_layer_handler
    from hls4ml.model.layers import register_layer

    for ir_name, ir_cls in IR_LAYERS.items():
        register_layer(ir_name, ir_cls)
    for keras_name, handler in KERAS_HANDLERS.items():
        if keras_name not in get_supported_keras_layers():
            register_keras_v2_layer_handler(keras_name, handler)
    refuse_unparsed_quantizers()


CONV1D_LAYERS = ('Conv1D', 'QConv1D', 'SeparableConv1D', 'QSeparableConv1D', 'DepthwiseConv1D')


def _conv_options(cfg: dict, layer: dict, shape: list) -> list:
    """The dilation, and a dilated layer's size: Keras pads and slides the dilated kernel, whose
    span is (K - 1) * D + 1 steps; hls4ml's padding rule gives Keras' numbers for that span."""
    from hls4ml.converters.utils import compute_padding_1d

    if int(cfg.get('groups', 1)) != 1:  # hls4ml would read the grouped kernel as a full one
        from .vhdl_backend.units.conv1d import SUPPORTED

        raise UnsupportedError(f"layer {cfg['name']!r} ({layer['class_name']}): groups {cfg['groups']} is not "
                               f'supported; {SUPPORTED}, groups 1')  # fmt: skip
    layer['dilation'] = dilation = int(cfg.get('dilation_rate', (1,))[0])
    if dilation == 1 or layer.get('data_format', 'channels_last') != 'channels_last':
        return shape  # channels_first is refused by the lowering
    span = (layer['filt_width'] - 1) * dilation + 1
    layer['out_width'], layer['pad_left'], layer['pad_right'] = compute_padding_1d(
        cfg['padding'], layer['in_width'], layer['stride_width'], span)
    return [shape[0], layer['out_width'], shape[2]]


def _relu_options(cfg: dict, layer: dict, shape: list) -> list:
    layer.update({'relu_max_value': None if cfg.get('max_value') is None else float(cfg['max_value']),
                  'relu_negative_slope': float(cfg.get('negative_slope') or 0.0),
                  'relu_threshold': float(cfg.get('threshold') or 0.0)})  # fmt: skip
    return shape


# Keras options hls4ml 1.3's parsers drop: a dilated Conv1D was sized and computed as if dilation
# were 1, a ReLU(max_value=6) became a plain ReLU. The wrapped parsers copy them onto the layer
# (and correct the output shape); the lowering follows or refuses them.
KEPT_OPTIONS = {**{name: _conv_options for name in CONV1D_LAYERS}, 'ReLU': _relu_options}


def wrap_parsers():
    """Wrap hls4ml's Keras parsers to keep the options above. Called by the backend's
    create_initial_config, once hls4ml has registered its own parsers."""
    from hls4ml.converters.keras_v2_to_hls import get_layer_handlers

    handlers = get_layer_handlers()
    for name, options in KEPT_OPTIONS.items():
        parse = handlers.get(name)
        if parse is None or getattr(parse, 'vhdlspartan_wrapped', False):
            continue

        def keeping(keras_layer, *args, _parse=parse, _options=options, **kwargs):
            layer, shape = _parse(keras_layer, *args, **kwargs)
            return layer, _options(keras_layer['config'], layer, shape)

        keeping.vhdlspartan_wrapped = True
        handlers[name] = keeping


def refuse_unparsed_quantizers():
    """hls4ml 1.3 raises a bare Exception('Unsupported QKeras activation: ...') for a QActivation
    quantizer it cannot parse (quantized_relu_po2, quantized_po2, ...), already in
    config_from_keras_model: replace its lookup with one that raises our UnsupportedError, naming
    the layer and what is supported."""
    from hls4ml.converters.keras import qkeras as hls4ml_qkeras

    lookup = hls4ml_qkeras.get_activation_quantizer
    if getattr(lookup, 'vhdlspartan_wrapped', False):
        return

    def refusing(keras_layer, *args, **kwargs):
        try:
            return lookup(keras_layer, *args, **kwargs)
        except Exception as e:
            if type(e) is not Exception or 'Unsupported QKeras activation' not in str(e):
                raise
            quantizer = keras_layer['config'].get('activation', {})
            quantizer = quantizer.get('class_name', quantizer) if isinstance(quantizer, dict) else quantizer
            raise UnsupportedError(
                f"layer {keras_layer['config']['name']!r} ({keras_layer['class_name']}): activation quantizer "
                f'{quantizer!r} is not supported; supported: quantized_relu, quantized_bits, quantized_sigmoid, '
                'quantized_tanh'
            ) from None

    refusing.vhdlspartan_wrapped = True
    hls4ml_qkeras.get_activation_quantizer = refusing
