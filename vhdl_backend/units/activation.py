"""Activation: ReLU or linear, then a cast to the output type (QActivation's quantizer).

VHDL: ``vs_map.vhd``. hls4ml's ReLU assigns max(x, 0) to the output type; linear assigns x.
`lower_activation` sends the other activations to their units: sigmoid, tanh and ELU to
table_activation.py (a ROM), LeakyReLU, PReLU and the hard sigmoid/tanh to pwl_activation.py,
softmax to softmax.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedError
from ...fixed import requantize
from .base import Buffer, Emitted, WalkTiming, unit_instance, vhdl_name

SUPPORTED_ACTIVATIONS = ('relu', 'linear', 'sigmoid', 'tanh', 'elu', 'leaky_relu', 'prelu', 'hard_sigmoid', 'hard_tanh')
TABLE_ACTIVATIONS = ('sigmoid', 'tanh')


def lower_activation(layer, design):
    """The unit of an hls4ml activation layer (Activation, ParametrizedActivation, PReLU, HardActivation)."""
    from .pwl_activation import PwlActivationUnit
    from .softmax import is_keras_softmax, lower_softmax
    from .table_activation import TableActivationUnit

    if is_keras_softmax(layer):  # an Activation whose activation is softmax (hls4ml mostly makes it a Softmax)
        return lower_softmax(layer, design)
    activation = str(layer.get_attr('activation', '')).lower()
    if layer.class_name in ('PReLU', 'HardActivation') or activation == 'leakyrelu':
        return PwlActivationUnit.from_layer(layer, design)
    if layer.get_attr('relu_threshold'):  # a Keras ReLU layer's options (handlers.wrap_parsers)
        raise UnsupportedError(f'layer {layer.name!r} (ReLU): threshold={layer.get_attr("relu_threshold")} is not '
                               'supported; supported: threshold 0 (with any max_value and negative_slope)')  # fmt: skip
    if layer.get_attr('relu_max_value') is not None or layer.get_attr('relu_negative_slope'):
        return PwlActivationUnit.relu(layer, design)
    if activation in TABLE_ACTIVATIONS + ('elu',):
        return TableActivationUnit.from_layer(layer, design)
    return ActivationUnit.from_layer(layer, design)


@dataclass
class ActivationUnit(WalkTiming):
    entity = 'vs_map'  # vhdl/vs_map.vhd
    label = 'map'  # instance label suffix in the top level
    WALK_LAT = 3  # vs_map: read, floor + rounding decision, sum + saturation
    name: str
    layer_name: str
    x: object
    y: object
    relu: bool

    @classmethod
    def from_layer(cls, layer, design):
        activation = str(layer.get_attr('activation', '')).lower()
        if activation not in SUPPORTED_ACTIVATIONS:
            raise UnsupportedError(
                f'layer {layer.name!r} ({layer.class_name}): activation {activation!r} is not supported; '
                f'supported: {SUPPORTED_ACTIVATIONS} (QKeras: quantized_relu, quantized_bits, quantized_sigmoid, '
                'quantized_tanh)'
            )
        return cls(design.unit_name(layer), layer.name, design.input_buffer(layer), design.output_buffer(layer),
                   activation == 'relu')  # fmt: skip

    def emulate(self, env):
        return self.map_codes(env[self.x.name])

    def map_codes(self, x):
        """ReLU (if any), then the cast from x.type's grid to y.type."""
        if self.relu:
            x = np.maximum(x, 0)
        return requantize(x, self.x.type.frac, self.y.type)

    def generics(self, engine) -> dict:
        """The VHDL generics of the unit's entity (also what the resource model reads)."""
        xt, yt = self.x.type, self.y.type
        return dict(
            N=self.x.depth, AW=self.x.aw, X_W=xt.width, X_SIGNED=xt.signed, SHIFT=xt.frac - yt.frac,
            Y_W=yt.width, Y_SIGNED=yt.signed, RND=yt.rounding_code, SAT=yt.saturation_code, RELU=self.relu,
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        return unit_instance(self, engine, {'x': self.x})


def cast_input(design, layer, in_type, tag: str = 'in'):
    """(units, buffer): the layer's input as in_type. A layer of ours casts its input first,
    as its Keras forward pass does; when the incoming tensor is already on in_type's grid
    and range the cast is the identity and no unit is made."""
    x = design.input_buffer(layer)
    if in_type.holds(x.type):
        return [], x
    buf = Buffer(design._unique(f't_{vhdl_name(layer.name)}_{tag}'), x.depth, in_type, design.storage(layer, 'result', 0))
    design.buffers[f'{layer.outputs[0]}:{tag}'] = buf
    return [ActivationUnit(design._unique(f'u_{vhdl_name(layer.name)}_cast'), layer.name, x, buf, False)], buf
