"""QSoftmax over the last axis: rows of N elements (see vhdlspartan.layers.QSoftmax).

VHDL: ``vs_softmax.vhd``, with the exp table in a ROM of its own and `divs` vs_dividers for the
per-element divisions (round robin; `softmax_dividers` chooses how many).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ...errors import UnsupportedError
from ...fixed import requantize
from ...integer_ops import check_exp_table, exp_table, reference_softmax, signed_type, unsigned_unit_type
from .base import Emitted, Rom, addr_width, pack_words, table_reader_emit

DIVIDERS_KEY = 'SoftmaxDividers'  # optional hls4ml config key (layer name, then layer type level)


# Past 4 dividers (about 80 LUTs each) few cycles remain to win: at window 12 and 16 lanes,
# 4 dividers take 763 cycles and 12 take 451, for 770 more LUTs (Yosys).
DEFAULT_MAX_DIVIDERS = 4
_UNSET = object()


def softmax_dividers(layer, design, n: int, num_width: int) -> int:
    """Pass-3 dividers of a softmax over rows of n: as many as the engine has lanes (the scale of
    the design) up to DEFAULT_MAX_DIVIDERS, capped where more would never be used: n (one division
    per element of a row) and num_width + 2 (a divider takes a new start that often, so that many
    give one division a cycle). The layer's SoftmaxDividers config key, when given, replaces
    the default (up to the same caps)."""
    wanted = design.layer_config_value(layer, DIVIDERS_KEY, _UNSET, model_level=False)
    if wanted is _UNSET:
        wanted = min(design.lanes, DEFAULT_MAX_DIVIDERS)
    elif not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 1:
        raise UnsupportedError(f'layer {layer.name!r} {DIVIDERS_KEY} {wanted!r} is not valid; use an integer >= 1')
    return min(wanted, n, num_width + 2)


@dataclass
class SoftmaxUnit:
    entity = 'vs_softmax'  # vhdl/vs_softmax.vhd
    label = 'softmax'  # instance label suffix in the top level
    name: str
    layer_name: str
    x: object
    y: object
    rows: int
    n: int
    input_bits: int
    input_integer: int
    exp_bits: int
    table_size: int
    table_storage: str
    divs: int = 1  # dividers of pass 3 (round robin); see softmax_dividers

    @classmethod
    def from_layer(cls, layer, design):
        x = design.input_buffer(layer)
        n = int(layer.get_input_variable().shape[-1])
        unit = cls(design.unit_name(layer), layer.name, x, design.output_buffer(layer), x.depth // n, n,
                   layer.get_attr('input_bits'), layer.get_attr('input_integer'), layer.get_attr('exp_bits'),
                   layer.get_attr('table_size'), design.storage(layer, 'weight', 0))  # fmt: skip
        check_exp_table(unit.in_type, unit.exp_type, unit.table_size, f'layer {layer.name!r} (QSoftmax)')
        unit.divs = softmax_dividers(layer, design, unit.n, unit.num_width)
        return unit

    @property
    def in_type(self):
        return signed_type(self.input_bits, self.input_integer)

    @property
    def exp_type(self):
        return unsigned_unit_type(self.exp_bits)

    @property
    def sum_width(self) -> int:
        return (self.n * self.exp_type.max_int).bit_length()

    @property
    def num_width(self) -> int:
        return self.exp_type.width + self.y.type.frac

    def emulate(self, env):
        q = requantize(env[self.x.name], self.x.type.frac, self.in_type).reshape(-1, self.rows, self.n)
        out = reference_softmax(q, self.in_type, self.exp_type, self.y.type, self.table_size)
        return out.reshape(q.shape[0], -1)

    def cycles(self) -> int:
        """The closed formula of vs_softmax.vhd's header."""
        n, d, busy = self.n, self.divs, self.num_width + 2
        last_burst, last_pos = (n - 1) // d * max(d, busy), (n - 1) % d
        row_period = last_burst + max(2 * n + last_pos + 1, busy)
        return 2 * n + 1 + (self.rows - 1) * row_period + last_burst + last_pos + self.num_width + 10

    def rom(self) -> Rom:
        return Rom(f'{self.name}_exp', self._rom_words, self.exp_type.width, self.table_storage)

    @cached_property
    def _rom_words(self):  # fixed once lowered; the resource model reads the ROM at every estimate
        table = exp_table(self.in_type, self.exp_type, self.table_size)
        return pack_words(table.reshape(-1, 1), self.exp_type.width)

    def generics(self, engine) -> dict:
        return dict(
            ROWS=self.rows, N=self.n, AW=self.x.aw, X_W=self.x.type.width, X_SIGNED=self.x.type.signed,
            SHIFT=self.x.type.frac - self.in_type.frac, IN_W=self.in_type.width,
            TABLE_SIZE=self.table_size, TA_W=addr_width(self.table_size), E_W=self.exp_type.width,
            SUM_W=self.sum_width, OUT_W=self.y.type.width, OUT_F=self.y.type.frac, NUM_W=self.num_width,
            DIVS=self.divs,
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        return table_reader_emit(self, engine, self.rom())
