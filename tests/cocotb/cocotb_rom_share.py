"""cocotb test of vs_rom_share (a weight pack's ROM address), through a wrapper that sets its
generics: every cycle, addr must be the OR of the members' addresses plus the base of the member
whose start came last (loaded at the edge after its start).

Run by tests/test_rom_pack.py, which writes the case as JSON named in ROM_SHARE_CASE_FILE:
  cycles: [[start bits, [member addresses]], ...] driven one cycle each
  expected: the address expected in each of those cycles
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer


@cocotb.test()
async def rom_share(dut):
    with open(os.environ['ROM_SHARE_CASE_FILE']) as f:
        case = json.load(f)
    aw = case['aw']
    cocotb.start_soon(Clock(dut.clk, 10, unit='ns').start())
    for c, ((start, addrs), want) in enumerate(zip(case['cycles'], case['expected'])):
        await FallingEdge(dut.clk)
        dut.start.value = start
        dut.addr_in.value = sum(a << (k * aw) for k, a in enumerate(addrs))
        await Timer(1, unit='ns')  # the address is combinational in this cycle's inputs
        got = dut.addr.value
        assert got.is_resolvable, f'cycle {c}: addr {got}'
        assert got.to_unsigned() == want, f'cycle {c}: start {start:b}, addresses {addrs}: addr {got.to_unsigned()}, expected {want}'
