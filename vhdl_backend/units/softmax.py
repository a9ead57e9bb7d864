"""Softmax over the last axis: rows of N elements. From vhdlspartan.layers.QSoftmax (its own
types), and from hls4ml's Softmax layer (Keras Activation('softmax'), Dense(activation='softmax'),
tf.keras.layers.Softmax; `lower_softmax`), whose config keys map onto the same unit:

- Precision ``exp_table`` (else hls4ml's attribute exp_table_t, default fixed<18,8>; hls4ml 1.3
  itself sets that attribute only from a layer key exp_table_t, not from the Precision entry that
  config_from_keras_model writes): its fraction bits F are the exp table's (entries
  ufixed<F+1,1>: exp(-d) is in [0, 1]; the integer bits are not needed).
- ``TableSize`` (table_size, default 1024): the most entries the exp ROM may have. The table is
  indexed by the distance to the row maximum in steps of the softmax input type's LSB, and must
  reach the distance where exp rounds to 0; the input type keeps the incoming tensor's integer
  bits (plus a sign) and takes the most fraction bits (up to the tensor's own) for which that
  distance fits in TableSize entries (with the defaults: 7 fraction bits, 976 entries).
- Precision ``result``: the probabilities' type, a RND_CONV type (each exact quotient rounds half
  to even); unless 1.0 is representable, unsigned with SAT. Not configured (or 'auto'):
  ufixed<16,1,RND_CONV,SAT> (passes/softmax_result.py).
- Precision ``inv_table`` (inv_table_t), ``inv_inp``, ``accum``: not used; the unit sums exactly
  and divides exactly, where hls4ml's C++ multiplies by a 1/sum table entry.
- ``Implementation``: 'stable', 'latency' and 'legacy' are all this unit (max subtracted,
  exact division); 'argmax' is the one-hot unit of argmax.py. ``Skip: true`` removes the layer,
  as hls4ml's skip_softmax does (the logits are the output).

VHDL: ``vs_softmax.vhd``, with the exp table in a ROM of its own and `divs` vs_dividers for the
per-element divisions (round robin; `softmax_dividers` chooses how many).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ...errors import UnsupportedError
from ...fixed import FixedType, requantize
from ...integer_ops import (
    MAX_TABLE_SIZE,
    check_exp_table,
    exp_table,
    min_exp_table_size,
    reference_softmax,
    signed_type,
    unsigned_unit_type,
)
from .base import Emitted, Rom, addr_width, pack_words, precision_entry, table_reader_emit

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
        """vhdlspartan.layers.QSoftmax (IR class VSSoftmax): the types are the layer's own."""
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


# -- hls4ml's Softmax layer ---------------------------------------------------------------------

IMPLEMENTATIONS = ('stable', 'latency', 'legacy', 'argmax')  # hls4ml's softmax_implementation
MAX_EXP_FRAC = 24  # exp table entries of up to 25 bits
DEFAULT_RESULT = 'ufixed<16,1,RND_CONV,SAT>'  # Precision result not configured (or 'auto')
DEFAULT_ARGMAX_RESULT = 'ufixed<1,1,RND_CONV,SAT>'  # Implementation argmax: 0 or 1
DEFAULT_EXP_TABLE = (18, 8)  # hls4ml's exp_table_t default, fixed<18,8>
DEFAULT_TABLE_SIZE = 1024  # hls4ml's table_size default
SUPPORTED_TEXT = ('softmax over the last axis (-1) of 2-D (batch, n) and 3-D (batch, rows, n) tensors; Implementation '
                  f'{IMPLEMENTATIONS}; Precision exp_table with 1..{MAX_EXP_FRAC} fraction bits; TableSize 2..'
                  f'{MAX_TABLE_SIZE}; Precision result a RND_CONV type')  # fmt: skip


def is_keras_softmax(layer) -> bool:
    """hls4ml's Softmax layer, or an Activation layer whose activation is softmax."""
    return layer.class_name == 'Softmax' or str(layer.get_attr('activation', '')).lower() == 'softmax'


def configured_precision(layer, *names):
    """The layer's Precision entry for the first of `names` the config sets, at layer-name level,
    then at layer-type level (None when only the model default applies, or when it is 'auto')."""
    value = precision_entry(layer, *names)
    return None if value is None or str(value).lower() == 'auto' else value


def configured_result(layer):
    return configured_precision(layer, 'result', 'default')


def default_result(layer) -> str:
    return DEFAULT_ARGMAX_RESULT if implementation(layer) == 'argmax' else DEFAULT_RESULT


def implementation(layer) -> str:
    return str(layer.get_attr('implementation', 'stable')).lower()


def _what(layer) -> str:
    return f'layer {layer.name!r} (hls4ml {layer.class_name})'


def check_softmax_axis(layer) -> list:
    """The input shape (batch excluded) of a softmax over its last axis; anything else is refused."""
    shape = [int(d) for d in layer.get_input_variable().shape]
    axis = layer.get_attr('axis', -1)
    if len(shape) not in (1, 2):
        raise UnsupportedError(f'{_what(layer)}: softmax of a {len(shape) + 1}-D tensor (shape {shape} without the '
                               f'batch) is not supported; supported: {SUPPORTED_TEXT}')  # fmt: skip
    if axis not in (-1, len(shape)):
        raise UnsupportedError(f'{_what(layer)}: softmax over axis {axis} of a {len(shape) + 1}-D tensor is not '
                               f'supported; supported: {SUPPORTED_TEXT}')  # fmt: skip
    return shape


