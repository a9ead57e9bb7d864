"""Board interfaces: the wrappers around the core top level (Model config key `Interface`).

`memory` is the core top level itself (bare memory ports). `uart`, `spi` and `axis` wrap it in
an entity `<project>_<interface>` of its own (the core's VHDL is not touched, so the resource
model's calibration of the core stays valid):

- uart / spi: the link (vs_uart_link / vs_spi_link) moves bytes, vs_byte_proto speaks the byte
  protocol (README, "Board interfaces"; the command codes are below) and drives the core;
- axis: vs_axis_link moves one value per AXI4-Stream beat.

The hardware id is the first 32 bits of SHA-256 over the project's VHDL (`hardware_id`), so a
host can tell which design a board carries. This module also holds the protocol's constants and
the byte packing of values, which the host driver (`vhdlspartan.host`) and the testbenches share.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedError
from ..fixed import FixedType

INTERFACES = ('memory', 'uart', 'spi', 'axis')
DEFAULT_BAUD = 115200
MIN_CLKS_PER_BIT = 4  # the receiver samples the middle of a bit: it needs a few cycles a bit
MAX_BAUD_ERROR = 0.02  # 8N1 tolerates about 4% between the two ends; keep our share at half that
MAX_FRAME_BYTES = 0xFFFF  # WRITE carries a 16-bit length

# Library files each interface adds after the core's (compile order).
LINK_FILES = {'uart': ('vs_byte_proto.vhd', 'vs_uart_link.vhd'),
              'spi': ('vs_byte_proto.vhd', 'vs_spi_link.vhd'),
              'axis': ('vs_axis_link.vhd',)}  # fmt: skip

# The byte protocol (vs_byte_proto.vhd)
NOP, WRITE, START, STATUS, READ, ID, CLEAR = 0x00, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6
STATES = {0: 'idle', 1: 'busy', 2: 'done', 3: 'error'}
ERRORS = {0: 'none', 1: 'unknown command', 2: 'WRITE length is not the input frame length',
          3: 'WRITE ended before its last byte', 4: 'START while busy or while an error is set',
          5: 'READ before done', 6: 'WRITE while busy', 7: 'command byte while an answer was being sent',
          8: 'UART framing error (stop bit low)'}  # fmt: skip
ID_PLACEHOLDER = 'x"00000000"'  # the id constant while the id itself is hashed


@dataclass(frozen=True)
class Link:
    """An interface as configured: kind, and for uart the baud rate and clocks per bit."""

    kind: str = 'memory'
    baud: int | None = None
    clks_per_bit: int | None = None

    def entity(self, project: str) -> str:
        return project if self.kind == 'memory' else f'{project}_{self.kind}'


def _model_keys(config) -> dict:
    return config.config.get('HLSConfig', {}).get('Model', {}) or {}


def link_of(config) -> Link:
    """The Interface (and BaudRate) of an hls4ml config, checked; raises UnsupportedError naming
    the key, the value and what is supported."""
    keys = _model_keys(config)
    kind = keys.get('Interface', 'memory')
    if not isinstance(kind, str) or kind.lower() not in INTERFACES:
        raise UnsupportedError(f'Model Interface {kind!r} is not supported; supported: {", ".join(INTERFACES)}')
    kind = kind.lower()
    if 'BoardConstraints' in keys and kind == 'memory':
        raise UnsupportedError('Model BoardConstraints (a board XDC) needs Interface uart, spi or axis: '
                               'the memory interface has no pins for a board')  # fmt: skip
    if 'BaudRate' in keys and kind != 'uart':
        raise UnsupportedError(f'Model BaudRate is only used with Interface uart (Interface is {kind!r})')
    if kind != 'uart':
        return Link(kind)
    baud = keys.get('BaudRate', DEFAULT_BAUD)
    clock_ns = config.get_config_value('ClockPeriod') or 10
    if isinstance(baud, bool) or not isinstance(baud, (int, float)) or baud <= 0:
        raise UnsupportedError(f'Model BaudRate {baud!r} is not valid; give bits per second, > 0 (default {DEFAULT_BAUD})')
    clks = round(1e9 / clock_ns / baud)
    if clks < MIN_CLKS_PER_BIT:
        raise UnsupportedError(f'Model BaudRate {baud} is too high for ClockPeriod {clock_ns} ns: '
                               f'{1e9 / clock_ns / baud:.2f} clock cycles a bit, the UART needs >= {MIN_CLKS_PER_BIT}')  # fmt: skip
    actual = 1e9 / clock_ns / clks
    if abs(actual - baud) / baud > MAX_BAUD_ERROR:
        raise UnsupportedError(f'Model BaudRate {baud} cannot be made from ClockPeriod {clock_ns} ns: the nearest is '
                               f'{actual:.0f} ({clks} cycles a bit), {100 * abs(actual - baud) / baud:.1f}% off; '
                               f'at most {100 * MAX_BAUD_ERROR:.0f}% works')  # fmt: skip
    return Link('uart', int(baud), clks)


def check_design(design, link: Link) -> None:
    """Limits of the byte protocol and AXI-Stream framing (raises before anything is written)."""
    if link.kind in ('uart', 'spi'):
        n = design.input.depth * value_bytes(design.input.type)
        if n > MAX_FRAME_BYTES:
            raise UnsupportedError(f'Interface {link.kind}: the input frame is {n} bytes; the byte protocol carries '
                                   f'at most {MAX_FRAME_BYTES} (16-bit length)')  # fmt: skip
        for buf, what in ((design.input, 'input'), (design.output, 'output')):
            if buf.depth > 0xFFFF or buf.aw > 16:
                raise UnsupportedError(f'Interface {link.kind}: {buf.depth} {what} elements; at most 65,535')
    if link.kind != 'memory' and design.input.banks != 1:
        raise UnsupportedError(f'Interface {link.kind}: a banked input buffer is not supported')


# -- values in bytes --------------------------------------------------------------------------
def value_bytes(t: FixedType) -> int:
    return (t.width + 7) // 8


def pack(q, t: FixedType) -> bytes:
    """Integers of type t -> bytes: each value in value_bytes(t) bytes, least significant first,
    two's complement (sign-extended; an unsigned type's values are non-negative anyway)."""
    q = np.asarray(q, dtype=np.int64).ravel()
    if q.size and (q.min() < t.min_int or q.max() > t.max_int):
        raise ValueError(f'values outside {t}: {q.min()}..{q.max()}')
    n = value_bytes(t)
    return b''.join(int(v).to_bytes(n, 'little', signed=True) for v in q)


def unpack(data: bytes, t: FixedType) -> np.ndarray:
    n = value_bytes(t)
    if len(data) % n:
        raise ValueError(f'{len(data)} bytes are not a whole number of {n}-byte values')
    return np.array([int.from_bytes(data[k:k + n], 'little', signed=t.signed) for k in range(0, len(data), n)],
                    dtype=np.int64)  # fmt: skip


# -- the hardware id ------------------------------------------------------------------------
def hardware_id(vhdl_files: dict) -> int:
    """First 32 bits of SHA-256 over the project's VHDL files, sorted by path: path, NUL, text, NUL each."""
    h = hashlib.sha256()
    for path in sorted(p for p in vhdl_files if p.endswith('.vhd') and p.startswith('vhdl/')):
        h.update(path.encode() + b'\0' + vhdl_files[path].encode() + b'\0')
    return int.from_bytes(h.digest()[:4], 'big')


