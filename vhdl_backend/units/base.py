"""What every hardware unit shares: buffers, names, and the emitted-VHDL container.

A unit is one stage of the static schedule (``vhdl_backend/schedule.py``). Each unit module
keeps four views of one thing together: lowering from the hls4ml layer (``from_layer``), the
bit-exact NumPy emulation (``emulate``), the VHDL instance it emits (``emit``) and its exact
timing: ``cycles`` (start to done) and, where it streams, ``first_reads`` / ``write_cycles``
(the cycle each element is first read / written, which lets the next unit start early); the
VHDL entity it instantiates lives in ``vhdl/<entity>.vhd``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ...errors import UnsupportedError
from ...fixed import FixedType, fixed_type_from_hls4ml, to_twos

STORAGE_KINDS = ('bram', 'lutram', 'auto')


def precision_entry(layer, *names):
    """The layer's Precision entry for the first of `names` the config sets at layer-name level,
    else at layer-type level; None when only the model default applies."""
    cfg = layer.model.config
    for table, key in ((cfg.layer_name_precision, layer.name.lower()), (cfg.layer_type_precision, layer.class_name.lower())):
        for var in names:
            value = table.get(f'{key}_{var}')
            if value is not None:
                return value
    return None


def configured_type(layer, var: str, default: str) -> FixedType:
    """The layer's Precision[var] if the config names it (layer name or type level), else default:
    the types of post-training quantized layers beyond hls4ml's own (attention, layer norm)."""
    precision = precision_entry(layer, var)
    precision = default if precision is None else precision
    cfg = layer.model.config
    return fixed_type_from_hls4ml(cfg.backend.convert_precision_string(precision), f'layer {layer.name!r} {var}')


def vhdl_name(name: str) -> str:
    """A VHDL identifier derived from an hls4ml name (lower case, no double underscores)."""
    ident = re.sub(r'[^0-9a-zA-Z]+', '_', name).strip('_').lower()
    ident = re.sub(r'_+', '_', ident)
    return ident or 'x'


def addr_width(depth: int) -> int:
    return max(1, (max(depth, 1) - 1).bit_length())


def vhdl_bool(flag: bool) -> str:
    return 'true' if flag else 'false'


def check_storage(kind: str, what: str) -> str:
    """A configured storage kind; 'auto' is resolved after lowering by the resource model."""
    if kind not in STORAGE_KINDS:
        raise UnsupportedError(f'{what}: Storage {kind!r} is not supported; use one of {STORAGE_KINDS}')
    return kind


def vhdl_style(storage: str) -> str:
    return 'block' if storage == 'bram' else 'distributed'


BANK_NONE, BANK_BY_ROW, BANK_BY_COLUMN = 0, 1, 2  # vs_dense_ctrl's Y_MODE


