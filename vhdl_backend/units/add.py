"""Add of two tensors: the exact sum on the finer of the two scales, then the cast.

VHDL: ``vs_add.vhd``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import UnsupportedError
from ...fixed import requantize
from .base import Emitted, WalkTiming, unit_instance


def exact_sum(a, a_frac: int, b, b_frac: int, y_type):
    """cast(a + b): the exact sum on the finer of the two scales, then one cast."""
    frac = max(a_frac, b_frac)
    return requantize((a << (frac - a_frac)) + (b << (frac - b_frac)), frac, y_type)


def add_generics(n: int, aw: int, at, bt, yt) -> dict:
    """Generics of vs_add for operands of types at and bt and result type yt."""
    frac = max(at.frac, bt.frac)
    return dict(
        N=n, AW=aw,
        A_W=at.width, A_SIGNED=at.signed, A_SHIFT=frac - at.frac,
        B_W=bt.width, B_SIGNED=bt.signed, B_SHIFT=frac - bt.frac,
        SHIFT=frac - yt.frac, Y_W=yt.width, Y_SIGNED=yt.signed, RND=yt.rounding_code, SAT=yt.saturation_code,
    )  # fmt: skip


@dataclass
class AddUnit(WalkTiming):
    entity = 'vs_add'  # vhdl/vs_add.vhd
    label = 'add'  # instance label suffix in the top level
    WALK_LAT = 4  # vs_add: read, sum, floor + rounding decision, their sum + saturation
    name: str
    layer_name: str
    a: object
    b: object
    y: object

    @classmethod
    def from_layer(cls, layer, design):
        what = f'layer {layer.name!r} ({layer.class_name})'
        op = str(layer.get_attr('op', 'add')).lower()
        if op != 'add' or len(layer.inputs) != 2:
            raise UnsupportedError(f'{what}: merge {op!r} of {len(layer.inputs)} inputs is not supported; '
                                   'supported: Add of two tensors')  # fmt: skip
        a, b = (design.buffer_of(name) for name in layer.inputs)
        if a.depth != b.depth:
            raise UnsupportedError(f'{what}: inputs of {a.depth} and {b.depth} elements; Add needs equal shapes')
        if a is b:
            raise UnsupportedError(f'{what}: adding a tensor to itself is not supported; use a scaling layer')
        return cls(design.unit_name(layer), layer.name, a, b, design.output_buffer(layer))

    def emulate(self, env):
        return exact_sum(env[self.a.name], self.a.type.frac, env[self.b.name], self.b.type.frac, self.y.type)

    def generics(self, engine) -> dict:
        """The VHDL generics of the unit's entity (also what the resource model reads)."""
        return add_generics(self.a.depth, self.a.aw, self.a.type, self.b.type, self.y.type)

    def emit(self, engine) -> Emitted:
        return unit_instance(self, engine, {'a': self.a, 'b': self.b})
