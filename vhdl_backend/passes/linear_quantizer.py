"""Keep a QActivation(quantized_bits) that follows a layer of 'auto' precision.

hls4ml's ``merge_linear_activation`` removes such a linear activation and moves only a
QONNX ``quantizer`` onto the layer before it; a QKeras ``activation_quantizer`` is lost, and
with it the cast the Keras model applies (seen with hls4ml 1.3: a final
QActivation(quantized_bits) vanished). This pass runs first and hands the activation's
type over as that ``quantizer``, so the merge keeps the cast.

It also mends the type of an integer quantized_bits(bits, bits - 1): hls4ml's config writes
it as int<bits>, which truncates and wraps, where QKeras rounds half to even and saturates.
"""

from hls4ml.model.layers import Activation
from hls4ml.model.optimizer import OptimizerPass
from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType, RoundingMode, SaturationMode


class _CastTo:
    """The part of a quantizer that merge_linear_activation reads."""

    def __init__(self, hls_type):
        self.hls_type = hls_type


class KeepLinearQuantizer(OptimizerPass):
    def match(self, node):
        return (
            isinstance(node, Activation)
            and node.get_attr('activation') == 'linear'
            and node.get_attr('activation_quantizer') is not None
            and node.get_attr('quantizer') is None
        )

    def transform(self, model, node):
        out_type = node.get_output_variable().type
        quantizer = node.get_attr('activation_quantizer')  # hls4ml keeps {'class_name', 'config'} here
        config = quantizer.get('config', {}) if isinstance(quantizer, dict) else {}
        if isinstance(out_type.precision, IntegerPrecisionType) and config.get('bits') == out_type.precision.width:
            width = out_type.precision.width
            out_type.precision = FixedPrecisionType(width, width, bool(config.get('keep_negative', True)),
                                                    RoundingMode.RND_CONV, SaturationMode.SAT)  # fmt: skip
        node.set_attr('quantizer', _CastTo(out_type.precision))
        return False
