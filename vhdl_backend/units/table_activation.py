"""Table activations: sigmoid, tanh and ELU through a ROM indexed by the input (``vs_table_map.vhd``).

Two ways to fill the table:

- QKeras ``quantized_sigmoid(use_real_sigmoid=True)`` / ``quantized_tanh(use_real_tanh=True)``
  (QActivation, or a QDense/QConv activation): exact. The table is indexed by the input code
  itself, and entry k is what QKeras' own quantizer returns for the input value of code k; the
  index is clamped where the output stops changing, so the table covers the codes where the
  function moves and no more. An input grid that needs more than MAX_TABLE entries is refused.
  (Without use_real_*, QKeras' quantized_sigmoid/tanh are hard sigmoid/tanh: hls4ml makes them
  HardActivation layers, lowered without a table in pwl_activation.py.)
- Float Keras ``sigmoid``, ``tanh`` (Activation, or a Dense activation) and ``elu`` / ELU(alpha):
  hls4ml's table keys set it. ``TableSize`` (hls4ml's table_size, default 1024, a power of 2
  here) entries cover hls4ml's input ranges: sigmoid [-8, 8), tanh [-4, 4), ELU [-8, 0); the index
  is floor(x * TableSize / range) (on the input's own grid where that is coarser), clamped to the
  range; entry k is f at the mean of the input codes of bin k, cast to ``Precision: table``
  (hls4ml's table_t, default fixed<18,8>), then to the result type. ELU passes x >= 0 through
  (cast to the result type) and folds alpha into the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ...errors import UnsupportedError
from ...fixed import FixedType, requantize
from .base import Emitted, Rom, WalkTiming, addr_width, configured_type, pack_words, table_reader_emit

MAX_TABLE = 4096  # entries: a 4096 x 8 ROM is 2 RAMB18 or about 512 LUTs
MAX_ENUMERATED = 1 << 22  # input codes the exact (QKeras) table may be computed over
TABLE_RANGES = {'sigmoid': (-8, 8), 'tanh': (-4, 4), 'elu': (-8, 0)}  # hls4ml's Vivado tables
QKERAS_TABLE_QUANTIZERS = ('quantized_sigmoid', 'quantized_tanh')


def _what(layer) -> str:
    return f'layer {layer.name!r} ({layer.class_name})'


def qkeras_quantizer(layer, aq: dict):
    """The QKeras quantizer object of an activation_quantizer dict, with its options checked."""
    cfg = dict(aq.get('config', {}))
    if cfg.get('use_stochastic_rounding'):
        raise UnsupportedError(f'{_what(layer)}: {aq["class_name"]} with use_stochastic_rounding is not supported '
                               '(its output is random); supported: use_stochastic_rounding=False')  # fmt: skip
    from qkeras import quantizers

    return getattr(quantizers, aq['class_name'])(**cfg)


@dataclass
class TableActivationUnit(WalkTiming):
    entity = 'vs_table_map'  # vhdl/vs_table_map.vhd
    label = 'table'  # instance label suffix in the top level
    WALK_LAT = 5  # vs_table_map: x_data, clamped index, table address, ROM read, output
    name: str
    layer_name: str
    x: object
    y: object
    function: str  # 'sigmoid', 'tanh' or 'elu'
    shift: int  # x frac bits minus index frac bits
    lo: int  # index range of the table
    hi: int
    entries: np.ndarray  # output codes of indices lo..hi
    passthrough: bool  # ELU: x >= 0 gives x cast to y's type
    table_storage: str
    exact: bool  # QKeras: the entries are QKeras' own outputs on the input grid

    @classmethod
    def from_layer(cls, layer, design):
        what = _what(layer)
        x, y = design.input_buffer(layer), design.output_buffer(layer)
        act = str(layer.get_attr('activation', '')).lower()
        aq = layer.get_attr('activation_quantizer')
        storage = design.storage(layer, 'weight', 0)
        name = design.unit_name(layer)
        if isinstance(aq, dict) and aq.get('class_name') not in (None, 'linear'):
            if aq['class_name'] not in QKERAS_TABLE_QUANTIZERS:
                raise UnsupportedError(f'{what}: activation quantizer {aq["class_name"]} is not supported here; '
                                       f'supported: {QKERAS_TABLE_QUANTIZERS}')  # fmt: skip
            codes, out = exact_table(layer, aq, x.type, y.type)
            lo, hi = trimmed_range(codes, out)
            entries = out[lo - codes[0]:hi - codes[0] + 1]
            unit = cls(name, layer.name, x, y, act, 0, lo, hi, entries, False, storage, True)
        else:
            fn = 'elu' if act == 'elu' else act
            alpha = float(layer.get_attr('activ_param', 1.0)) if fn == 'elu' else None
            table_size = layer.get_attr('table_size', 1024)
            if not isinstance(table_size, int) or table_size < 2 or table_size & (table_size - 1):
                raise UnsupportedError(f'{what}: TableSize {table_size!r} is not supported; use a power of 2 >= 2')
            # the config's Precision 'table' (hls4ml 1.3 leaves table_t at its default, so read the config)
            tt = configured_type(layer, 'table', 'fixed<18,8>')
            unit = cls(name, layer.name, x, y, fn, *float_table(fn, alpha, table_size, tt, x.type, y.type),
                       fn == 'elu', storage, False)  # fmt: skip
        if unit.hi - unit.lo + 1 > MAX_TABLE:
            raise UnsupportedError(
                f'{what}: the table would need {unit.hi - unit.lo + 1} entries (input {x.type}), more than {MAX_TABLE}; '
                'quantize the activation input to a narrower grid (e.g. a QActivation(quantized_bits(...)) before it)'
            )
        aw = addr_width(unit.hi - unit.lo + 1)
        if not lut_rom_meets_budget(aw):  # a deep LUT ROM decodes its address through too many levels
            if storage == 'lutram':
                raise UnsupportedError(
                    f'{what}: a table of {unit.hi - unit.lo + 1} entries in LUTs misses the timing budget (its '
                    f'{aw}-bit address decode); use Storage bram for its weight (the table) or a narrower input'
                )
            unit.table_storage = 'bram'
        return unit

    # -- emulation ---------------------------------------------------------------------
    def index(self, x):
        """The clamped table index of input codes x (floor shift onto the index grid)."""
        x = np.asarray(x, dtype=np.int64)
        v = x >> self.shift if self.shift >= 0 else x << -self.shift
        return np.clip(v, self.lo, self.hi)

    def emulate(self, env):
        x = env[self.x.name]
        y = self.entries[self.index(x) - self.lo]
        if self.passthrough:
            y = np.where(x >= 0, requantize(x, self.x.type.frac, self.y.type), y)
        return y

    # -- VHDL --------------------------------------------------------------------------
    def rom(self) -> Rom:
        return Rom(f'{self.name}_tab', self._rom_words, self.y.type.width, self.table_storage)

    @cached_property
    def _rom_words(self):  # padded to a power of 2 (the last entry): no address compare in a LUT ROM
        padded = np.resize(np.append(self.entries, self.entries[-1]), 1 << addr_width(len(self.entries)))
        padded[len(self.entries):] = self.entries[-1]
        return pack_words(padded.reshape(-1, 1), self.y.type.width)

    def generics(self, engine) -> dict:
        xt, yt = self.x.type, self.y.type
        return dict(
            N=self.x.depth, AW=self.x.aw, X_W=xt.width, X_SIGNED=xt.signed, SHIFT=self.shift, LO=self.lo, HI=self.hi,
            TA_W=addr_width(self.hi - self.lo + 1), Y_W=yt.width, PASS=self.passthrough, P_SHIFT=xt.frac - yt.frac,
            Y_SIGNED=yt.signed, RND=yt.rounding_code, SAT=yt.saturation_code,
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        return table_reader_emit(self, engine, self.rom())


def lut_rom_meets_budget(aw: int) -> bool:
    """Whether a ROM in LUTs with aw address bits met the timing budget in every synthesized
    calibration design (coefficients.json '_timing'; deeper than any recorded: no)."""
    from ...resource_model.estimate import coefficients
    from ..timing import BUDGET_LEVELS, BUDGET_NS

    table = coefficients().get('_timing', {})
    entry = table.get(f'rom:lutram:{aw}')
    if entry is None:
        recorded = [int(k.rsplit(':', 1)[1]) for k in table if k.startswith('rom:lutram:')]
        return not recorded or aw < min(recorded)
    return entry['delay_ns'] <= BUDGET_NS and entry['levels'] <= BUDGET_LEVELS


def exact_table(layer, aq: dict, xt: FixedType, yt: FixedType):
    """(input codes, output codes) over every code of the input type: QKeras' quantizer applied to
    each input value (float32, as Keras computes), then as a code of the result type."""
    n = xt.max_int - xt.min_int + 1
    if n > MAX_ENUMERATED:
        raise UnsupportedError(
            f'{_what(layer)}: input {xt} has {n} codes; a QKeras {aq["class_name"]} table is computed over every input '
            f'code, up to {MAX_ENUMERATED}; quantize the activation input to a narrower type'
        )
    import tensorflow as tf

    quantizer = qkeras_quantizer(layer, aq)
    codes = np.arange(xt.min_int, xt.max_int + 1, dtype=np.int64)
    values = tf.constant(xt.to_float(codes).astype(np.float32))
    out = np.asarray(quantizer(values), dtype=np.float64)
    q = yt.from_float(out)
    if not np.array_equal(yt.to_float(q), out):
        raise UnsupportedError(f'{_what(layer)}: the result type {yt} does not hold the {aq["class_name"]} outputs '
                               'exactly; keep the result precision hls4ml derives from the quantizer')  # fmt: skip
    return codes, q


def trimmed_range(codes: np.ndarray, out: np.ndarray) -> tuple:
    """(lo, hi): the narrowest code range outside which the output equals its value at the
    nearer end, so that clamping the index to it changes no output."""
    first = np.flatnonzero(out != out[0])
    last = np.flatnonzero(out != out[-1])
    lo = codes[first[0] - 1] if first.size else codes[0]
    hi = codes[last[-1] + 1] if last.size else codes[0]
    return int(lo), int(max(hi, lo))


def _function(fn: str, alpha):
    if fn == 'sigmoid':
        return lambda v: 1.0 / (1.0 + np.exp(-v))
    if fn == 'tanh':
        return np.tanh
    return lambda v: alpha * np.expm1(v)


def float_table(fn: str, alpha, table_size: int, tt: FixedType, xt: FixedType, yt: FixedType) -> tuple:
    """(shift, lo, hi, entries) of a float activation's table in hls4ml's terms (module docstring)."""
    r_lo, r_hi = TABLE_RANGES[fn]
    s = int(np.log2(table_size / (r_hi - r_lo)))  # index frac bits of hls4ml's table
    s = min(s, xt.frac)  # an input grid coarser than the table's: index by the input code
    shift = xt.frac - s
    reach_lo, reach_hi = xt.min_int >> shift, xt.max_int >> shift
    lo = int(np.clip(r_lo * 2**s, reach_lo, reach_hi))
    hi = int(np.clip(r_hi * 2**s - 1, reach_lo, reach_hi))
    k = np.arange(lo, hi + 1, dtype=np.int64)
    centre = (k * 2.0**shift + (2.0**shift - 1) / 2) * 2.0**-xt.frac  # mean of the bin's input codes
    entries = requantize(tt.from_float(_function(fn, alpha)(centre)), tt.frac, yt)
    lo2, hi2 = trimmed_range(k, entries)
    return shift, lo2, hi2, entries[lo2 - lo:hi2 - lo + 1]
