"""Keep a QActivation(quantized_bits) that follows a layer of 'auto' precision.

hls4ml's ``merge_linear_activation`` removes such a linear activation and moves only a
QONNX ``quantizer`` onto the layer before it; a QKeras ``activation_quantizer`` is lost, and
with it the cast the Keras model applies (seen with hls4ml 1.3: a final
QActivation(quantized_bits) vanished). This pass runs first and hands the activation's
type over as that ``quantizer``, so the merge keeps the cast.
"""

from hls4ml.model.layers import Activation
from hls4ml.model.optimizer import OptimizerPass


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
        node.set_attr('quantizer', _CastTo(node.get_output_variable().type.precision))
        return False