def exp_type_of(layer) -> FixedType:
    """The exp table's entries from Precision exp_table (else the attribute exp_table_t, which
    hls4ml 1.3 sets from a layer key exp_table_t only): its fraction bits."""
    configured = configured_precision(layer, 'exp_table')
    if configured is not None:
        prec = layer.model.config.backend.convert_precision_string(configured)
    else:
        prec = getattr(layer.get_attr('exp_table_t'), 'precision', None)
    width, integer = (int(prec.width), int(prec.integer)) if prec is not None else DEFAULT_EXP_TABLE
    frac = width - integer
    if not 1 <= frac <= MAX_EXP_FRAC:
        raise UnsupportedError(f'{_what(layer)}: Precision exp_table {prec} has {frac} fraction bits; the exp table '
                               f'takes 1..{MAX_EXP_FRAC} (its entries are ufixed<F+1,1>, F the fraction bits); '
                               'e.g. fixed<18,8> (10 fraction bits)')  # fmt: skip
    return unsigned_unit_type(frac + 1)


def table_size_of(layer) -> int:
    size = layer.get_attr('table_size', DEFAULT_TABLE_SIZE)
    if not isinstance(size, int) or isinstance(size, bool) or not 2 <= size <= MAX_TABLE_SIZE:
        raise UnsupportedError(f'{_what(layer)}: TableSize (table_size) {size!r} is not valid; use an integer '
                               f'2..{MAX_TABLE_SIZE}')  # fmt: skip
    return size


def softmax_input_type(layer, x_type: FixedType, exp_type: FixedType, table_size: int) -> FixedType:
    """The signed type the softmax casts its input to: x's integer bits and a sign, and the most
    fraction bits (at most x's) for which the exp table reaches exp's last non-zero entry within
    table_size entries."""
    int_bits = max(1, x_type.width - x_type.frac - int(x_type.signed))
    best = None
    for frac in range(max(x_type.frac, 0) + 1):
        t = signed_type(int_bits + 1 + frac, int_bits)
        if min_exp_table_size(t, exp_type) > table_size:
            break
        best = t
    if best is None:
        need = min_exp_table_size(signed_type(int_bits + 1, int_bits), exp_type)
        raise UnsupportedError(f'{_what(layer)}: TableSize (table_size) {table_size} is too small for Precision '
                               f'exp_table with {exp_type.frac} fraction bits: exp is non-zero up to a distance of '
                               f'{need - 2} even on an integer grid; use TableSize >= {need} or fewer exp_table '
                               'fraction bits')  # fmt: skip
    return best


def check_result_type(layer, t: FixedType) -> None:
    """The unit rounds each exact quotient half to even and, as an unsigned value, saturates."""
    if t.rounding != 'RND_CONV' or t.frac < 0:
        raise UnsupportedError(f'{_what(layer)}: Precision result {t} is not supported: the softmax rounds its exact '
                               f'quotients half to even; use a RND_CONV type with fraction bits >= 0, e.g. '
                               f'{DEFAULT_RESULT} (the default)')  # fmt: skip
    one = 1 << t.frac
    if one > t.max_int and (t.signed or t.saturation != 'SAT'):
        raise UnsupportedError(f'{_what(layer)}: Precision result {t} cannot hold 1.0, and only an unsigned SAT type '
                               f'saturates as the softmax unit does; use {DEFAULT_RESULT} (the default), or an '
                               'unsigned SAT type')  # fmt: skip


def lower_softmax(layer, design):
    """hls4ml's Softmax (or an Activation with activation softmax) onto vs_softmax or vs_argmax."""
    shape = check_softmax_axis(layer)
    impl = implementation(layer)
    if impl not in IMPLEMENTATIONS:
        raise UnsupportedError(f'{_what(layer)}: Implementation {impl!r} is not supported; supported: {IMPLEMENTATIONS}')
    if layer.get_attr('skip', False):  # hls4ml's skip_softmax: the layer is removed
        design.buffers[layer.outputs[0]] = design.input_buffer(layer)
        return []
    if impl == 'argmax':
        from .argmax import ArgmaxUnit

        return ArgmaxUnit.from_layer(layer, design)
    from .activation import cast_input

    exp_type = exp_type_of(layer)
    table_size = table_size_of(layer)
    in_type = softmax_input_type(layer, design.input_buffer(layer).type, exp_type, table_size)
    y = design.output_buffer(layer)
    check_result_type(layer, y.type)
    # The logits are cast to in_type first, by a cast of its own (fused into the Dense before it
    # where that Dense alone reads them): vs_softmax's own cast of a block RAM's output, with a
    # rounding adder and saturation, is too long a path for the timing budget (7.6 ns seen).
    units, x = cast_input(design, layer, in_type)
    n = shape[-1]
    unit = SoftmaxUnit(design.unit_name(layer), layer.name, x, y, x.depth // n, n, in_type.width,
                       in_type.integer - 1, exp_type.width, min_exp_table_size(in_type, exp_type),
                       design.storage(layer, 'weight', 0))  # fmt: skip
    check_exp_table(unit.in_type, unit.exp_type, unit.table_size, _what(layer))
    unit.divs = softmax_dividers(layer, design, unit.n, unit.num_width)
    return units + [unit]


def result_precision(layer):
    """The hls4ml precision a Softmax's result gets when the config does not set it."""
    return layer.model.config.backend.convert_precision_string(default_result(layer))
