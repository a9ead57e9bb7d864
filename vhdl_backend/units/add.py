"""Add of two tensors: the exact sum on the finer of the two scales, then the cast.

VHDL: ``vs_add.vhd``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import UnsupportedError
from ...fixed import requantize
from .base import Emitted, generic_map


@dataclass
class AddUnit:
    entity = 'vs_add'  # vhdl/vs_add.vhd
    label = 'add'  # instance label suffix in the top level
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

    @property
    def frac(self) -> int:
        return max(self.a.type.frac, self.b.type.frac)

    def emulate(self, env):
        total = (env[self.a.name] << (self.frac - self.a.type.frac)) + (env[self.b.name] << (self.frac - self.b.type.frac))
        return requantize(total, self.frac, self.y.type)

    def cycles(self) -> int:
        return self.a.depth + 2

    def generics(self, engine) -> dict:
        """The VHDL generics of the unit's entity (also what the resource model reads)."""
        at, bt, yt = self.a.type, self.b.type, self.y.type
        return dict(
            N=self.a.depth, AW=self.a.aw,
            A_W=at.width, A_SIGNED=at.signed, A_SHIFT=self.frac - at.frac,
            B_W=bt.width, B_SIGNED=bt.signed, B_SHIFT=self.frac - bt.frac,
            SHIFT=self.frac - yt.frac, Y_W=yt.width, Y_SIGNED=yt.signed, RND=yt.rounding_code, SAT=yt.saturation_code,
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        n = self.name
        generics = generic_map(**self.generics(engine))
        self.a.readers.append(f'{n}_a_addr')
        self.b.readers.append(f'{n}_b_addr')
        body = f"""  {n}_{self.label} : entity work.{self.entity}
    generic map ({generics})
    port map (
      clk => clk, rst => rst, start => {n}_start, done => {n}_done,
      a_addr => {n}_a_addr, a_data => {self.a.name}_rdata, b_addr => {n}_b_addr, b_data => {self.b.name}_rdata,
      y_we => {self.y.name}_we, y_addr => {self.y.name}_waddr, y_data => {self.y.name}_wdata
    );
"""
        signals = [f'signal {n}_a_addr, {n}_b_addr : std_logic_vector({self.a.aw - 1} downto 0);']
        return Emitted(signals, body, [])
