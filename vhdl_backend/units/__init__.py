"""Hardware units, one module per kind; `UNIT_FOR_LAYER` maps hls4ml IR classes to them."""

from .activation import ActivationUnit
from .add import AddUnit
from .batchnorm import BatchNormUnit
from .dense import DenseUnit
from .pooling import GlobalAvgUnit
from .posenc import PositionalEncodingUnit
from .softmax import SoftmaxUnit

# hls4ml IR class name -> unit. Layers that only rename a buffer are in ALIAS_LAYERS.
UNIT_FOR_LAYER = {
    'Dense': DenseUnit,
    'PointwiseConv1D': DenseUnit,  # hls4ml's rewrite of a Dense over (time, features)
    'Conv1D': DenseUnit,  # the same rewrite before a backend specialises it; kernel 1 only
    'Activation': ActivationUnit,
    'ReLU': ActivationUnit,
    'BatchNormalization': BatchNormUnit,
    'ApplyAlpha': BatchNormUnit,  # QKeras power-of-2 alpha, factored out by hls4ml
    'Merge': AddUnit,
    'Add': AddUnit,
    'GlobalPooling1D': GlobalAvgUnit,
    'VSSoftmax': SoftmaxUnit,  # vhdlspartan.layers.QSoftmax
    'VSPositionalEncoding': PositionalEncodingUnit,  # vhdlspartan.layers.QPositionalEncoding
}
ALIAS_LAYERS = ('Reshape', 'Flatten', 'Dropout')
KERAS_LAYERS_SUPPORTED = (
    'InputLayer, Dense/QDense (2-D, or per time step on 3-D input), Activation/QActivation '
    '(relu, linear, quantized_relu, quantized_bits), ReLU, Add, BatchNormalization/QBatchNormalization, '
    'GlobalAveragePooling1D, Flatten, Reshape, Dropout, vhdlspartan.layers.QSoftmax and QPositionalEncoding'
)
