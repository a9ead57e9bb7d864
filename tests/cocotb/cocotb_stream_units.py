"""cocotb test of one streaming unit alone (vs_add, vs_affine or vs_gavg): start/done
timing, the write pattern (cycle and address of every write) and every written value.

Run by tests/test_stream_units_cocotb.py, which computes the case with the Python twin (AddUnit,
BatchNormUnit, GlobalAvgUnit: generics, cycles, ROM packing, emulate) and passes it as a JSON file
named in STREAM_CASE_FILE:

  memories: [{addr, data, width, words}]  the memories the unit reads (port names, data width and
            the raw words of each run: words[run] is a list, or one list for all runs (a ROM))
  runs:     number of runs
  expected: expected[run] is a list of [cycle after start, address, raw value], one per write
  cycles:   the unit's cycles(): done comes this many cycles after start

Cycle convention (as cocotb_softmax.py): cycle c is the clock period that starts with rising edge c.
Inputs are driven at the falling edge of cycle c, and outputs are sampled at that same falling edge
(before the new inputs are driven). Every memory has a registered read: data in cycle c is
mem[addr of cycle c - 1]. All read addresses of these units are registered, so they are sampled at
the falling edge too.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge
from cocotb.types import LogicArray
from stream_driver import bit, quiet, reset, run_to_done


@cocotb.test()
async def stream_unit(dut):
    with open(os.environ['STREAM_CASE_FILE']) as f:
        case = json.load(f)
    mems = case['memories']
    cycles, runs = case['cycles'], case['runs']
    dut._log.info('generics %s, %d cycles a run, %d runs', case['generics'], cycles, runs)

    def contents(m, run):
        w = m['words']
        return w[run] if w and isinstance(w[0], list) else w

    for m in mems:
        assert len(getattr(dut, m['data'])) == m['width'], f'{m["data"]} width'

    dut.rst.value = 1
    dut.start.value = 0
    for m in mems:
        getattr(dut, m['data']).value = 0
    Clock(dut.clk, 10, unit='ns').start(start_high=False)

    current = [contents(m, 0) for m in mems]
    prev_addr = [0] * len(mems)
    cycle = -1

    def word(k: int, addr: int):
        # Past the memory's words there is nothing the unit may use: X makes any use visible.
        words = current[k]
        return words[addr] if addr < len(words) else LogicArray('X' * mems[k]['width'])

    async def step(rst: int, start: int) -> dict:
        """Advance to the falling edge of the next cycle, take its outputs, serve the memories and
        drive rst/start."""
        nonlocal cycle
        await FallingEdge(dut.clk)
        cycle += 1
        out = {'done': bit(dut.done.value), 'y_we': bit(dut.y_we.value), 'y_addr': dut.y_addr.value,
               'y_data': dut.y_data.value}  # fmt: skip
        for k, m in enumerate(mems):
            addr = getattr(dut, m['addr']).value
            assert addr.is_resolvable or rst, f'cycle {cycle}: {m["addr"]} is {addr}'
            getattr(dut, m['data']).value = word(k, prev_addr[k])
            prev_addr[k] = addr.to_unsigned() if addr.is_resolvable else 0
        dut.rst.value = rst
        dut.start.value = start
        return out

    await reset(step)

    for run in range(runs):
        want = [tuple(w) for w in case['expected'][run]]
        current[:] = [contents(m, run) for m in mems]
        writes = [(c, a, d.to_unsigned()) for c, a, d in await run_to_done(step, cycles, run, last_write_with_done=True)]
        assert [(c, a) for c, a, _ in writes] == [(c, a) for c, a, _ in want], (
            f'run {run}: writes (cycle, address) {[(c, a) for c, a, _ in writes]}, '
            f'expected {[(c, a) for c, a, _ in want]}'
        )
        bad = [f'y[{a}]: got {v}, expected {w[2]}' for (_, a, v), w in zip(writes, want) if v != w[2]]
        assert not bad, f'run {run}: {len(bad)} wrong values, e.g. ' + '; '.join(bad[:8])
        # Quiet after done: no write, done low; the next start comes 0..2 cycles later.
        await quiet(step, run % 3 if run < runs - 1 else 4)
    dut._log.info('%d runs checked', runs)
