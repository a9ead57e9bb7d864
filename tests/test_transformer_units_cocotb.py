"""Per-cycle cocotb tests, simulated with GHDL, of the VHDL units the Transformer layers use:
vs_softmax (integer softmax over rows, driven alone with Python models of the input buffer and
the exp table ROM) and vs_dense_ctrl on a real vs_mac_engine in its buffer-product mode
(attention's Q K^T and A V per head) and with a result banked by row or by column.

The cases are computed here with the Python twins (SoftmaxUnit, MatMulUnit, DenseUnit: generics,
cycles, ROM packing, emulate) and independent NumPy references; the cocotb modules under
tests/cocotb (cocotb_softmax.py, cocotb_matmul.py) drive the memories and check every write and
the cycle of done.
"""

from __future__ import annotations

import random
from functools import partial

import numpy as np
import pytest

from vhdlspartan.fixed import FixedType, requantize, to_twos
from vhdlspartan.integer_ops import check_exp_table, exp_table, reference_softmax, signed_type, unsigned_unit_type
from vhdlspartan.vhdl_backend.units.base import BANK_BY_COLUMN, BANK_BY_ROW, Buffer
from vhdlspartan.vhdl_backend.units.dense import DenseUnit, Engine, MatMulUnit
from vhdlspartan.vhdl_backend.units.softmax import SoftmaxUnit

from ghdl_runner import COCOTB_DIR, library, needs_ghdl, run_case

pytestmark = needs_ghdl


def _code_range(t: FixedType) -> tuple[int, int]:
    return t.min_int, t.max_int


# --- vs_softmax ------------------------------------------------------------------------------

# id, ROWS, N, x type (the buffer the unit reads), input (bits, integer), exp bits, table size,
# output bits, runs (each ROWS rows; the edge rows come first), DIVS (pass-3 dividers; a divider
# takes a new division every NUM_W + 2 cycles, NUM_W = exp bits + output bits - 1)
SOFTMAX_CASES = [
    # the QSoftmax defaults: input = x (SHIFT 0), table 256 (distances up to 255: no clamp); one
    # divider: a division every NUM_W + 2 = 17 cycles
    pytest.param(3, 6, FixedType(8, 4, True, 'RND_CONV', 'SAT'), (8, 3), 8, 256, 8, 6, 1, id='R3-N6-s8i3-e8-t256-d1'),
    # 4 dividers (1 < DIVS < NUM_W + 2): a row is a burst of 4 and one of 2
    pytest.param(3, 6, FixedType(8, 4, True, 'RND_CONV', 'SAT'), (8, 3), 8, 256, 8, 4, 4, id='R3-N6-s8i3-e8-t256-d4'),
    # unsigned, wider x (SHIFT 3), the cast saturates; the smallest table check_exp_table accepts
    # (46: entry 44 is 1, entry 45 the first 0) against 128 distances: clamps; bursts of 5, 5, 2
    pytest.param(2, 12, FixedType(10, 6, False), (8, 4), 8, 46, 10, 8, 5, id='R2-N12-u10-sh3-t46-d5'),
    # wide signed x with fewer frac bits than the input (SHIFT -2), table 100 (not a power of 2);
    # one divider: the next row's first division waits for the last one (2 N + 1 < NUM_W + 2)
    pytest.param(2, 5, FixedType(12, 2, True), (6, 1), 6, 100, 7, 8, 1, id='R2-N5-s12-sh-2-e6-t100-d1'),
    # more dividers than elements (N < DIVS): one burst a row, dividers 5..7 unused
    pytest.param(2, 5, FixedType(12, 2, True), (6, 1), 6, 100, 7, 6, 8, id='R2-N5-s12-sh-2-e6-t100-d8'),
    # DIVS >= NUM_W + 5 = 17 (NUM_W + 2 = 14 suffice): a division every cycle, rows of 20 wrap the
    # round robin
    pytest.param(3, 20, FixedType(8, 4, True), (6, 1), 6, 100, 7, 4, 17, id='R3-N20-s8-i6-e6-t100-d17'),
    # short rows (N = 3) with bursts of 2 and 1: each row's first burst waits NUM_W + 2 cycles
    # after the previous row's last burst began
    pytest.param(5, 3, FixedType(8, 4, True), (8, 3), 8, 256, 8, 4, 2, id='R5-N3-s8i3-e8-t256-d2'),
]