# -- the wrapper ----------------------------------------------------------------------------
def _core_map(design) -> str:
    return ('    port map (clk => clk, rst => rst_s, start => core_start, done => core_done, in_we => in_we,\n'
            '              in_addr => in_addr, in_data => in_data, out_addr => out_addr, out_data => out_data);\n')  # fmt: skip


def wrapper_vhdl(design, link: Link, hw_id: str) -> str:
    """The wrapper entity: link + protocol + core; hw_id is a VHDL literal x"........"."""
    from .top import HEADER, USES, slv

    p, i, o = design.project, design.input, design.output
    name = link.entity(p)
    core_signals = f"""  signal core_start, core_done, in_we : std_logic;
  signal in_addr : {slv(i.aw)};
  signal in_data : {slv(i.type.width)};
  signal out_addr : {slv(o.aw)};
  signal out_data : {slv(o.type.width)};
  signal rst_q : std_logic_vector(1 downto 0) := "11";
  signal rst_s : std_logic;
"""
    sync = """  -- the reset comes from a button or another clock domain: two flip-flops
  process (clk)
  begin
    if rising_edge(clk) then
      rst_q <= rst_q(0) & rst_in;
    end if;
  end process;
  rst_s <= rst_q(1);
"""
    core = f'  core : entity work.{p}\n{_core_map(design)}'
    if link.kind == 'axis':
        s_w, m_w = 8 * value_bytes(i.type), 8 * value_bytes(o.type)
        return f"""{HEADER}-- {name}: {p} behind AXI4-Stream (vs_axis_link.vhd). Hardware id {hw_id} (README, Board interfaces).
-- Slave: {i.depth} beats of {s_w} bits a frame (low {i.type.width} bits: {i.type}); master: {o.depth} beats of
-- {m_w} bits ({o.type}, sign-extended), tlast on the last. s_axis_tlast is accepted and not needed.
{USES}
entity {name} is
  port (
    clk           : in  std_logic;
    aresetn       : in  std_logic;
    s_axis_tdata  : in  {slv(s_w)};
    s_axis_tvalid : in  std_logic;
    s_axis_tready : out std_logic;
    s_axis_tlast  : in  std_logic;
    m_axis_tdata  : out {slv(m_w)};
    m_axis_tvalid : out std_logic;
    m_axis_tready : in  std_logic;
    m_axis_tlast  : out std_logic;
    busy          : out std_logic;
    hw_id         : out std_logic_vector(31 downto 0)
  );
end entity;

architecture rtl of {name} is
  constant HARDWARE_ID : std_logic_vector(31 downto 0) := {hw_id};
  signal rst_in : std_logic;
{core_signals}begin
  rst_in <= not aresetn;
{sync}  hw_id <= HARDWARE_ID;
  link : entity work.vs_axis_link
    generic map (N_IN => {i.depth}, IN_W => {i.type.width}, IN_AW => {i.aw}, S_W => {s_w}, N_OUT => {o.depth},
                 OUT_W => {o.type.width}, OUT_AW => {o.aw}, M_W => {m_w}, OUT_SIGNED => {str(o.type.signed).lower()})
    port map (clk => clk, rst => rst_s, s_axis_tdata => s_axis_tdata, s_axis_tvalid => s_axis_tvalid,
              s_axis_tready => s_axis_tready, m_axis_tdata => m_axis_tdata, m_axis_tvalid => m_axis_tvalid,
              m_axis_tready => m_axis_tready, m_axis_tlast => m_axis_tlast, busy => busy,
              core_start => core_start, core_done => core_done, in_we => in_we, in_addr => in_addr,
              in_data => in_data, out_addr => out_addr, out_data => out_data);
{core}end architecture;
"""
    if link.kind == 'uart':
        pins = '    rx       : in  std_logic;\n    tx       : out std_logic;\n'
        what = f'UART 8N1 at {link.baud} baud ({link.clks_per_bit} clock cycles a bit)'
        link_inst = f"""  link : entity work.vs_uart_link
    generic map (CLKS_PER_BIT => {link.clks_per_bit})
    port map (clk => clk, rst => rst_s, rx => rx, tx => tx, rx_valid => rx_valid, rx_data => rx_data,
              rx_error => rx_error, tx_valid => tx_valid, tx_data => tx_data, tx_ready => tx_ready);
  abort <= '0';
"""
        timeout = 40 * link.clks_per_bit  # four byte times without a byte end a WRITE
    else:
        pins = ('    sclk     : in  std_logic;\n    cs_n     : in  std_logic;\n'
                '    mosi     : in  std_logic;\n    miso     : out std_logic;\n')  # fmt: skip
        what = 'SPI slave, mode 0, sclk at most clk / 8'
        link_inst = """  link : entity work.vs_spi_link
    port map (clk => clk, rst => rst_s, sclk => sclk, cs_n => cs_n, mosi => mosi, miso => miso,
              rx_valid => rx_valid, rx_data => rx_data, abort => abort, tx_valid => tx_valid,
              tx_data => tx_data, tx_ready => tx_ready);
  rx_error <= '0';
"""
        timeout = 0  # chip select frames a transaction
    return f"""{HEADER}-- {name}: {p} behind the byte protocol (vs_byte_proto.vhd) over {what}.
-- Hardware id {hw_id}; frames of {i.depth} x {value_bytes(i.type)} bytes in, {o.depth} x {value_bytes(o.type)} bytes out.
{USES}
entity {name} is
  port (
    clk      : in  std_logic;
    rst      : in  std_logic;
{pins}    busy     : out std_logic
  );
end entity;

architecture rtl of {name} is
  constant HARDWARE_ID : std_logic_vector(31 downto 0) := {hw_id};
  signal rst_in : std_logic;
  signal rx_valid, rx_error, abort, tx_valid, tx_ready : std_logic;
  signal rx_data, tx_data : std_logic_vector(7 downto 0);
{core_signals}begin
  rst_in <= rst;
{sync}{link_inst}  proto : entity work.vs_byte_proto
    generic map (N_IN => {i.depth}, IN_W => {i.type.width}, IN_AW => {i.aw}, N_OUT => {o.depth}, OUT_W => {o.type.width},
                 OUT_AW => {o.aw}, OUT_SIGNED => {str(o.type.signed).lower()}, HW_ID => HARDWARE_ID, TIMEOUT => {timeout})
    port map (clk => clk, rst => rst_s, rx_valid => rx_valid, rx_data => rx_data, rx_error => rx_error,
              abort => abort, tx_valid => tx_valid, tx_data => tx_data, tx_ready => tx_ready, busy => busy,
              core_start => core_start, core_done => core_done, in_we => in_we, in_addr => in_addr,
              in_data => in_data, out_addr => out_addr, out_data => out_data);
{core}end architecture;
"""


