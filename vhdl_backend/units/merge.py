"""Element-wise merges of two tensors of equal shape other than Add (hls4ml's Merge with op
subtract, multiply, average, maximum, minimum): the exact result, then one cast to the output
type (hls4ml's result precision). Average is (a + b) / 2, exact on one more fraction bit.

VHDL: ``vs_merge.vhd``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedError
from ...fixed import requantize
from .base import Emitted, WalkTiming, unit_instance

MERGE_OPS = {'subtract': 0, 'multiply': 1, 'average': 2, 'maximum': 3, 'minimum': 4}  # vs_merge's OP


def exact_merge(op: str, a, a_frac: int, b, b_frac: int, y_type):
    """cast(a op b): the exact result, then one cast to y_type."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if op == 'multiply':
        return requantize(a * b, a_frac + b_frac, y_type)
    frac = max(a_frac, b_frac)
    a, b = a << (frac - a_frac), b << (frac - b_frac)
    exact, frac = {
        'subtract': (a - b, frac), 'average': (a + b, frac + 1),
        'maximum': (np.maximum(a, b), frac), 'minimum': (np.minimum(a, b), frac),
    }[op]  # fmt: skip
    return requantize(exact, frac, y_type)


@dataclass
class MergeUnit(WalkTiming):
    entity = 'vs_merge'  # vhdl/vs_merge.vhd
    label = 'merge'  # instance label suffix in the top level
    WALK_LAT = 5  # vs_merge: read, operands, exact result, floor + rounding decision, their sum + saturation
    name: str
    layer_name: str
    op: str
    a: object
    b: object
    y: object

    @classmethod
    def from_layer(cls, layer, design):
        what = f'layer {layer.name!r} ({layer.class_name})'
        op = str(layer.get_attr('op', '')).lower()
        if op not in MERGE_OPS or len(layer.inputs) != 2:
            raise UnsupportedError(f'{what}: merge {op!r} of {len(layer.inputs)} inputs is not supported; supported: '
                                   'Add, Subtract, Multiply, Average, Maximum, Minimum of two tensors of equal shape')  # fmt: skip
        shapes = [list(layer.get_input_variable(name).shape) for name in layer.inputs]
        if shapes[0] != shapes[1] or len(shapes[0]) > 2:
            raise UnsupportedError(f'{what}: inputs of shapes {shapes[0]} and {shapes[1]}; {op} needs two tensors '
                                   'of equal shape, (features) or (time, features) (no broadcasting)')  # fmt: skip
        a, b = (design.buffer_of(name) for name in layer.inputs)
        if a is b:
            raise UnsupportedError(f'{what}: a merge of a tensor with itself is not supported')
        unit = cls(design.unit_name(layer), layer.name, op, a, b, design.output_buffer(layer))
        if unit.product_width > 62:
            raise UnsupportedError(f'{what}: inputs {a.type} and {b.type} are too wide for an exact {op}')
        return unit

    @property
    def product_width(self) -> int:
        return self.a.type.width + self.b.type.width + 2

    def emulate(self, env):
        return exact_merge(self.op, env[self.a.name], self.a.type.frac, env[self.b.name], self.b.type.frac, self.y.type)

    def generics(self, engine) -> dict:
        """The VHDL generics of the unit's entity (also what the resource model reads)."""
        at, bt, yt = self.a.type, self.b.type, self.y.type
        if self.op == 'multiply':
            a_shift = b_shift = 0
            frac = at.frac + bt.frac
        else:
            frac = max(at.frac, bt.frac)
            a_shift, b_shift = frac - at.frac, frac - bt.frac
            frac += self.op == 'average'
        return dict(
            N=self.a.depth, AW=self.a.aw, OP=MERGE_OPS[self.op],
            A_W=at.width, A_SIGNED=at.signed, A_SHIFT=a_shift, B_W=bt.width, B_SIGNED=bt.signed, B_SHIFT=b_shift,
            SHIFT=frac - yt.frac, Y_W=yt.width, Y_SIGNED=yt.signed, RND=yt.rounding_code, SAT=yt.saturation_code,
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        return unit_instance(self, engine, {'a': self.a, 'b': self.b})


def lower_merge(layer, design):
    """hls4ml's Merge IR layer: Add on vs_add (its calibrated entity), the other ops on vs_merge."""
    from .add import AddUnit

    if str(layer.get_attr('op', 'add')).lower() == 'add':
        return AddUnit.from_layer(layer, design)
    return MergeUnit.from_layer(layer, design)
