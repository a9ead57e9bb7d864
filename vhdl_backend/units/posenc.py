"""QPositionalEncoding: y = cast(x + pe) with the quantized table in a ROM read beside x.

VHDL: ``vs_add.vhd`` with its second operand from the table ROM (same address as x). When the
incoming tensor is not already on the layer's input grid, a cast unit (``vs_map``) runs first,
as the Keras layer casts its input before adding.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ...errors import UnsupportedError
from ...fixed import FixedType
from ...integer_ops import signed_type
from .activation import cast_input
from .add import add_generics, exact_sum
from .base import Buffer, Emitted, Rom, WalkTiming, pack_words, unit_instance


@dataclass
class PositionalEncodingUnit(WalkTiming):
    entity = 'vs_add'  # vhdl/vs_add.vhd
    label = 'posenc'  # instance label suffix in the top level
    WALK_LAT = 4  # vs_add: read, sum, floor + rounding decision, their sum + saturation
    name: str
    layer_name: str
    x: Buffer
    y: Buffer
    pe_type: FixedType
    table: np.ndarray  # pe_type codes, flattened (window * d_model)
    table_storage: str

    @classmethod
    def from_layer(cls, layer, design):
        what = f'layer {layer.name!r} (QPositionalEncoding)'
        x = design.input_buffer(layer)
        in_type = signed_type(layer.get_attr('input_bits'), layer.get_attr('input_integer'))
        pe_type = signed_type(layer.get_attr('pe_bits'), layer.get_attr('pe_integer'))
        table = pe_type.from_float(np.asarray(layer.get_attr('table_data'), dtype=np.float64)).reshape(-1)
        if table.size != x.depth:
            raise UnsupportedError(f'{what}: table of {table.size} values for an input of {x.depth}')
        units, x = cast_input(design, layer, in_type)
        units.append(cls(design.unit_name(layer), layer.name, x, design.output_buffer(layer), pe_type, table,
                         design.storage(layer, 'weight', 0)))  # fmt: skip
        return units

    def emulate(self, env):
        return exact_sum(env[self.x.name], self.x.type.frac, self.table, self.pe_type.frac, self.y.type)

    def rom(self) -> Rom:
        return Rom(f'{self.name}_pe', self._rom_words, self.pe_type.width, self.table_storage)

    @cached_property
    def _rom_words(self):  # fixed once lowered; the resource model reads the ROM at every estimate
        return pack_words(self.table.reshape(-1, 1), self.pe_type.width)

    def generics(self, engine) -> dict:
        return add_generics(self.x.depth, self.x.aw, self.x.type, self.pe_type, self.y.type)

    def emit(self, engine) -> Emitted:
        return unit_instance(self, engine, {'a': self.x}, {'b': self.rom()})
