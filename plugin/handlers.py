"""hls4ml side of the quantized Keras layers: Keras v2 parsers and IR layer classes.

`register_handlers()` is called when the plugin registers its backend. Each IR layer carries
the layer's quantizer parameters; its output type is the layer's own output quantizer.
"""

from __future__ import annotations

from hls4ml.model.layers import Layer
from hls4ml.model.types import FixedPrecisionType, RoundingMode, SaturationMode

SOFTMAX_PARAMS = ('input_bits', 'input_integer', 'exp_bits', 'table_size', 'output_bits')
POSENC_PARAMS = ('input_bits', 'input_integer', 'pe_bits', 'pe_integer', 'output_bits', 'output_integer')


class VSSoftmax(Layer):
    """QSoftmax in hls4ml's graph: probabilities in [0, 1] as ufixed<output_bits, 1>."""

    def initialize(self):
        bits = self.get_attr('output_bits')
        precision = FixedPrecisionType(bits, 1, signed=False, rounding_mode=RoundingMode.RND_CONV,
                                       saturation_mode=SaturationMode.SAT)  # fmt: skip
        self.add_output_variable(self.get_input_variable().shape, precision=precision)


class VSPositionalEncoding(Layer):
    """QPositionalEncoding in hls4ml's graph; the table is in attribute 'table_data'."""

    def initialize(self):
        precision = FixedPrecisionType(self.get_attr('output_bits'), self.get_attr('output_integer') + 1, signed=True,
                                       rounding_mode=RoundingMode.RND_CONV, saturation_mode=SaturationMode.SAT)  # fmt: skip
        self.add_output_variable(self.get_input_variable().shape, precision=precision)


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


def register_handlers():
    from hls4ml.converters import get_supported_keras_layers, register_keras_v2_layer_handler
    from hls4ml.model.layers import register_layer

    register_layer('VSSoftmax', VSSoftmax)
    register_layer('VSPositionalEncoding', VSPositionalEncoding)
    for keras_name, handler in (('QSoftmax', parse_qsoftmax), ('QPositionalEncoding', parse_qpositional_encoding)):
        if keras_name not in get_supported_keras_layers():
            register_keras_v2_layer_handler(keras_name, handler)
