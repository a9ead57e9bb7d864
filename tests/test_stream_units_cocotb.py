"""Per-cycle cocotb tests, simulated with GHDL, of three streaming units, each driven alone with
Python models of its memories (registered reads): vs_add (AddUnit), vs_affine (BatchNormUnit, scale
and bias packed in one ROM word) and vs_gavg (GlobalAvgUnit).

The cases are computed here with the Python twins (generics, cycles, ROM packing, emulate), checked
against the plain references (exact_sum, reference_affine, divide_requantize), and handed to
tests/cocotb/cocotb_stream_units.py, which drives the memories and checks every write (cycle,
address, value) and the cycle of done.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from vhdlspartan.fixed import FixedType, divide_requantize, to_twos
from vhdlspartan.integer_ops import reference_affine
from vhdlspartan.vhdl_backend.units.add import AddUnit, add_generics, exact_sum
from vhdlspartan.vhdl_backend.units.base import Buffer
from vhdlspartan.vhdl_backend.units.batchnorm import BatchNormUnit
from vhdlspartan.vhdl_backend.units.pooling import GlobalAvgUnit

from ghdl_runner import library, needs_ghdl, run_case

pytestmark = needs_ghdl

RUNS = 6  # runs a case: edge runs first, then random ones


def _run(tmp_path: Path, toplevel: str, sources: list[Path], generics: dict, case: dict) -> None:
    run_case(tmp_path, toplevel, sources, generics, 'cocotb_stream_units', dict(case, generics=generics),
             'STREAM_CASE_FILE')  # fmt: skip


def _edges(t: FixedType) -> list[int]:
    """Codes at and next to the ends of t's range, and around 0."""
    lo, hi = t.min_int, t.max_int
    return sorted({lo, lo + 1, hi - 1, hi, min(max(0, lo), hi), min(max(1, lo), hi), min(max(-1, lo), hi)})


def _tensor(rng: random.Random, t: FixedType, n: int, run: int, phase: int = 0) -> list[int]:
    """One run's codes: run 0 cycles through the edge codes, run 1 is all max, run 2 all min,
    later runs random (with some edge codes mixed in)."""
    e = _edges(t)
    if run == 0:
        return [e[(j + phase) % len(e)] for j in range(n)]
    if run == 1:
        return [t.max_int] * n
    if run == 2:
        return [t.min_int] * n
    return [rng.choice(e) if rng.random() < 0.15 else rng.randint(t.min_int, t.max_int) for _ in range(n)]


def _walk_writes(y: np.ndarray, width: int, lat: int) -> list[list[list[int]]]:
    """Expected writes of a vs_walk unit: element j at cycle LAT + 1 + j after start."""
    return [[[lat + 1 + j, j, int(v)] for j, v in enumerate(to_twos(row, width).tolist())] for row in y]


# --- vs_add -----------------------------------------------------------------------------------

ADD_CASES = [
    # signed + unsigned (B shifted up 2), positive SHIFT, a saturating unsigned result, RND_CONV
    pytest.param(13, FixedType(8, 4, True), FixedType(6, 2, False), FixedType(6, 3, False, 'RND_CONV', 'SAT'),
                 id='N13-s8f4+u6f2-u6f3-rndconv-sat'),
    # unsigned + signed (A shifted up 3), negative SHIFT, a wrapping signed result, TRN
    pytest.param(16, FixedType(10, 2, False), FixedType(7, 5, True), FixedType(12, 7, True, 'TRN', 'WRAP'),
                 id='N16-u10f2+s7f5-s12f7-trn-wrap'),
    # both signed, narrow signed result: SHIFT 3 with rounding and saturation at both ends
    pytest.param(7, FixedType(9, 5, True), FixedType(9, 5, True), FixedType(5, 2, True, 'RND_CONV', 'SAT'),
                 id='N7-s9f5+s9f5-s5f2-rndconv-sat'),
]


