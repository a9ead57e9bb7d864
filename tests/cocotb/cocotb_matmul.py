"""cocotb test of vs_dense_ctrl on a real vs_mac_engine (toplevel tb_matmul_wrap.vhd): products
of two buffers (attention's Q K^T and A V) and a Dense-like job with a banked result.

Run by tests/test_transformer_units_cocotb.py, which computes the case and passes it as a JSON
file named in MATMUL_CASE_FILE: the generics, the cycle count from start to done, and per run the
memory contents (x words, packed w words: bank k in bits k*W_W.., bias words) and the expected
writes in order, each as (cycles after start, bank, address, value).

Cycle convention (as cocotb_map.py): cycle c is the clock period that starts with rising edge c.
Inputs are driven at the falling edge of cycle c, and outputs are sampled at that same falling
edge (before the new inputs are driven). Every memory has a registered read: data in cycle c is
mem[address of cycle c - 1].
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge
from cocotb.types import Logic, LogicArray


def _uint(v) -> int:
    """The value of a resolved std_logic (Logic) or std_logic_vector (LogicArray)."""
    return int(v) if isinstance(v, Logic) else v.to_unsigned()


@cocotb.test()
async def matmul_jobs(dut):
    with open(os.environ['MATMUL_CASE_FILE']) as f:
        case = json.load(f)
    g = case['generics']
    x_w, w_w, bias_w, p = g['X_W'], g['W_W'], g['BIAS_W'], g['P']
    cycles = case['cycles']
    assert len(dut.x_data) == x_w and len(dut.w_data) == p * w_w and len(dut.b_data) == bias_w
    assert len(dut.y_bank) == g['Y_BANKS'] and len(dut.y_data) == g['Y_W'] and len(dut.y_addr) == g['YA_W']
    dut._log.info('generics %s, %d cycles a run, %d runs', g, cycles, len(case['runs']))

    dut.rst.value = 1
    dut.start.value = 0
    dut.x_data.value = 0
    dut.w_data.value = 0
    dut.b_data.value = 0
    Clock(dut.clk, 10, unit='ns').start(start_high=False)

    mems = {'x': [], 'w': [], 'b': []}
    widths = {'x': x_w, 'w': p * w_w, 'b': bias_w}
    prev = {'x': 0, 'w': 0, 'b': 0}
    cycle = -1

    def word(name: str, addr: int):
        mem = mems[name]
        if name == 'b' and not mem:  # a product of buffers: b_data is the constant "0"
            return 0
        # Past the end the memory holds nothing the unit may use: X makes any use visible.
        return mem[addr] if addr < len(mem) else LogicArray('X' * widths[name])

    async def step(rst: int, start: int) -> dict:
        """Advance to the falling edge of the next cycle, take its outputs, serve the memories
        and drive rst/start."""
        nonlocal cycle
        await FallingEdge(dut.clk)
        cycle += 1
        out = {k: getattr(dut, k).value for k in ('done', 'y_we', 'y_bank', 'y_addr', 'y_data', 'eng_valid', 'eng_first',
                                         'eng_last', 'eng_acc_valid', 'eng_a_o', 'eng_b_o')}  # fmt: skip
        for name in ('x', 'w', 'b'):
            addr = getattr(dut, f'{name}_addr').value
            assert addr.is_resolvable, f'cycle {cycle}: {name}_addr is {addr}'
            getattr(dut, f'{name}_data').value = word(name, prev[name])
            prev[name] = addr.to_unsigned()
        dut.rst.value = rst
        dut.start.value = start
        return out

    def quiet(out: dict, what: str):
        assert out['done'] == '0' and out['y_we'] == '0', f'cycle {cycle}: done/y_we high {what}'
        # An idle controller drives zeros into the (shared) engine.
        for k in ('eng_valid', 'eng_first', 'eng_last', 'eng_a_o', 'eng_b_o'):
            v = out[k]
            assert v.is_resolvable and _uint(v) == 0, f'cycle {cycle}: {k} is {v} {what}'

    for _ in range(3):
        await step(rst=1, start=0)
    for _ in range(2):
        quiet(await step(rst=0, start=0), 'before start')

    for run, r in enumerate(case['runs']):
        mems['x'], mems['w'], mems['b'] = r['x'], r['w'], r['b']
        want = [tuple(w) for w in r['writes']]
        writes = []
        await step(rst=0, start=1)
        start_cycle = cycle
        done_cycle = None
        while done_cycle is None:
            out = await step(rst=0, start=0)
            assert cycle - start_cycle <= cycles, f'run {run}: no done {cycles} cycles after start'
            assert out['y_we'] in ('0', '1') and out['done'] in ('0', '1'), f'cycle {cycle}: y_we/done {out}'
            if out['y_we'] == '1':
                vals = [out[k] for k in ('y_bank', 'y_addr', 'y_data')]
                assert all(v.is_resolvable for v in vals), f'cycle {cycle}: write of {vals}'
                bank, addr, data = vals
                y = data.to_signed() if g['Y_SIGNED'] else data.to_unsigned()
                writes.append((cycle - start_cycle, _uint(bank), _uint(addr), y))
            if out['done'] == '1':
                done_cycle = cycle
        assert done_cycle - start_cycle == cycles, (
            f'run {run}: done {done_cycle - start_cycle} cycles after start, expected {cycles}'
        )
        assert len(writes) == len(want), f'run {run}: {len(writes)} writes, expected {len(want)}'
        bad = [f'write {j}: got (cycle, bank, addr, y) = {got}, expected {exp}'
               for j, (got, exp) in enumerate(zip(writes, want)) if got != exp]  # fmt: skip
        assert not bad, f'run {run}: {len(bad)} wrong writes, e.g. ' + '; '.join(bad[:6])
        # Quiet after done; the next start comes 0..2 cycles later.
        for _ in range(run % 3 if run < len(case['runs']) - 1 else 6):
            quiet(await step(rst=0, start=0), 'after done')
    dut._log.info('%d runs checked', len(case['runs']))
