"""cocotb test of vs_map: start/done timing, the write pattern and every written value.

Run by test_units_cocotb.py, which passes the case as JSON in MAP_CASE (generics plus the
rounding/saturation names, the input's frac bits and a seed).

Cycle convention: cycle c is the clock period that starts with rising edge c. Inputs are
driven at the falling edge of cycle c (the rising edge ending cycle c samples them), and
outputs are sampled at that same falling edge.

The source tensor sits in a RAM with a registered read: x_data in cycle c is mem[x_addr of
cycle c - 1]. The model drives that value at the falling edge of cycle c, half a cycle later
than a real RAM would; the design samples x_data only at rising edges, so it sees the same.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from vhdlspartan.fixed import FixedType, requantize

LATENCY_EXTRA = 3  # done is high N + 3 cycles after the cycle where start is high


def _x_range(w: int, signed: bool) -> tuple[int, int]:
    return (-(1 << (w - 1)), (1 << (w - 1)) - 1) if signed else (0, (1 << w) - 1)


def _edge_values(case: dict, y_type: FixedType) -> list[int]:
    """Input values at and around the saturation and rounding edges of the output type."""
    lo, hi = _x_range(case['X_W'], case['X_SIGNED'])
    shift = case['SHIFT']
    cands = {lo, hi, lo + 1, hi - 1, 0, 1, -1, 2, -2}
    for yv in (y_type.min_int, y_type.max_int, y_type.min_int - 1, y_type.max_int + 1,
               -y_type.max_int, 0, 1, -1):
        # x values whose requantized value is near yv: yv * 2**shift, and the ties around it.
        if shift >= 0:
            c = yv << shift
            half = (1 << (shift - 1)) if shift > 0 else 0
            spread = (c - 2, c - 1, c, c + 1, c + 2, c + half - 1, c + half, c + half + 1,
                      c - half - 1, c - half, c - half + 1)
        else:
            c = yv >> -shift
            spread = (c - 1, c, c + 1)
        cands.update(spread)
    return sorted(v for v in cands if lo <= v <= hi)


def _values(case: dict, y_type: FixedType, rng: random.Random, first_run: bool) -> list[int]:
    n = case['N']
    lo, hi = _x_range(case['X_W'], case['X_SIGNED'])
    if hi - lo + 1 == n:  # exhaustive case: every input value once, in random order
        vals = list(range(lo, hi + 1))
        rng.shuffle(vals)
        return vals
    vals = _edge_values(case, y_type) if first_run else []
    assert len(vals) <= n, 'N too small for the edge values'
    while len(vals) < n:
        vals.append(rng.randint(lo, hi))
    rng.shuffle(vals)
    return vals


def _reference(case: dict, y_type: FixedType, x: int) -> int:
    v = max(x, 0) if case['RELU'] else x
    return int(requantize(v, case['x_frac'], y_type))


@cocotb.test()
async def map_start_done_and_values(dut):
    case = json.loads(os.environ['MAP_CASE'])
    n, aw = case['N'], case['AW']
    x_w, y_w = case['X_W'], case['Y_W']
    y_type = FixedType(y_w, case['x_frac'] - case['SHIFT'], case['Y_SIGNED'], case['rounding'], case['saturation'])
    assert (y_type.rounding_code, y_type.saturation_code) == (case['RND'], case['SAT'])
    assert len(dut.x_addr) == aw and len(dut.x_data) == x_w and len(dut.y_data) == y_w
    dut._log.info('case %s, output type %s', case, y_type)
    rng = random.Random(case['seed'])
    x_mask = (1 << x_w) - 1

    runs = [_values(case, y_type, rng, first_run=True), _values(case, y_type, rng, first_run=False)]

    dut.rst.value = 1
    dut.start.value = 0
    dut.x_data.value = 0
    Clock(dut.clk, 10, unit='ns').start(start_high=False)

    mem = [0] * (1 << aw)
    prev_x_addr = 0
    cycle = -1

    async def step(rst: int, start: int):
        """Advance to the falling edge of the next cycle, serve the RAM, drive rst/start, and
        return the outputs of that cycle."""
        nonlocal prev_x_addr, cycle
        await FallingEdge(dut.clk)
        cycle += 1
        out = {
            'done': int(dut.done.value),
            'y_we': int(dut.y_we.value),
            'y_addr': dut.y_addr.value,
            'y_data': dut.y_data.value,
        }
        x_addr = dut.x_addr.value
        assert x_addr.is_resolvable, f'cycle {cycle}: x_addr is {x_addr}'
        dut.x_data.value = mem[prev_x_addr]
        prev_x_addr = x_addr.to_unsigned()
        dut.rst.value = rst
        dut.start.value = start
        return out

    for _ in range(3):
        out = await step(rst=1, start=0)
    for _ in range(2):
        out = await step(rst=0, start=0)
        assert out['y_we'] == 0 and out['done'] == 0

    for run, vals in enumerate(runs):
        for k, v in enumerate(vals):
            mem[k] = v & x_mask
        writes: dict[int, int] = {}
        out = await step(rst=0, start=1)
        start_cycle = cycle
        dut._log.info('run %d: start in cycle %d', run, start_cycle)
        done_cycle = None
        while done_cycle is None:
            out = await step(rst=0, start=0)
            assert cycle - start_cycle <= n + LATENCY_EXTRA, f'run {run}: no done {n + LATENCY_EXTRA} cycles after start'
            if out['y_we']:
                addr = out['y_addr'].to_unsigned()
                assert addr < n, f'cycle {cycle}: write to address {addr} >= N={n}'
                assert addr not in writes, f'cycle {cycle}: address {addr} written twice'
                data = out['y_data']
                assert data.is_resolvable, f'cycle {cycle}: y_data is {data}'
                writes[addr] = data.to_signed() if case['Y_SIGNED'] else data.to_unsigned()
            if out['done']:
                done_cycle = cycle
        assert done_cycle - start_cycle == n + LATENCY_EXTRA, (
            f'run {run}: done {done_cycle - start_cycle} cycles after start, expected N + {LATENCY_EXTRA} = {n + LATENCY_EXTRA}'
        )
        assert sorted(writes) == list(range(n)), f'run {run}: addresses written {sorted(writes)}'
        bad = []
        for k, x in enumerate(vals):
            want = _reference(case, y_type, x)
            if writes[k] != want:
                bad.append(f'x[{k}]={x}: got {writes[k]}, expected {want}')
        assert not bad, f'run {run}: {len(bad)} wrong values, e.g. ' + '; '.join(bad[:8])
        # Quiet afterwards: no further write, done low.
        # Next start right after done, or a few cycles later; the last run ends with 4 quiet cycles.
        for _ in range(rng.randint(0, 3) if run < len(runs) - 1 else 4):
            out = await step(rst=0, start=0)
            assert out['y_we'] == 0, f'cycle {cycle}: write after done'
            assert out['done'] == 0, f'cycle {cycle}: done high again'
    dut._log.info('%d runs of N=%d checked', len(runs), n)
