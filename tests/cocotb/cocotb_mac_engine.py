"""cocotb test of vs_mac_engine: random dot products and shadow-bank reads, checked cycle by cycle.

Run by test_units_cocotb.py. The case comes in through the DUT generics (read from
the environment the runner sets: LANES, DSP_LANES, A_W, B_W, ACC_W) and MAC_SEED.

Cycle convention: cycle c is the clock period that starts with rising edge c. Inputs
are driven at the falling edge of cycle c (so the rising edge that ends cycle c samples
them: they are "presented in cycle c"); outputs are sampled at that same falling edge,
i.e. they show the registers as updated by the rising edge that starts cycle c.
"""

from __future__ import annotations

import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

LATENCY = 4  # acc_valid: cycles after the cycle presenting in_valid & in_last


def _env_int(name: str) -> int:
    return int(os.environ[name])


def _wrap(v: int, width: int) -> int:
    v &= (1 << width) - 1
    return v - (1 << width) if v >> (width - 1) else v


def _rand_signed(rng: random.Random, width: int) -> int:
    """A signed value of a random width 1..width, a quarter of the time an extreme."""
    r = rng.random()
    if r < 0.1:
        return -(1 << (width - 1))
    if r < 0.2:
        return (1 << (width - 1)) - 1
    if r < 0.25:
        return rng.choice((0, -1, 1 if width > 1 else 0))
    w = rng.randint(1, width)
    return rng.randint(-(1 << (w - 1)), (1 << (w - 1)) - 1)


def _dot_products(rng: random.Random, lanes: int, a_w: int, b_w: int, count: int, max_len: int):
    """Dot products as lists of (a, [b_0..b_lanes-1]); extremes first, then random."""
    a_min, a_max = -(1 << (a_w - 1)), (1 << (a_w - 1)) - 1
    b_min, b_max = -(1 << (b_w - 1)), (1 << (b_w - 1)) - 1
    fixed = [
        [(a_min, [b_min] * lanes)] * max_len,  # largest positive sum
        [(a_min, [b_max] * lanes)] * max_len,  # most negative sum
        [(a_max, [[b_min, b_max, 0, b_max][k % 4] for k in range(lanes)])] * max_len,
        [(a_min, [b_min] * lanes)],  # single term
        [(a_max, [b_max] * lanes)],
        [(0, [b_min] * lanes), (a_min, [0] * lanes)],
    ]
    fixed = [[(a, list(bs)) for a, bs in dp] for dp in fixed]
    out = list(fixed)
    while len(out) < count:
        n = rng.choice((1, 2, rng.randint(1, max_len), rng.randint(1, max_len)))
        out.append([(_rand_signed(rng, a_w), [_rand_signed(rng, b_w) for _ in range(lanes)]) for _ in range(n)])
    return out


