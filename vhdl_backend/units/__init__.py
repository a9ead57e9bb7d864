"""Hardware units, one module per kind; `UNIT_FOR_LAYER` maps hls4ml IR classes to the function
that lowers such a layer (a unit, or a list of units in schedule order)."""

from .activation import ActivationUnit, lower_activation
from .attention import lower_attention
from .add import AddUnit
from .batchnorm import BatchNormUnit
from .conv1d import lower_conv1d
from .dense import DenseUnit
from .gather import GatherUnit
from .layernorm import lower_keras_layer_norm, lower_layer_norm
from .merge import lower_merge
from .pool1d import PoolUnit, lower_global_pooling
from .pooling import GlobalAvgUnit
from .posenc import PositionalEncodingUnit
from .softmax import SoftmaxUnit, lower_softmax

# hls4ml IR class name -> lowering function. Layers that only rename a buffer are in ALIAS_LAYERS.
UNIT_FOR_LAYER = {
    'Dense': DenseUnit.from_layer,
    'PointwiseConv1D': DenseUnit.from_layer,  # hls4ml's rewrite of a Dense over (time, features)
    'Conv1D': lower_conv1d,  # a Dense per output step over its window (conv1d.py)
    'DepthwiseConv1D': lower_conv1d,  # as a Conv1D with a block-diagonal kernel
    'Activation': lower_activation,  # relu, linear (vs_map); sigmoid, tanh (vs_table_map); softmax
    'ParametrizedActivation': lower_activation,  # LeakyReLU (vs_pwl), ELU (vs_table_map)
    'PReLU': lower_activation,  # vs_pwl, a slope ROM
    'HardActivation': lower_activation,  # hard_sigmoid, hard_tanh, QKeras quantized_sigmoid/tanh (vs_pwl)
    'ReLU': ActivationUnit.from_layer,
    'BatchNormalization': BatchNormUnit.from_layer,
    'ApplyAlpha': BatchNormUnit.from_layer,  # QKeras power-of-2 alpha, factored out by hls4ml
    'Merge': lower_merge,  # Add (vs_add); Subtract, Multiply, Average, Maximum, Minimum (vs_merge)
    'Add': AddUnit.from_layer,
    'GlobalPooling1D': lower_global_pooling,  # Average (vs_gavg), Max (vs_pool)
    'Pooling1D': PoolUnit.from_layer,  # MaxPooling1D, AveragePooling1D (vs_pool)
    'Concatenate': GatherUnit.from_layer,  # feature or time axis (vs_gather)
    'Resize': GatherUnit.from_layer,  # UpSampling1D (vs_gather)
    'ZeroPadding1D': GatherUnit.from_layer,  # vs_gather
    'VSSoftmax': SoftmaxUnit.from_layer,  # vhdlspartan.layers.QSoftmax
    'Softmax': lower_softmax,  # Activation('softmax'), Dense(activation='softmax'), Softmax: vs_softmax / vs_argmax
    'VSPositionalEncoding': PositionalEncodingUnit.from_layer,  # vhdlspartan.layers.QPositionalEncoding
    'VSBatchNorm': BatchNormUnit.from_folded,  # vhdlspartan.layers.QFoldedBatchNorm
    'VSGlobalAveragePooling': GlobalAvgUnit.from_layer,  # vhdlspartan.layers.QGlobalAveragePooling1D
    'VSMultiHeadAttention': lower_attention,  # QMultiHeadSelfAttention, tf.keras MultiHeadAttention
    'VSLayerNormalization': lower_layer_norm,  # vhdlspartan.layers.QLayerNormalization
    'LayerNormalization': lower_keras_layer_norm,  # tf.keras LayerNormalization (post-training)
}
ALIAS_LAYERS = ('Reshape', 'Flatten', 'Dropout')
KERAS_LAYERS_SUPPORTED = (
    'InputLayer, Dense/QDense (2-D, or per time step on 3-D input), Conv1D/QConv1D, DepthwiseConv1D and '
    'SeparableConv1D/QSeparableConv1D (any kernel, stride, dilation and padding), Activation/QActivation '
    '(relu, linear, sigmoid, tanh, elu, hard_sigmoid; quantized_relu, quantized_bits, quantized_sigmoid, '
    'quantized_tanh), ReLU, LeakyReLU, PReLU, ELU, Add, Subtract, Multiply, Average, Maximum, Minimum (two tensors of equal shape), BatchNormalization/QBatchNormalization, '
    'GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D and AveragePooling1D (padding \'valid\'; average: pool size a power of 2), Concatenate (feature or time axis), UpSampling1D, ZeroPadding1D, Flatten, Reshape, Dropout, MultiHeadAttention (self attention), '
    'LayerNormalization (last axis of 3-D input), Softmax/Activation(\'softmax\') (last axis of 2-D and 3-D '
    'input; Implementation stable, latency, legacy or argmax), and '
    'vhdlspartan.layers QSoftmax, QPositionalEncoding, QMultiHeadSelfAttention, QLayerNormalization, '
    'QFoldedBatchNorm, QGlobalAveragePooling1D'
)