def _softmax_rows(rng: random.Random, unit: SoftmaxUnit, count: int) -> list[list[int]]:
    """Input rows (x codes): edge rows first, then random rows."""
    n, xt, it = unit.n, unit.x.type, unit.in_type
    lo, hi = _code_range(xt)
    shift = xt.frac - it.frac

    def x_of(v: int) -> int:
        """An x code whose cast to the input type is near v (exactly v if representable)."""
        x = v << shift if shift >= 0 else v >> -shift
        return min(max(x, lo), hi)

    top, size = it.max_int, unit.table_size
    rows = [
        [hi] * n,  # all equal: every entry exp(0), the largest sum
        [lo] * n,
        [x_of(0)] * n,
        [hi] + [lo] * (n - 1),  # one large, the rest as far as possible: the distance clamps
        [lo] * (n - 1) + [hi],
        [[lo, hi][j % 2] for j in range(n)],  # alternating extremes
        [[hi, lo][j % 2] for j in range(n)],
        [hi, hi] + [lo] * (n - 2),  # a tie for the maximum
        # distances at the end of the table: size - 2, size - 1, size (clamped), and near 0
        [x_of(top)] + [x_of(top - d) for d in (size - 2, size - 1, size, 1, 0, 2, size + 1, size - 3)][: n - 1],
        # values at and past the input type's saturation edges
        [x_of(v) for v in (top, top + 1, top - 1, it.min_int, it.min_int - 1, it.min_int + 1, 0, -1, 1, top, 2, -2)][:n],
        [hi - j for j in range(n)],  # a ramp at the top: many non-zero entries
        [x_of(top - j * (1 if it.frac < 3 else 2)) for j in range(n)],
    ]
    rows = [(r * n)[:n] for r in rows]
    while len(rows) < count:
        kind = rng.random()
        if kind < 0.3:
            rows.append([rng.randint(lo, hi) for _ in range(n)])
        else:  # values within a few table entries of each other: several non-zero exps
            spread = rng.choice((2, 8, 32, size)) << max(shift, 0)
            c = rng.randint(lo, hi)
            rows.append([min(max(c + rng.randint(-spread, spread), lo), hi) for _ in range(n)])
    return rows[:count]