@pytest.mark.parametrize('n,at,bt,yt', ADD_CASES)
def test_add(tmp_path, n, at, bt, yt):
    a_buf, b_buf, y_buf = (Buffer(f't_{k}', n, t, 'lutram') for k, t in (('a', at), ('b', bt), ('y', yt)))
    unit = AddUnit('u_add', 'add', a_buf, b_buf, y_buf)
    generics = unit.generics(None)
    assert generics == add_generics(n, a_buf.aw, at, bt, yt)
    rng = random.Random(n * 7919 + at.width * 31 + bt.width)
    a = np.array([_tensor(rng, at, n, r) for r in range(RUNS)], dtype=np.int64)
    b = np.array([_tensor(rng, bt, n, r, phase=3) for r in range(RUNS)], dtype=np.int64)
    y = np.asarray(unit.emulate({'t_a': a, 't_b': b}))
    assert np.array_equal(y, exact_sum(a, at.frac, b, bt.frac, yt))
    assert y.min() >= yt.min_int and y.max() <= yt.max_int
    if yt.saturation == 'SAT':  # the edges are reached
        assert (y == yt.max_int).any() and (y == yt.min_int).any()
    lat = unit.cycles() - n
    case = dict(
        memories=[dict(addr='a_addr', data='a_data', width=at.width, words=to_twos(a, at.width).tolist()),
                  dict(addr='b_addr', data='b_data', width=bt.width, words=to_twos(b, bt.width).tolist())],
        runs=RUNS, cycles=unit.cycles(), expected=_walk_writes(y, yt.width, lat),
    )  # fmt: skip
    _run(tmp_path, 'vs_add', library('vs_fixed_pkg.vhd', 'vs_walk.vhd', 'vs_add.vhd'), generics, case)


# --- vs_affine --------------------------------------------------------------------------------

AFFINE_CASES = [
    # all signed, positive SHIFT (7 frac bits onto 4), RND_CONV, saturating
    pytest.param(4, 3, FixedType(8, 3, True), FixedType(6, 4, True), FixedType(8, 2, True),
                 FixedType(8, 4, True, 'RND_CONV', 'SAT'), id='T4-C3-s8-s6-s8-s8f4-rndconv-sat'),
    # unsigned x and scale, signed bias on the finer scale (PROD_SHIFT 4), negative SHIFT, wrapping, TRN
    pytest.param(3, 5, FixedType(6, 1, False), FixedType(5, 1, False), FixedType(10, 6, True),
                 FixedType(10, 8, True, 'TRN', 'WRAP'), id='T3-C5-u6-u5-s10-s10f8-trn-wrap'),
    # one channel, signed x, unsigned bias, an unsigned saturating result (negatives clamp to 0)
    pytest.param(9, 1, FixedType(7, 2, True), FixedType(7, 5, True), FixedType(6, 1, False),
                 FixedType(6, 2, False, 'RND_CONV', 'SAT'), id='T9-C1-s7-s7-u6-u6f2-rndconv-sat'),
]


def _channel_params(rng: random.Random, t: FixedType, c: int, phase: int) -> np.ndarray:
    e = _edges(t)
    vals = [e[(k + phase) % len(e)] for k in range(c)]
    return np.array([v if k < 2 else rng.randint(t.min_int, t.max_int) for k, v in enumerate(vals)]
                    if c > 2 else vals, dtype=np.int64)  # fmt: skip


