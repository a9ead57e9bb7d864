"""GlobalAveragePooling1D: y[c] = cast(sum_t x[t, c] / T), the exact quotient rounded once.

VHDL: ``vs_gavg.vhd``: running sums over x in its stored order, then a pipelined exact divider
(exact for any window length T), one channel a cycle: a register after the read, one after the
sum, one after |sum|, one per quotient bit, and three for the rounding and saturation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedError
from ...fixed import bits_for_range, divide_requantize
from ...integer_ops import signed_type
from .activation import cast_input
from .base import Emitted, unit_instance, walk_reads

MAX_DEN_BITS = 30  # the divisor is a VHDL integer generic


def divider_stages(num_w: int, den_w: int) -> int:
    """vs_gavg's divider stages: the quotient's top min(den_w, num_w) - 1 bits are 0, since the
    numerator's top bits are below the divisor, so they start as its remainder."""
    return num_w - (min(den_w, num_w) - 1)


@dataclass
class GlobalAvgUnit:
    entity = 'vs_gavg'  # vhdl/vs_gavg.vhd
    label = 'gavg'  # instance label suffix in the top level
    name: str
    layer_name: str
    x: object
    y: object
    steps: int
    channels: int

    @classmethod
    def from_layer(cls, layer, design):
        what = f'layer {layer.name!r} ({layer.class_name})'
        if str(layer.get_attr('pool_op', 'Average')).lower() != 'average':
            raise UnsupportedError(f'{what}: global {layer.get_attr("pool_op")} pooling is not supported; '
                                   'supported: GlobalAveragePooling1D')  # fmt: skip
        shape = list(layer.get_input_variable().shape)
        if len(shape) != 2:
            raise UnsupportedError(f'{what}: input shape {shape} is not supported; use (time, features)')
        units, x = [], design.input_buffer(layer)
        if layer.class_name == 'VSGlobalAveragePooling':  # QGlobalAveragePooling1D casts its input first
            units, x = cast_input(design, layer, signed_type(layer.get_attr('input_bits'), layer.get_attr('input_integer')))
        unit = cls(design.unit_name(layer), layer.name, x, design.output_buffer(layer), shape[0], shape[1])
        if unit.den.bit_length() > MAX_DEN_BITS:
            raise UnsupportedError(f'{what}: output precision {unit.y.type} is too coarse for input {unit.x.type}')
        return units + [unit]

    @property
    def shift(self) -> int:  # K: output frac bits minus input frac bits
        return self.y.type.frac - self.x.type.frac

    @property
    def den(self) -> int:
        return self.steps << max(-self.shift, 0)

    @property
    def num_width(self) -> int:
        xt = self.x.type
        return bits_for_range(self.steps * xt.min_int, self.steps * xt.max_int) + max(self.shift, 0)

    def emulate(self, env):
        total = env[self.x.name].reshape(-1, self.steps, self.channels).sum(axis=1)
        return divide_requantize(total << max(self.shift, 0), self.den, self.y.type)

    @property
    def div_stages(self) -> int:
        return divider_stages(self.num_width, self.den.bit_length())

    def cycles(self) -> int:
        return self.steps * self.channels + self.div_stages + 7

    def first_reads(self) -> dict:
        return {self.x.name: walk_reads(self.steps * self.channels)}

    def write_cycles(self) -> np.ndarray:
        """Channel c's mean is written once its last time step is summed and divided."""
        return (self.steps - 1) * self.channels + np.arange(self.channels, dtype=np.int64) + self.div_stages + 8

    def generics(self, engine) -> dict:
        """The VHDL generics of the unit's entity (also what the resource model reads)."""
        xt, yt = self.x.type, self.y.type
        return dict(
            T=self.steps, C=self.channels, AW=self.x.aw, YAW=self.y.aw, X_W=xt.width, X_SIGNED=xt.signed,
            K=self.shift, NUM_W=self.num_width, DEN_W=self.den.bit_length(), DEN=self.den,
            Y_W=yt.width, Y_SIGNED=yt.signed, RND=yt.rounding_code, SAT=yt.saturation_code,
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        return unit_instance(self, engine, {'x': self.x})