@cocotb.test()
async def mac_engine_random_dot_products(dut):
    """acc and acc_valid against exact dot products; the shadow bank (holding, from the next cycle
    on, the sums shown at the last acc_valid) read through a random sel every cycle: sum shows
    word sel of the cycle before (a registered select)."""
    lanes, dsp_lanes = _env_int('LANES'), _env_int('DSP_LANES')
    a_w, b_w, acc_w = _env_int('A_W'), _env_int('B_W'), _env_int('ACC_W')
    exact = os.environ.get('MAC_EXACT', '1') == '1'  # ACC_W holds every sum of this case
    max_len = _env_int('MAC_MAX_LEN')
    rng = random.Random(_env_int('MAC_SEED'))
    assert len(dut.a) == a_w and len(dut.b) == lanes * b_w and len(dut.acc) == lanes * acc_w
    dut._log.info('LANES=%d DSP_LANES=%d A_W=%d B_W=%d ACC_W=%d', lanes, dsp_lanes, a_w, b_w, acc_w)

    a_mask, b_mask = (1 << a_w) - 1, (1 << b_w) - 1

    # The input stream, one entry per cycle: (valid, first, last, a, [b]); and the expected
    # results, keyed by the cycle in which acc_valid must be high.
    stream = []
    expected: dict[int, list[int]] = {}
    lead = 4
    for _ in range(lead):
        stream.append((0, 0, 0, 0, [0] * lanes))

    def idle():
        # in_valid low; everything else is garbage the engine must ignore.
        return (0, rng.randint(0, 1), rng.randint(0, 1), rng.randint(-(1 << (a_w - 1)), (1 << (a_w - 1)) - 1),
                [rng.randint(-(1 << (b_w - 1)), (1 << (b_w - 1)) - 1) for _ in range(lanes)])

    for dp in _dot_products(rng, lanes, a_w, b_w, count=400, max_len=max_len):
        sums = [0] * lanes
        for t, (a, bs) in enumerate(dp):
            if t > 0 and rng.random() < 0.25:  # a gap inside the sum
                for _ in range(rng.randint(1, 3)):
                    stream.append(idle())
            for k in range(lanes):
                sums[k] += a * bs[k]
            stream.append((1, int(t == 0), int(t == len(dp) - 1), a, bs))
        expected[len(stream) - 1 + LATENCY] = sums
        if exact:
            for s in sums:
                assert -(1 << (acc_w - 1)) <= s < (1 << (acc_w - 1)), 'case does not keep sums exact'
        gap = rng.choice((0, 0, 1, rng.randint(1, 4)))  # often back to back
        for _ in range(gap):
            stream.append(idle())
    for _ in range(LATENCY + 4):
        stream.append((0, 0, 0, 0, [0] * lanes))

    dut.in_valid.value = 0
    dut.in_first.value = 0
    dut.in_last.value = 0
    dut.a.value = 0
    dut.b.value = 0
    dut.sel.value = 0
    sel_w = len(dut.sel)
    shadow = [0] * lanes  # what the shadow must hold in the current cycle
    sel_prev = 0
    want_sum = 0  # the word the registered select shows in the next cycle
    Clock(dut.clk, 10, unit='ns').start(start_high=False)

    seen = 0
    for cycle, (valid, first, last, a, bs) in enumerate(stream):
        await FallingEdge(dut.clk)
        # Outputs of this cycle.
        acc_valid = int(dut.acc_valid.value)
        got_sum = _wrap(dut.sum.value.to_unsigned(), acc_w)
        assert got_sum == want_sum, f'cycle {cycle}: sum (sel {sel_prev} a cycle before) {got_sum}, expected {want_sum}'
        shadow_now = shadow
        want = expected.get(cycle)
        if want is None:
            assert acc_valid == 0, f'cycle {cycle}: acc_valid high with no dot product ending {LATENCY} cycles before'
        else:
            assert acc_valid == 1, f'cycle {cycle}: acc_valid low, {LATENCY} cycles after a dot product ended'
            raw = dut.acc.value.to_unsigned()
            got = [_wrap(raw >> (k * acc_w), acc_w) for k in range(lanes)]
            want_w = [_wrap(s, acc_w) for s in want]
            assert got == want_w, f'cycle {cycle}: acc lanes {got}, expected {want_w} (exact sums {want})'
            seen += 1
            shadow = list(want)  # loaded by the rising edge that ends this cycle
        # Inputs of this cycle.
        dut.in_valid.value = valid
        dut.in_first.value = first
        dut.in_last.value = last
        dut.a.value = a & a_mask
        b_raw = 0
        for k, b in enumerate(bs):
            b_raw |= (b & b_mask) << (k * b_w)
        dut.b.value = b_raw
        sel_prev = rng.randrange(1 << sel_w)  # past LANES - 1 too, when LANES is no power of 2: reads 0
        dut.sel.value = sel_prev
        want_sum = _wrap(shadow_now[sel_prev], acc_w) if sel_prev < lanes else 0  # read before the load
    assert seen == len(expected)
    dut._log.info('%d dot products checked over %d cycles', seen, len(stream))