@pytest.mark.parametrize('steps,c,xt,st,bt,yt', AFFINE_CASES)
def test_affine(tmp_path, steps, c, xt, st, bt, yt):
    n = steps * c
    rng = random.Random(n * 131 + c * 17 + xt.width)
    scale = _channel_params(rng, st, c, 0)
    bias = _channel_params(rng, bt, c, 2)
    if c == 1:  # one channel: the scale at its most negative code, a small bias (results at both ends)
        scale, bias = np.array([st.min_int]), np.array([bt.max_int // 4])
    unit = BatchNormUnit('u_bn', 'bn', Buffer('t_x', n, xt, 'lutram'), Buffer('t_y', n, yt, 'lutram'), c,
                         st, bt, scale, bias, 'lutram')  # fmt: skip
    generics = unit.generics(None)
    words = unit._rom_words
    assert len(words) == c and all(0 <= w < 1 << (st.width + bt.width) for w in words)
    x = np.array([_tensor(rng, xt, n, r) for r in range(RUNS)], dtype=np.int64)
    y = np.asarray(unit.emulate({'t_x': x}))
    ref = reference_affine(x.reshape(RUNS, steps, c), xt.frac, scale, st.frac, bias, bt.frac, yt).reshape(RUNS, n)
    assert np.array_equal(y, ref)
    assert y.min() >= yt.min_int and y.max() <= yt.max_int
    if yt.saturation == 'SAT':  # the edges are reached
        assert (y == yt.max_int).any() and (y == yt.min_int).any()
    lat = unit.cycles() - n
    case = dict(
        memories=[dict(addr='x_addr', data='x_data', width=xt.width, words=to_twos(x, xt.width).tolist()),
                  dict(addr='sb_addr', data='sb_data', width=st.width + bt.width, words=[int(w) for w in words])],
        runs=RUNS, cycles=unit.cycles(), expected=_walk_writes(y, yt.width, lat),
    )  # fmt: skip
    _run(tmp_path, 'vs_affine', library('vs_fixed_pkg.vhd', 'vs_walk.vhd', 'vs_affine.vhd'), generics, case)


# --- vs_gavg ---------------------------------------------------------------------------------

GAVG_CASES = [
    # signed, K = 0, T = 5 (not a power of 2), RND_CONV, a narrower result that saturates at both ends
    pytest.param(5, 3, FixedType(8, 3, True), FixedType(6, 3, True, 'RND_CONV', 'SAT'), id='T5-C3-s8f3-s6f3-rndconv-sat'),
    # unsigned input, K = 3 (num shifted up), a signed result that wraps, TRN
    pytest.param(3, 4, FixedType(6, 2, False), FixedType(8, 5, True, 'TRN', 'WRAP'), id='T3-C4-u6f2-s8f5-trn-wrap'),
    # signed input, K = -4 (den = T << 4), an unsigned saturating result, RND_CONV
    pytest.param(7, 2, FixedType(10, 6, True), FixedType(5, 2, False, 'RND_CONV', 'SAT'),
                 id='T7-C2-s10f6-u5f2-rndconv-sat'),
    # den (T << 4 = 112) nearly as wide as num (8 bits): a two-stage divider; one channel (one sum word)
    pytest.param(7, 1, FixedType(5, 5, True), FixedType(4, 1, True, 'RND', 'WRAP'), id='T7-C1-s5f5-s4f1-two-stages'),
    # den (T << 5 = 224) as wide as num: one stage (the means round to -1, 0 or 1)
    pytest.param(7, 2, FixedType(5, 5, True), FixedType(3, 0, True, 'RND', 'WRAP'), id='T7-C2-s5f5-s3f0-one-stage'),
    # T = 1: every step is the last, nothing is summed
    pytest.param(1, 5, FixedType(6, 2, True), FixedType(5, 1, True, 'RND_CONV', 'SAT'), id='T1-C5-s6f2-s5f1'),
]


@pytest.mark.parametrize('steps,c,xt,yt', GAVG_CASES)
def test_gavg(tmp_path, steps, c, xt, yt):
    n = steps * c
    unit = GlobalAvgUnit('u_gavg', 'gavg', Buffer('t_x', n, xt, 'lutram'), Buffer('t_y', c, yt, 'lutram'), steps, c)
    generics = unit.generics(None)
    rng = random.Random(n * 71 + xt.width * 5 + yt.width)
    x = np.array([_tensor(rng, xt, n, r) for r in range(RUNS)], dtype=np.int64)
    y = np.asarray(unit.emulate({'t_x': x}))
    k = yt.frac - xt.frac
    total = x.reshape(RUNS, steps, c).sum(axis=1)
    assert np.array_equal(y, divide_requantize(total << max(k, 0), steps << max(-k, 0), yt))
    assert y.min() >= yt.min_int and y.max() <= yt.max_int
    if yt.saturation == 'SAT':  # the edges are reached
        assert (y == yt.max_int).any() and (y == yt.min_int).any()
    writes = unit.write_cycles()
    assert 1 <= unit.div_stages <= generics['NUM_W']
    assert unit.cycles() == writes[-1] and np.all(np.diff(writes) == 1)  # one channel a cycle, done with the last
    expected = [[[int(w), ch, int(v)] for ch, (w, v) in enumerate(zip(writes, to_twos(row, yt.width).tolist()))]
                for row in y]
    case = dict(
        memories=[dict(addr='x_addr', data='x_data', width=xt.width, words=to_twos(x, xt.width).tolist())],
        runs=RUNS, cycles=unit.cycles(), expected=expected,
    )  # fmt: skip
    _run(tmp_path, 'vs_gavg', library('vs_fixed_pkg.vhd', 'vs_walk.vhd', 'vs_gavg.vhd'), generics, case)