@pytest.mark.parametrize('rows,n,x_type,in_bi,exp_bits,table_size,out_bits,runs,divs', SOFTMAX_CASES)
def test_softmax(tmp_path, rows, n, x_type, in_bi, exp_bits, table_size, out_bits, runs, divs):
    out_type = unsigned_unit_type(out_bits)
    unit = SoftmaxUnit('u_sm', 'sm', Buffer('t_x', rows * n, x_type, 'lutram'), Buffer('t_y', rows * n, out_type,
                       'lutram'), rows, n, *in_bi, exp_bits, table_size, 'lutram', divs)  # fmt: skip
    in_type, exp_type = unit.in_type, unit.exp_type
    assert in_type == signed_type(*in_bi) and exp_type == unsigned_unit_type(exp_bits)
    check_exp_table(in_type, exp_type, table_size, 'test case')  # the table is one the converter accepts
    generics = unit.generics(None)
    assert generics['DIVS'] == divs
    rng = random.Random(rows * 1000 + n * 10 + exp_bits + divs)
    all_rows = _softmax_rows(rng, unit, rows * runs)
    x = np.array(all_rows, dtype=np.int64).reshape(runs, rows * n)
    q = requantize(x, x_type.frac, in_type).reshape(runs, rows, n)
    want = reference_softmax(q, in_type, exp_type, out_type, table_size).reshape(runs, rows * n)
    assert np.array_equal(unit.emulate({'t_x': x}), want)  # the Python twin agrees
    # the edges are in the case: distances at the table's last entry (clamped where the input range
    # reaches past it) and, where x reaches past the input type, casts saturated at both ends
    dist = q.max(axis=-1, keepdims=True) - q
    reach = in_type.max_int - in_type.min_int
    assert (dist == min(table_size - 1, reach)).any()
    assert (dist > table_size - 1).any() == (table_size - 1 < reach)
    up, down = max(in_type.frac - x_type.frac, 0), max(x_type.frac - in_type.frac, 0)
    if (x_type.max_int << up) > (in_type.max_int << down):
        assert ((x << up) > (in_type.max_int << down)).any() and (q == in_type.max_int).any()
    if (x_type.min_int << up) < (in_type.min_int << down):
        assert ((x << up) < (in_type.min_int << down)).any() and (q == in_type.min_int).any()
    case = dict(
        generics=generics, cycles=unit.cycles(), table=exp_table(in_type, exp_type, table_size).tolist(),
        runs=to_twos(x, x_type.width).tolist(), expected=want.tolist(),
    )  # fmt: skip
    run_case(tmp_path, 'vs_softmax', library('vs_fixed_pkg.vhd', 'vs_divider.vhd', 'vs_softmax.vhd'), generics,
         'cocotb_softmax', case, 'SOFTMAX_CASE_FILE')  # fmt: skip


# --- vs_dense_ctrl + vs_mac_engine -------------------------------------------------------------


def _values(rng: random.Random, t: FixedType, shape, kind: str) -> np.ndarray:
    """Codes of type t: 'edge' (extremes, 0, +-1 often), 'small' (rounding ties), 'uniform'."""
    lo, hi = _code_range(t)
    out = np.empty(int(np.prod(shape)), dtype=np.int64)
    for j in range(out.size):
        r = rng.random()
        if kind == 'edge' and r < 0.5:
            out[j] = rng.choice([v for v in (lo, hi, lo + 1, hi - 1, 0, 1, -1) if lo <= v <= hi])
        elif kind == 'small':
            out[j] = rng.randint(max(lo, -6), min(hi, 6))
        else:
            out[j] = rng.randint(lo, hi)
    return out.reshape(shape)


def _cast(job, acc, bias, b_frac):
    """NumPy reference of the cast: exact acc (at x.frac + w.frac) plus bias (at b_frac) on a common
    scale, times 2^-out_shift_extra, cast once to y's type."""
    prod_frac = job.x.type.frac + job.w_type.frac
    frac = max(prod_frac, b_frac)
    total = (np.asarray(acc, np.int64) << (frac - prod_frac)) + (np.asarray(bias, np.int64) << (frac - b_frac))
    return requantize(total, frac + job.out_shift_extra, job.y.type)


def _writes(job, value_at) -> list:
    """Expected writes in the controller's order (head, row, group, lane): (cycles after start,
    one-hot bank, address, value); value_at(h, t, o) -> (bank, address, value).
    The schedule, modelled by its resources: the engine takes a group's operands in n_in
    consecutive cycles (the first group in cycles 1..n_in after start), and its sums show 5 cycles
    after the last (ENGINE_DRAIN_CYCLES); the write-back, one output a cycle from the cycle after
    the sums (the shadow bank), must have written the previous group by then, otherwise issuing
    waits. A word selected in cycle c is seen written in cycle c + 5 (the write-back pipeline:
    select, sum, round, range, clamp; 8 with a fused activation), and done with the last write."""
    p, groups, n_in = job.lanes_used, job.groups, job.n_in
    wb = 5 if job.post is None else 8
    out, last_issue, last_write = [], 0, 0
    for h in range(job.n_h):
        for t in range(job.n_t):
            for g in range(groups):
                nw = min(p, job.n_out - g * p)
                last_issue = max(last_issue + n_in, last_write - 5)  # first write after the previous last
                first_write = last_issue + 5 + 1
                assert first_write > last_write
                for k in range(nw):
                    bank, addr, v = value_at(h, t, g * p + k)
                    out.append((first_write + k + wb, 1 << bank, addr, int(v)))
                last_write = first_write + nw - 1
    assert last_write + wb == job.cycles()
    return out


