"""Give a LayerNormalization of 'auto' result precision the model's default precision.

hls4ml's ``infer_precision_types`` types a LayerNormalization like a BatchNormalization,
from input * scale + bias; after an Add of 'auto' precision that is 50 bits and more (53 seen
with hls4ml 1.3). A layer norm's output does not grow with its input (|z| <= sqrt(n)), so
this pass, run just before the inference, sets the default precision instead, as for any
layer whose type is not configured.
"""

from hls4ml.model.layers import LayerNormalization
from hls4ml.model.optimizer import OptimizerPass
from hls4ml.model.types import UnspecifiedPrecisionType


class LayerNormResult(OptimizerPass):
    def match(self, node):
        return isinstance(node, LayerNormalization) and isinstance(
            node.get_output_variable().type.precision, UnspecifiedPrecisionType
        )

    def transform(self, model, node):
        config = model.config
        node.get_output_variable().type.precision = config.backend.convert_precision_string(
            config.model_precision['default']
        )
        return False
