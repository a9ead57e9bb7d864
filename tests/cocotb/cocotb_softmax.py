"""cocotb test of vs_softmax alone: start/done timing, the write pattern and every written value.

Run by tests/test_transformer_units_cocotb.py, which computes the case (generics, the exp table,
the input rows of each run, the expected outputs from reference_softmax and the cycle count from
SoftmaxUnit.cycles()) and passes it as a JSON file named in SOFTMAX_CASE_FILE.

Cycle convention (as cocotb_map.py): cycle c is the clock period that starts with rising edge c.
Inputs are driven at the falling edge of cycle c, and outputs are sampled at that same falling
edge (before the new inputs are driven).

Both memories have a registered read. The input buffer: x_data in cycle c is mem[x_addr of cycle
c - 1]. The exp table ROM: t_data in cycle c is table[t_addr of cycle c - 1]. Both addresses are
registers of the unit; t_addr is sampled in the ReadOnly phase after x_data has been driven, which
would also catch a t_addr that depended on x_data combinationally.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly
from cocotb.types import LogicArray
from stream_driver import bit, quiet, reset, run_to_done


# The unit's pipeline (vs_softmax.vhd's header): a division starts ISSUE_TO_START cycles after
# the cycle that issues its element's read (the registered address, the buffer's read, the cast,
# the registered table address, the ROM's read, the registered entry); a divider's result comes
# NUM_W + 3 cycles after its start, and is written one cycle later (the output registers).
ISSUE_TO_START = 6
RESULT_TO_WRITE = 1


def write_cycles(rows: int, n: int, divs: int, num_w: int) -> list[int]:
    """Cycles after start of the writes, element by element, from the unit's rules (not from the
    closed formula of cycles(), which the last one checks): one element issued a cycle, pass 1 and
    pass 2 of a row (2 N issues) from cycle 1 on, then pass 3 issues element j in the first cycle
    in which divider j mod DIVS is free again. A division starts ISSUE_TO_START cycles after its
    issue, the divider takes a new start NUM_W + 2 cycles after a start, and its result is
    written NUM_W + 3 + RESULT_TO_WRITE cycles after the start."""
    busy = num_w + 2
    free = [0] * divs  # the first issue cycle whose division divider d may start
    t, out = 1, []
    for _ in range(rows):
        t += 2 * n
        for j in range(n):
            d = j % divs
            t = max(t, free[d])
            free[d] = t + busy
            out.append(t + ISSUE_TO_START + num_w + 3 + RESULT_TO_WRITE)
            t += 1
    return out


@cocotb.test()
async def softmax_rows(dut):
    with open(os.environ['SOFTMAX_CASE_FILE']) as f:
        case = json.load(f)
    g = case['generics']
    rows, n, aw = g['ROWS'], g['N'], g['AW']
    x_w, e_w, out_w, ta_w = g['X_W'], g['E_W'], g['OUT_W'], g['TA_W']
    cycles = case['cycles']
    table = case['table']
    assert len(table) == g['TABLE_SIZE']
    assert len(dut.x_addr) == aw and len(dut.x_data) == x_w and len(dut.y_data) == out_w
    assert len(dut.t_addr) == ta_w and len(dut.t_data) == e_w
    dut._log.info('generics %s, %d cycles a run, %d runs', g, cycles, len(case['runs']))
    x_mask = (1 << x_w) - 1

    dut.rst.value = 1
    dut.start.value = 0
    dut.x_data.value = 0
    dut.t_data.value = 0
    Clock(dut.clk, 10, unit='ns').start(start_high=False)

    mem = [0] * (rows * n)
    prev_x_addr = 0
    prev_t_addr = 0
    cycle = -1

    def x_word(addr: int):
        return mem[addr] & x_mask if addr < len(mem) else LogicArray('X' * x_w)

    def t_word(addr: int):
        # Past the table the ROM holds nothing the unit may use: X makes any use visible.
        return table[addr] if addr < len(table) else LogicArray('X' * e_w)

    async def step(rst: int, start: int) -> dict:
        """Advance to the falling edge of the next cycle, take its outputs, serve both memories
        and drive rst/start."""
        nonlocal prev_x_addr, prev_t_addr, cycle
        await FallingEdge(dut.clk)
        cycle += 1
        out = {'done': bit(dut.done.value), 'y_we': bit(dut.y_we.value), 'y_addr': dut.y_addr.value,
               'y_data': dut.y_data.value}  # fmt: skip
        x_addr = dut.x_addr.value
        assert x_addr.is_resolvable, f'cycle {cycle}: x_addr is {x_addr}'
        dut.x_data.value = x_word(prev_x_addr)
        dut.t_data.value = t_word(prev_t_addr)
        prev_x_addr = x_addr.to_unsigned()
        dut.rst.value = rst
        dut.start.value = start
        await ReadOnly()
        t_addr = dut.t_addr.value
        # While the row maximum is being searched the distance may be junk (even X at reset);
        # the ROM then returns X, which must not reach the sum or a result.
        prev_t_addr = t_addr.to_unsigned() if t_addr.is_resolvable else 1 << ta_w
        return out

    await reset(step)

    for run, (xs, want) in enumerate(zip(case['runs'], case['expected'])):
        assert len(xs) == rows * n and len(want) == rows * n
        mem[:] = xs
        writes = [(c, a, d.to_unsigned()) for c, a, d in await run_to_done(step, cycles, run)]
        # One write per element, in address order, each when its division ends (write_cycles).
        want_at = write_cycles(rows, n, g['DIVS'], g['NUM_W'])
        assert want_at[-1] == cycles, f'the schedule ends at {want_at[-1]}, cycles() = {cycles}'
        assert [a for _, a, _ in writes] == list(range(rows * n)), f'run {run}: addresses written {writes}'
        assert [c for c, _, _ in writes] == want_at, f'run {run}: writes at cycles {[c for c, _, _ in writes]}'
        bad = [f'row {a // n} x={xs[(a // n) * n:(a // n + 1) * n]} y[{a % n}]: got {v}, expected {want[a]}'
               for _, a, v in writes if v != want[a]]  # fmt: skip
        assert not bad, f'run {run}: {len(bad)} wrong values, e.g. ' + '; '.join(bad[:6])
        # Quiet after done: no write, done low; the next start comes 0..2 cycles later.
        await quiet(step, run % 3 if run < len(case['runs']) - 1 else 4)
    dut._log.info('%d runs of %d rows of N=%d checked', len(case['runs']), rows, n)
