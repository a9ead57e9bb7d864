"""Give a softmax whose result precision the config does not set our default result type.

hls4ml types such a Softmax with the model's default precision (fixed<16,6>), a signed type
with 10 fraction bits for values in [0, 1]. Unless the layer's Precision result is set at
layer-name or layer-type level (and not 'auto'), this pass, run before hls4ml's precision
inference, sets ufixed<16,1,RND_CONV,SAT> (Implementation argmax: ufixed<1,1,RND_CONV,SAT>),
the unsigned probabilities the softmax unit writes (units/softmax.py).
"""

from hls4ml.model.layers import Activation
from hls4ml.model.optimizer import OptimizerPass

from ..units.softmax import configured_result, is_keras_softmax, result_precision

MARK = 'vhdlspartan_softmax_result'


class SoftmaxResult(OptimizerPass):
    def match(self, node):
        return isinstance(node, Activation) and is_keras_softmax(node) and not node.get_attr(MARK, False)

    def transform(self, model, node):
        node.set_attr(MARK, True)
        if configured_result(node) is None:
            node.get_output_variable().type.precision = result_precision(node)
        return False
