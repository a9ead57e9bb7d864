"""cocotb test of vs_layernorm: start/done timing, the write pattern and every written z.

Run by test_layernorm_unit.py, which passes the case as JSON in LN_CASE: the layer's types
(n, input, table_bits, inv_bits, z), the x buffer's type, ROWS, the generics the Python unit
computes and a seed. The test rebuilds the Python unit (LayerNormUnit) from the case: its
generics must be the ones the DUT was built with, its ROM is the table served here, its
cycles() is the latency checked, and reference_layernorm gives every expected z.

Cycle convention (as in cocotb_map.py): cycle c is the clock period that starts with rising
edge c. Inputs are driven and outputs sampled at the falling edge of cycle c. The x buffer and
the table ROM have a registered read: their data in cycle c is mem[address of cycle c - 1].
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge
from stream_driver import quiet, reset, run_to_done

from vhdlspartan.fixed import FixedType
from vhdlspartan.integer_ops import LayerNormSpec, bit_length, epsilon_terms, reference_layernorm, signed_type
from vhdlspartan.vhdl_backend.units.base import Buffer
from vhdlspartan.vhdl_backend.units.layernorm import LayerNormUnit


def make_unit(case: dict) -> LayerNormUnit:
    in_type = signed_type(case['in_bits'], case['in_integer'])
    z_type = signed_type(case['z_bits'], case['z_integer'])
    eps = epsilon_terms(case['n'], in_type, case.get('epsilon', 0))  # Keras' epsilon, post-training
    spec = LayerNormSpec(case['n'], in_type, case['table_bits'], case['inv_bits'], z_type, *eps)
    x_type = FixedType(case['x_w'], in_type.frac, case['x_signed'], 'RND_CONV', 'SAT')
    depth = case['rows'] * case['n']
    x = Buffer('t_x', depth, x_type, 'lutram')
    y = Buffer('t_z', depth, z_type, 'lutram')
    return LayerNormUnit('u_ln', 'ln', x, y, case['rows'], spec, 'lutram')


def edge_rows(n: int, lo: int, hi: int) -> list[list[int]]:
    """Rows at the corners of the input range: V = 0, one extreme against the rest, alternating
    extremes (the largest V), and the smallest non-zero V (the table index shifted left)."""
    mid = (lo + hi) // 2
    rows = [[v] * n for v in (lo, hi, 0 if lo <= 0 <= hi else mid)]
    rows += [[hi] + [lo] * (n - 1), [lo] + [hi] * (n - 1), [lo] * (n - 1) + [hi]]
    rows += [[lo if k % 2 else hi for k in range(n)], [hi if k % 2 else lo for k in range(n)]]
    rows += [[lo] * (n // 2) + [hi] * (n - n // 2)]  # half and half: V at its largest
    rows += [[mid] * (n - 1) + [mid + 1], [mid + 1] + [mid] * (n - 1), [lo + 1] + [lo] * (n - 1)]
    rows += [[hi - (k % 2) for k in range(n)], [mid + (k % 3) - 1 for k in range(n)]]
    return rows


def random_row(n: int, lo: int, hi: int, rng: random.Random) -> list[int]:
    kind = rng.randrange(3)
    if kind == 0:  # anywhere in the range
        return [rng.randint(lo, hi) for _ in range(n)]
    centre, spread = rng.randint(lo, hi), rng.choice((1, 2, 3, 7))  # small variance: shifts to the left
    if kind == 1:
        return [min(hi, max(lo, centre + rng.randint(-spread, spread))) for _ in range(n)]
    return [rng.choice((lo, hi, centre)) for _ in range(n)]  # extremes and one value


@cocotb.test()
async def layernorm_start_done_and_values(dut):
    case = json.loads(os.environ['LN_CASE'])
    unit = make_unit(case)
    assert unit.generics(None) == case['generics'], 'the DUT was built with other generics than the unit computes'
    n, rows, depth = unit.n, unit.rows, unit.x.depth
    spec, xt = unit.spec, unit.x.type
    lo, hi = xt.min_int, xt.max_int
    rom = unit.rom().words
    expected_cycles = unit.cycles()
    g = case['generics']
    assert len(dut.x_addr) == g['AW'] and len(dut.x_data) == g['X_W'] and len(dut.y_data) == g['Z_W']
    assert len(dut.t_addr) == g['TB'] and len(dut.t_data) == g['INV_W'] and len(rom) == 1 << g['TB']
    dut._log.info('case %s: spec %s, d_width %d, v_width %d, e %d..%d, inv_frac %d, %d cycles', case, spec,
                  spec.d_width, spec.v_width, spec.e_min, spec.e_max, spec.inv_frac, expected_cycles)  # fmt: skip
    rng = random.Random(case['seed'])

    pool = edge_rows(n, lo, hi)
    runs = []
    for _ in range(case['runs']):
        run = [pool.pop(0) for _ in range(min(len(pool), rows))]
        while len(run) < rows:
            run.append(random_row(n, lo, hi, rng))
        rng.shuffle(run)
        runs.append(run)
    assert not pool, f'{len(pool)} edge rows left over: more runs or rows'

    dut.rst.value = 1
    dut.start.value = 0
    dut.x_data.value = 0
    dut.t_data.value = 0
    Clock(dut.clk, 10, unit='ns').start(start_high=False)

    x_mask = (1 << xt.width) - 1
    mem = [0] * (1 << g['AW'])
    prev = {'x': 0, 't': 0}
    cycle = -1

    async def step(rst: int, start: int):
        """Advance to the falling edge of the next cycle, serve the buffer and the ROM, drive
        rst/start, and return the outputs of that cycle."""
        nonlocal cycle
        await FallingEdge(dut.clk)
        cycle += 1
        out = {'done': int(dut.done.value), 'y_we': int(dut.y_we.value), 'y_addr': dut.y_addr.value,
               'y_data': dut.y_data.value}  # fmt: skip
        x_addr, t_addr = dut.x_addr.value, dut.t_addr.value
        assert x_addr.is_resolvable, f'cycle {cycle}: x_addr is {x_addr}'
        assert t_addr.is_resolvable, f'cycle {cycle}: t_addr is {t_addr}'
        dut.x_data.value = mem[prev['x']]
        dut.t_data.value = rom[prev['t']]
        prev['x'], prev['t'] = x_addr.to_unsigned(), t_addr.to_unsigned()
        dut.rst.value = rst
        dut.start.value = start
        return out

    await reset(step)

    largest_v = 0
    for r, run in enumerate(runs):
        q = np.array(run, dtype=np.int64)
        want = reference_layernorm(q, spec).reshape(-1)
        assert np.array_equal(want, unit.emulate({'t_x': q.reshape(1, -1)}).reshape(-1))
        d = n * q - q.sum(axis=-1, keepdims=True)
        v = (d * d).sum(axis=-1)
        largest_v = max(largest_v, int(v.max()))
        for k, val in enumerate(q.reshape(-1).tolist()):
            mem[k] = val & x_mask
        writes: dict[int, int] = {}
        for c, addr, data in await run_to_done(step, expected_cycles, r):
            assert addr < depth, f'{c} cycles after start: write to address {addr} >= {depth}'
            assert addr not in writes, f'{c} cycles after start: address {addr} written twice'
            writes[addr] = data.to_signed()
        assert sorted(writes) == list(range(depth)), f'run {r}: addresses written {sorted(writes)}'
        bad = []
        for k in range(depth):
            if writes[k] != want[k]:
                row, col = divmod(k, n)
                bad.append(f'row {run[row]} (V={int(v[row])}) element {col}: got {writes[k]}, expected {want[k]}')
        assert not bad, f'run {r}: {len(bad)} wrong values, e.g. ' + '; '.join(bad[:5])
        # quiet afterwards; the next start right after done or a few cycles later
        await quiet(step, rng.randint(0, 3) if r < len(runs) - 1 else 4)
    dut._log.info('%d runs of %d rows checked; largest V %d (bit length %d of %d)', len(runs), rows, largest_v,
                  int(bit_length(largest_v)), spec.v_width)  # fmt: skip