def spec_json(design, link: Link, hw_id: int, clock_ns) -> str:
    """What a host needs to talk to the board: written as <project>/interface.json."""

    def ftype(t):
        return {'width': t.width, 'frac': t.frac, 'signed': t.signed, 'rounding': t.rounding, 'saturation': t.saturation}

    spec = {'project': design.project, 'interface': link.kind, 'entity': link.entity(design.project),
            'hardware_id': f'0x{hw_id:08x}', 'baud_rate': link.baud, 'clks_per_bit': link.clks_per_bit,
            'clock_period_ns': clock_ns, 'input': {'shape': list(design.input_shape), 'depth': design.input.depth,
                                                   'type': ftype(design.input.type)},
            'output': {'depth': design.output.depth, 'type': ftype(design.output.type)},
            'cycles': design.cycles()}  # fmt: skip
    return json.dumps(spec, indent=1, sort_keys=True) + '\n'


def interface_files(design, link: Link, files: dict, clock_ns) -> dict:
    """Files a non-memory interface adds to the project (files: the core project's, with
    vhdl/compile_order.txt), and the compile order extended by them. Returns the new files."""
    from .pin_sim import testbench_vhdl
    from .top import VHDL_LIBRARY

    new = {f'vhdl/{f}': (VHDL_LIBRARY / f).read_text() for f in LINK_FILES[link.kind]}
    wrapper_path = f'vhdl/{link.entity(design.project)}.vhd'
    hashed = {**files, **new, wrapper_path: wrapper_vhdl(design, link, ID_PLACEHOLDER)}
    hw_id = hardware_id(hashed)
    new[wrapper_path] = wrapper_vhdl(design, link, f'x"{hw_id:08X}"')
    order = files['vhdl/compile_order.txt'].split() + list(new)
    new['vhdl/compile_order.txt'] = '\n'.join(order) + '\n'
    new[f'tb/tb_{link.entity(design.project)}.vhd'] = testbench_vhdl(design, link)
    new['interface.json'] = spec_json(design, link, hw_id, clock_ns)
    return new


def project_hardware_id(project_dir) -> int:
    """The hardware id of a written project: from interface.json (a wrapper carries it), else the
    hash of the core's VHDL (the memory interface has no link to read it over)."""
    from pathlib import Path

    root = Path(project_dir)
    spec = root / 'interface.json'
    if spec.exists():
        return int(json.loads(spec.read_text())['hardware_id'], 16)
    order = (root / 'vhdl' / 'compile_order.txt').read_text().split()
    return hardware_id({p: (root / p).read_text() for p in order})