def _banked_words(matrix: np.ndarray, buf: Buffer, fill: np.ndarray) -> list:
    """The words of a banked buffer holding matrix (rows of buf.row elements), packed P banks to a
    word (bank k in bits k*W_W..); words no element maps to keep the junk in fill (banks, words)."""
    banks = fill.copy()
    for r in range(matrix.shape[0]):
        for c in range(matrix.shape[1]):
            if buf.bank_mode == BANK_BY_ROW:  # row r: bank r mod P, word (r div P) * row + c
                banks[r % buf.banks, (r // buf.banks) * buf.row + c] = matrix[r, c]
            else:  # by column: bank c mod P, word r * row / P + c div P
                banks[c % buf.banks, r * buf.row // buf.banks + c // buf.banks] = matrix[r, c]
    return _pack(banks.T, buf.type.width)


def _pack(rows, width: int) -> list:
    words = []
    for row in np.atleast_2d(rows):
        words.append(sum(int(v) << (k * width) for k, v in enumerate(to_twos(row, width).tolist())))
    return words


def _qk_job(kind, h=2, t_len=5, dk=4, p=2):
    """Q K^T: h heads, T, dk, P (default 2, 5, 4, 2: last group of keys partial), K banked by row,
    1/sqrt(dk) taken as 2^-1."""
    inner = h * dk
    proj = FixedType(8, 4, True, 'RND_CONV', 'SAT')
    q = Buffer('t_q', t_len * inner, proj, 'lutram')
    k = Buffer('t_k', t_len * inner, proj, 'lutram', banks=p, bank_mode=BANK_BY_ROW, row=inner)
    s = Buffer('t_s', h * t_len * t_len, FixedType(8, 4, True, 'RND_CONV', 'SAT'), 'lutram')
    return MatMulUnit('u_qk', 'mha', q, k, s, t_len, dk, t_len, p,
                      dict(X_T=inner, X_H=dk, W_G=inner, W_H=dk, W_SI=1, Y_T=t_len, Y_H=t_len * t_len), h, 1)  # fmt: skip


def _av_job(kind, h=2, t_len=5, dk=4, p=2):
    """A V: h heads, T, dk, P (default 2, 5, 4, 2), V banked by column, A unsigned (probabilities)."""
    inner = h * dk
    a = Buffer('t_a', h * t_len * t_len, unsigned_unit_type(8), 'lutram')
    v = Buffer('t_v', t_len * inner, FixedType(8, 4, True, 'RND_CONV', 'SAT'), 'lutram', banks=p,
               bank_mode=BANK_BY_COLUMN, row=inner)  # fmt: skip
    c = Buffer('t_c', t_len * inner, FixedType(8, 4, True, 'RND_CONV', 'SAT'), 'lutram')
    return MatMulUnit('u_av', 'mha', a, v, c, t_len, t_len, dk, p,
                      dict(X_T=t_len, X_H=t_len * t_len, W_G=1, W_H=dk // p, W_SI=inner // p, Y_T=inner, Y_H=dk), h)  # fmt: skip


def _matmul_run(job: MatMulUnit, rng: random.Random, kind: str) -> dict:
    h, t_len, inner = job.n_h, job.n_t, job.w.depth // job.n_t
    xt, wt = job.x.type, job.w_type
    w_mat = _values(rng, wt, (t_len, inner), kind)  # K or V: (time, h * dk)
    fill = _values(rng, wt, (job.w.banks, job.w.words), 'uniform')  # junk where no element is
    if job.w.bank_mode == BANK_BY_ROW:  # Q K^T: x = Q (time, h * dk), y = S (h, t, s)
        dk = job.n_in
        x_mat = _values(rng, xt, (t_len, inner), kind)
        if kind == 'edge':  # sums at both saturation ends
            x_mat[0], w_mat[0], w_mat[1], x_mat[1] = xt.min_int, wt.min_int, wt.max_int, xt.max_int
        s = np.einsum('thi,shi->hts', x_mat.reshape(t_len, h, dk), w_mat.reshape(t_len, h, dk))
        y = _cast(job, s, 0, 0)
        x_words, y_flat = x_mat.reshape(-1), y.reshape(-1)

        def value_at(hh, t, o):
            return 0, hh * t_len * t_len + t * t_len + o, y[hh, t, o]
    else:  # A V: x = A (h, t, s), y = C (time, h * dk)
        dk = job.n_out
        x_mat = _values(rng, xt, (h, t_len, t_len), kind)
        if kind == 'edge':
            x_mat[0, 0], w_mat[:, 0], w_mat[:, 1] = xt.max_int, wt.min_int, wt.max_int
        c = np.einsum('hts,shd->thd', x_mat, w_mat.reshape(t_len, h, dk))
        y = _cast(job, c, 0, 0).reshape(t_len, inner)
        x_words, y_flat = x_mat.reshape(-1), y.reshape(-1)

        def value_at(hh, t, o):
            return 0, t * inner + hh * dk + o, y[t, hh * dk + o]
    # the Python twin reads the logical w (row-major (time, h * dk)) through the strides
    assert np.array_equal(job.emulate({job.x.name: x_words[None], job.w.name: w_mat.reshape(1, -1)})[0], y_flat)
    return dict(x=to_twos(x_words, xt.width).tolist(), w=_banked_words(w_mat, job.w, fill), b=[],
                writes=_writes(job, value_at), y=y_flat.tolist())


def _dense_job(kind, n_in=6, n_out=7, n_t=5, p=3, by_column=False):
    """A Dense per time step (N_H = 1) with bias (default: N_IN 6, N_OUT 7, N_T 5, P 3: partial last
    group), result banked by row in 2 banks, or by column in P banks."""
    xt, wt, bt = FixedType(8, 2, True), FixedType(6, 3, True), FixedType(7, 7, True)  # bias finer: ACC_SHIFT 2
    yt = FixedType(6, 2, True, 'RND', 'SAT_SYM')
    x = Buffer('t_x', n_t * n_in, xt, 'lutram')
    if by_column:
        y = Buffer('t_y', n_t * n_out, yt, 'lutram', banks=p, bank_mode=BANK_BY_COLUMN, row=n_out)
    else:
        y = Buffer('t_y', n_t * n_out, yt, 'lutram', banks=2, bank_mode=BANK_BY_ROW, row=n_out)
    rng = np.random.default_rng(5)
    weights = rng.integers(wt.min_int, wt.max_int + 1, (n_in, n_out))
    weights[:, 0], weights[:, 1] = wt.min_int, wt.max_int  # saturating columns
    bias = rng.integers(bt.min_int, bt.max_int + 1, n_out)
    bias[:2] = bt.min_int, bt.max_int
    return DenseUnit('u_d', 'd', x, y, n_in, n_out, n_t, p, wt, bt, weights, bias, 'lutram')


def _dense_run(job: DenseUnit, rng: random.Random, kind: str) -> dict:
    xt, p, groups = job.x.type, job.lanes_used, job.groups
    x_mat = _values(rng, xt, (job.n_t, job.n_in), kind)
    if kind == 'edge':
        x_mat[0], x_mat[1] = xt.min_int, xt.max_int
    y = _cast(job, x_mat @ job.weights, job.bias[None], job.b_type.frac)
    assert np.array_equal(job.emulate({job.x.name: x_mat.reshape(1, -1)}).reshape(y.shape), y)
    # the weight ROM (packing of the Python twin): word g * N_IN + i, lane k = w[i, g P + k]
    w_words, b_words = job._rom_words
    padded = np.zeros((job.n_in, groups * p), dtype=np.int64)
    padded[:, : job.n_out] = job.weights
    assert w_words == _pack([padded[i, g * p:(g + 1) * p] for g in range(groups) for i in range(job.n_in)],
                            job.w_type.width)  # fmt: skip
    banks, row = job.y.banks, job.n_out

    def value_at(h, t, o):
        if job.y.bank_mode == BANK_BY_COLUMN:  # element (t, o) in bank o mod P, word t * row / P + o div P
            return o % banks, t * row // banks + o // banks, y[t, o]
        return t % banks, (t // banks) * row + o, y[t, o]  # by row: row t in bank t mod 2, word (t div 2) * row + o

    return dict(x=to_twos(x_mat.reshape(-1), xt.width).tolist(), w=list(w_words), b=list(b_words),
                writes=_writes(job, value_at), y=y.reshape(-1).tolist())


# id, job builder, run builder, engine LANES, DSP_LANES
# Groups follow back to back across rows and heads in all; N_IN < P (issuing stalls until the
# shadow bank is written) in the last three, after every group or only after full ones.
MATMUL_CASES = [
    pytest.param(_qk_job, _matmul_run, 3, 1, id='QKt-H2-T5-dk4-P2-lanes3'),
    pytest.param(_av_job, _matmul_run, 2, 2, id='AV-H2-T5-dk4-P2-ux'),
    pytest.param(_dense_job, _dense_run, 4, 2, id='dense-T5-in6-out7-P3-ybanks2'),
    pytest.param(partial(_av_job, h=2, t_len=3, dk=8, p=4), _matmul_run, 5, 2, id='AV-H2-T3-dk8-P4-stall'),
    pytest.param(partial(_qk_job, h=2, t_len=7, dk=2, p=4), _matmul_run, 4, 4, id='QKt-H2-T7-dk2-P4-stall'),
    pytest.param(partial(_dense_job, n_in=2, n_out=8, n_t=3, p=4, by_column=True), _dense_run, 4, 1,
                 id='dense-T3-in2-out8-P4-ycolumns-stall'),
]


@pytest.mark.parametrize('make_job,make_run,lanes,dsp_lanes', MATMUL_CASES)
def test_matmul(tmp_path, make_job, make_run, lanes, dsp_lanes):
    job = make_job(None)
    job.check_accumulator('test case')
    engine = Engine.for_units([job], lanes, dsp_lanes)
    generics = dict(job.generics(engine), DSP_LANES=dsp_lanes)
    if isinstance(job, MatMulUnit):
        assert generics['BIAS_W'] == 1 and generics['Y_MODE'] == 0
    # the closed formula of vs_dense_ctrl's header
    n_in, p, rows = generics['N_IN'], generics['P'], generics['N_H'] * generics['N_T']
    groups = -(-generics['N_OUT'] // p)
    last_nw = generics['N_OUT'] - (groups - 1) * p
    wb_stages = 5 + 3 * generics['POST']
    cycles = 5 + wb_stages + n_in + last_nw + rows * (groups - 1) * max(n_in, p) + (rows - 1) * max(n_in, last_nw)
    assert cycles == job.cycles()
    rng = random.Random(lanes * 100 + dsp_lanes)
    runs = [make_run(job, rng, kind) for kind in ('edge', 'small', 'uniform', 'edge')]
    ys = np.concatenate([r['y'] for r in runs])
    yt = job.y.type
    assert ys.max() == yt.max_int and ys.min() == (-yt.max_int if yt.saturation == 'SAT_SYM' else yt.min_int)
    case = dict(generics=generics, cycles=cycles, runs=runs)
    sources = library('vs_fixed_pkg.vhd', 'vs_mac_lane.vhd', 'vs_mac_engine.vhd', 'vs_dense_ctrl.vhd')
    run_case(tmp_path, 'tb_matmul_wrap', sources + [COCOTB_DIR / 'tb_matmul_wrap.vhd'], generics, 'cocotb_matmul', case,
         'MATMUL_CASE_FILE')  # fmt: skip