@dataclass
class Buffer:
    """A tensor's memory between layers: one element per word, or, banked, one element per
    word in each of `banks` memories read at one address (the second operand of a matrix
    product between buffers, P elements a cycle). Banked by row (rows of `row` elements):
    row r is in bank r mod banks at word (r div banks) * row + column. Banked by column:
    element (r, c) is in bank c mod banks at word r * row / banks + c div banks."""

    name: str  # VHDL identifier
    depth: int  # elements
    type: FixedType
    storage: str  # 'bram' or 'lutram'
    readers: list = field(default_factory=list)  # VHDL signals that drive its read address
    banks: int = 1
    bank_mode: int = BANK_NONE
    row: int = 1  # elements in a row (banked buffers)

    @property
    def words(self) -> int:
        """Words in each bank."""
        if self.bank_mode == BANK_BY_ROW:
            return -(-(self.depth // self.row) // self.banks) * self.row
        if self.bank_mode == BANK_BY_COLUMN:
            return self.depth // self.banks
        return self.depth

    @property
    def aw(self) -> int:
        return addr_width(self.words)

    @property
    def bits(self) -> int:
        return self.depth * self.type.width


NEVER = np.iinfo(np.int64).max // 4  # first_reads of an element the unit does not read


def walk_reads(n: int) -> np.ndarray:
    """vs_walk: element e's read address is presented in cycle e + 1 after the cycle start is seen."""
    return np.arange(n, dtype=np.int64) + 1


def walk_writes(n: int, lat: int) -> np.ndarray:
    """vs_walk: element e is written (we high) in cycle e + 1 + LAT; done is high with the last write."""
    return np.arange(n, dtype=np.int64) + 1 + lat


class WalkTiming:
    """Timing of the units built on vs_walk, which stream their x (and a, b) in index order: one
    element a cycle, each written WALK_LAT cycles after its read address."""

    WALK_LAT = 2

    @property
    def n_elements(self) -> int:
        return unit_inputs(self)[0].depth

    def cycles(self) -> int:
        return self.n_elements + self.WALK_LAT

    def first_reads(self) -> dict:
        return {buf.name: walk_reads(buf.depth) for buf in unit_inputs(self)}

    def write_cycles(self) -> np.ndarray:
        return walk_writes(self.n_elements, self.WALK_LAT)


def unit_inputs(unit) -> list:
    """The buffers a unit reads (its x, a, b and buffer operand w; a ROM operand is not a Buffer)."""
    return [getattr(unit, k) for k in ('x', 'a', 'b', 'w') if isinstance(getattr(unit, k, None), Buffer)]


def buffer_readers(units) -> dict:
    """{id(buffer): how many of the units read it}."""
    readers = {}
    for unit in units:
        for buf in unit_inputs(unit):
            readers[id(buf)] = readers.get(id(buf), 0) + 1
    return readers


@dataclass
class Rom:
    """A constant memory (weights, scales) with a registered read."""

    name: str  # entity name suffix
    words: list  # non-negative ints, one per word
    width: int
    storage: str

    @property
    def depth(self) -> int:
        return len(self.words)

    @property
    def aw(self) -> int:
        return addr_width(self.depth)


@dataclass
class Emitted:
    """The VHDL one unit contributes to the top level."""

    signals: list  # declarations
    body: str  # instances and assignments
    roms: list  # Rom objects the unit reads


def rom_instance(rom: Rom) -> tuple:
    """(signal declarations, instance) of a ROM a unit reads through <rom>_addr / <rom>_data.
    The instance label <rom>_rom is what the synthesis reports are joined on."""
    signals = [
        f'signal {rom.name}_addr : std_logic_vector({rom.aw - 1} downto 0);',
        f'signal {rom.name}_data : std_logic_vector({rom.width - 1} downto 0);',
    ]
    body = (f'  {rom.name}_rom : entity work.{{project}}_{rom.name}_rom\n'
            f'    port map (clk => clk, addr => {rom.name}_addr, data => {rom.name}_data);\n')  # fmt: skip
    return signals, body


def pack_words(rows, width: int) -> list:
    """Pack each row of signed/unsigned ints into one word, element 0 in the low bits."""
    words = []
    for row in rows:
        word = 0
        for k, v in enumerate(to_twos(np.asarray(row, dtype=np.int64), width).tolist()):
            word |= int(v) << (k * width)
        words.append(word)
    return words


def generic_map(**generics) -> str:
    items = []
    for key, value in generics.items():
        if isinstance(value, bool):
            value = vhdl_bool(value)
        items.append(f'{key} => {value}')
    return ', '.join(items)


def unit_instance(unit, engine, reads: dict, roms: dict | None = None, tied: str = '') -> Emitted:
    """The instance of a unit that reads buffers (port prefix -> Buffer: `{p}_addr`, `{p}_data`)
    and ROMs (port prefix -> Rom), and writes unit.y: the shape of every unit outside the engine.
    `tied`: port associations of inputs the instance does not use (an absent second operand)."""
    n, roms = unit.name, roms or {}
    signals, ports, body = [], [], ''
    for port, buf in reads.items():
        buf.readers.append(f'{n}_{port}_addr')
        signals.append(f'signal {n}_{port}_addr : std_logic_vector({buf.aw - 1} downto 0);')
        ports.append(f'{port}_addr => {n}_{port}_addr, {port}_data => {buf.name}_rdata')
    for port, rom in roms.items():
        rom_signals, rom_body = rom_instance(rom)
        signals += rom_signals
        body += rom_body
        ports.append(f'{port}_addr => {rom.name}_addr, {port}_data => {rom.name}_data')
    ports += [tied] if tied else []
    body += f"""  {n}_{unit.label} : entity work.{unit.entity}
    generic map ({generic_map(**unit.generics(engine))})
    port map (
      clk => clk, rst => rst, start => {n}_start, done => {n}_done,
      {', '.join(ports)},
      y_we => {unit.y.name}_we, y_addr => {unit.y.name}_waddr, y_data => {unit.y.name}_wdata
    );
"""
    return Emitted(signals, body, list(roms.values()))


def table_reader_emit(unit, engine, rom: Rom) -> Emitted:
    """A unit that reads its input buffer x and one table ROM (t_addr/t_data): vs_softmax, vs_layernorm."""
    return unit_instance(unit, engine, {'x': unit.x}, {'t': rom})
