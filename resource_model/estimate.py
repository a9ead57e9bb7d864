"""Analytical resource estimate of a VHDLSpartan design: LUT, LUTRAM, FF, BRAM18, DSP, CARRY4
per layer and in total, latency in cycles, utilization of a part, binding resource, fit.

Block RAM, DSP and distributed-RAM counts follow the mapping rules of the synthesis flow
(exact rules, checked against synthesis by the calibration); LUT, FF and CARRY4 counts are
linear in features of each component's VHDL generics, with coefficients fitted to real
synthesis (`calibrate.py`, committed in `coefficients.json` with the tool versions).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..vhdl_backend.units.pooling import divider_stages
from .components import design_components
from .devices import get_device

COEFFICIENTS = Path(__file__).with_name('coefficients.json')
RESOURCES = ('LUT', 'LUTRAM', 'FF', 'BRAM18', 'DSP', 'CARRY4')
FITTED = ('LUT', 'FF', 'CARRY4', 'LUTRAM')  # LUT here is logic LUTs; memory LUTs are added by rule
# RAMB18 aspect ratios (depth, width) in simple dual port mode (AMD UG473)
RAMB18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))


def bits(n: int) -> int:
    """Bits of a counter that counts to n."""
    return max(1, int(n).bit_length())


def ramb18_count(depth: int, width: int, rom: bool = False) -> int:
    """RAMB18s of the cheapest shape. A narrow ROM (up to 9 bits) a little deeper than whole
    blocks (at most 1/8 of a block over) keeps the overflow words in LUTs: Yosys mapped 2,304 x 6
    and 2,304 x 7 to one 2K x 9 block, but 528 x 27 to two 512 x 36 blocks (calibration sweeps)."""
    counts = [math.ceil(depth / d) * math.ceil(width / w) for d, w in RAMB18_SHAPES]
    if rom and width <= 9:
        counts += [depth // d * math.ceil(width / w) for d, w in RAMB18_SHAPES if depth >= d and depth % d <= d // 8]
    return min(counts)


# Distributed RAM primitives for a simple dual-port memory: (words, bits) in 4 LUTs.
LUTRAM_SHAPES = ((64, 3), (32, 6))  # RAM64M, RAM32M (a tie goes to RAM64M, as Yosys chose)


def lutram_banks(depth: int, width: int) -> tuple:
    """(banks, primitives per bank) of the mapping with the fewest LUTs, read multiplexer included."""
    options = [(math.ceil(depth / d), math.ceil(width / w)) for d, w in LUTRAM_SHAPES]
    return min(options, key=lambda b: 4 * b[0] * b[1] + width * mux_luts(b[0]))


def lutram_luts(depth: int, width: int) -> int:
    banks, per_bank = lutram_banks(depth, width)
    return 4 * banks * per_bank


def async_lutram_luts(depth: int, width: int) -> int:
    """LUTs of a one-port memory with an asynchronous read (vs_gavg's running sums), as Yosys maps
    it: RAM32M (8 bits of 32 words), RAM64X1S, RAM128X1S and RAM256X1S (1, 2 and 4 LUTs a bit)."""
    if depth <= 1:
        return 0  # a register
    if depth <= 32:
        return 4 * math.ceil(width / 8)
    if depth <= 256:
        return width * math.ceil(depth / 64)
    return width * 4 * math.ceil(depth / 256) + width * mux_luts(math.ceil(depth / 256))


def multiplier_dsps(a_w: int, b_w: int, used_w: int | None = None) -> int:
    """DSP48E1s for a signed a_w x b_w product (25 x 18 signed per DSP). Yosys keeps a product
    in LUTs when fewer than 9 of its bits are used (4x4, or a wide product of which a WRAP cast
    keeps only the low bits), as the calibration sweep confirmed."""
    a_w, b_w = max(a_w, b_w), min(a_w, b_w)
    used = a_w + b_w if used_w is None else min(a_w + b_w, used_w)
    if used < 9 or b_w < 2:
        return 0
    if b_w <= 18:
        return math.ceil((a_w - 1) / 24) if a_w > 25 else 1
    return math.ceil((a_w - 1) / 24) * math.ceil((b_w - 1) / 17)


def pwl_dsps(p: dict) -> int:
    """DSP48E1s of vs_pwl's products as Yosys maps them (seen in synthesized designs): none for a
    constant slope that is 0 or a power of 2 (a shift), else the input in 17-bit slices, the slope
    (its own width when constant) in 24-bit ones; a product of fewer than 9 bits, or with a factor
    narrower than 4 bits, stays in LUTs (an 8 x 3 slope product did)."""
    x_w, total = p['X_W'] + 1, 0
    slopes = [p['P_CODE']] + ([None] if p['PER_ELEM'] else [p['A_CODE']] if p['A_CODE'] != p['P_CODE'] else [])
    for c in slopes:
        if c is not None and (c == 0 or abs(c) & (abs(c) - 1) == 0):
            continue
        c_w = p['S_W'] if c is None else bits(abs(c)) + 1
        wide, narrow = max(x_w, c_w), min(x_w, c_w)
        if wide + narrow >= 9 and narrow >= 4:
            total += math.ceil((wide - 1) / 17) * math.ceil((narrow - 1) / 24)
    return total


def affine_operand_widths(p) -> tuple:
    """Signed widths of BatchNorm's product operands (an unsigned operand gains a sign bit)."""
    return p['X_W'] + (not p['X_SIGNED']), p['S_W'] + (not p['S_SIGNED'])


def affine_dsps(p) -> int:
    a_w, b_w = affine_operand_widths(p)
    used = None if p['SAT'] > 0 else p['Y_W'] + p['SHIFT'] - p['PROD_SHIFT']
    return multiplier_dsps(a_w, b_w, used)


def layernorm_operand_widths(p) -> tuple:
    """vs_layernorm's one multiplier: D x max(D, inv + 1), both signed (see its VHDL)."""
    return p['D_W'], max(p['D_W'], p['INV_W'] + 1)


def requant_features(in_w: int, shift: int, p: dict) -> dict:
    """Cost drivers of a cast (vs_requant): the rounding adder and the saturation compare."""
    q_w = in_w - max(shift, 0)
    return {'rnd_add': q_w * (p['RND'] > 0 and shift > 0), 'sat_cmp': max(0, q_w - p['Y_W']) * (p['SAT'] > 0),
            'sat_y': p['Y_W'] * (p['SAT'] > 0)}  # fmt: skip


def used_width(in_w: int, shift: int, p: dict) -> int:
    """Input bits a cast reads: with WRAP the bits above the output's top are dropped unread."""
    return in_w if p['SAT'] > 0 else max(1, min(in_w, p['Y_W'] + shift))


def mux_luts(ways: int) -> int:
    """LUTs per bit of a ways:1 multiplexer (a LUT6 is a 4:1 mux)."""
    return 0 if ways <= 1 else math.ceil((ways - 1) / 3)


def _sum_w(g) -> int:
    return max(g['ACC_W'] + max(g['ACC_SHIFT'], 0), g['BIAS_W'] + 1 + max(g['BIAS_SHIFT'], 0)) + 1


def features(kind: str, p: dict) -> dict:
    """Named features of one component; the fitted cost is their weighted sum."""
    if kind == 'ram':
        if p['depth'] == 1:
            return {'reg_bits': p['width']}
        if p['storage'] == 'bram':
            return {'one': 1, 'aw': bits(p['depth'] - 1)}
        banks, _ = lutram_banks(p['depth'], p['width'])
        return {'width': p['width'], 'mux_bits': p['width'] * (banks - 1), 'banks': banks, 'aw': bits(p['depth'] - 1)}
    if kind == 'rom':
        depth = max(p['depth'], 2)
        if p['storage'] == 'bram':
            return {'one': 1, 'aw': bits(depth - 1)}
        return {'bits': p['varying_bits'], 'distinct': p['distinct_bits'], 'chunks': p['lut_chunks'], 'deep_bits': p['distinct_bits'] * max(0, bits(depth - 1) - 6),
                'aw': bits(depth - 1)}  # fmt: skip
    if kind == 'vs_dense_ctrl':
        groups = math.ceil(p['N_OUT'] / p['P'])
        ragged = p['N_OUT'] - (groups - 1) * p['P'] != p['P']  # a short last group: LAST_NW compares
        post = p.get('POST', 0)
        cast = {**p, 'Y_W': p['D_W'], 'RND': p['D_RND'], 'SAT': p['D_SAT']} if post else p  # the sum's own cast
        return {  # the shadow bank and its lane select are the engine's
            'one': 1, 'y_w': p['Y_W'], 'sum_w': used_width(_sum_w(p), p['OUT_SHIFT'], cast),
            'operand_gates': p['P'] * p['B_W'] + p['A_W'], 'addr_bits': p['XA_W'] + p['WA_W'] + p['BA_W'] + p['YA_W'],
            'counters': bits(p['N_IN']) + bits(groups) + bits(p['N_T']) + bits(p['P']),
            'lanes': p['P'], 'weight_bits': p['P'] * p['W_W'], 'bias_w': p['BIAS_W'],
            'multi_lane': int(p['P'] > 1), 'rows_bits': bits(p['N_T']),
            'stall': bits(p['P']) if p['P'] > p['N_IN'] else 0,  # the I_STALL counter and compare
            'waw_groups': p['WA_W'] * (groups > 1), 'single_group': int(groups == 1),  # weight base adder
            'ragged': bits(p['P']) * ragged, 'multi_row': int(p['N_T'] > 1), 'heads': int(p.get('N_H', 1) > 1),
            'post_bits': p['D_W'] + p['Y_W'] if post else 0, 'post_relu': p['D_W'] if p.get('POST_RELU') else 0,
            **requant_features(_sum_w(p), p['OUT_SHIFT'], cast),
        }  # fmt: skip
    if kind == 'vs_map':
        return {'one': 1, 'x_w': used_width(p['X_W'] + 1, p['SHIFT'], p), 'y_w': p['Y_W'], 'aw': p['AW'],
                'relu_x': p['X_W'] * p['RELU'],
                **requant_features(p['X_W'] + 1, p['SHIFT'], p)}  # fmt: skip
    if kind == 'vs_table_map':  # the clamped index, the table address; with PASS the input's own cast
        i_w = max(p['X_W'] + 1 - max(p['SHIFT'], 0), p['TA_W'] + 2)
        cast = requant_features(p['X_W'] + 1, p['P_SHIFT'], p) if p['PASS'] else {}
        return {'one': 1, 'i_w': i_w, 'ta_w': p['TA_W'], 'y_w': p['Y_W'], 'aw': p['AW'],
                'pass_y': p['Y_W'] * p['PASS'], **{f'pass_{k}': v for k, v in cast.items()}}  # fmt: skip
    if kind == 'vs_pwl':  # two products: a shift (registered), or DSPs (pwl_dsps); the sum, the cast, the clamp
        x_w = p['X_W'] + 1
        shifts = sum(1 for c in {p['P_CODE'], None if p['PER_ELEM'] else p['A_CODE']}
                     if c is not None and (c == 0 or abs(c) & (abs(c) - 1) == 0))  # fmt: skip
        return {'one': 1, 'x_w': x_w, 'm_w': p['M_W'], 'y_w': p['Y_W'], 'aw': p['AW'], 'dsps': pwl_dsps(p),
                'shift_bits': shifts * x_w, 'ka_w': p['KA_W'] * p['PER_ELEM'], 'r_w': p['M_W'] - max(p['SHIFT'], 0),
                'clamp_y': p['Y_W'] * p['CLAMP']}  # fmt: skip
    if kind == 'vs_add':
        s_w = max(p['A_W'] + p['A_SHIFT'], p['B_W'] + p['B_SHIFT']) + 2
        return {'one': 1, 's_w': s_w, 'y_w': p['Y_W'], 'aw': p['AW'], **requant_features(s_w, p['SHIFT'], p)}
    if kind == 'vs_merge':  # operand registers, the exact result (sum, product in LUTs, or compare-select), the cast
        as_w, bs_w = p['A_W'] + p['A_SHIFT'] + 1, p['B_W'] + p['B_SHIFT'] + 1
        v_w = as_w + bs_w if p['OP'] == 1 else max(as_w, bs_w) + 1
        lut_mult = as_w * bs_w if p['OP'] == 1 and not multiplier_dsps(as_w, bs_w) else 0
        return {'one': 1, 'ops_w': as_w + bs_w, 'v_w': v_w, 'y_w': p['Y_W'], 'aw': p['AW'], 'lut_mult': lut_mult,
                'select_w': v_w * (p['OP'] >= 3), **requant_features(v_w, p['SHIFT'], p)}  # fmt: skip
    if kind == 'vs_gather':  # counters and their compares, two address steppers, the select, the cast
        v_w = max(p['A_W'] + p['A_SHIFT'], p['B_W'] + p['B_SHIFT']) + 1
        return {'one': 1, 'v_w': v_w, 'y_w': p['Y_W'], 'aw': p['AAW'] + p['BAW'], 'yaw': p['YAW'],
                'counters': bits(p['OUT_T'] - 1) + bits(p['OUT_C'] - 1) + bits(p['REP'] - 1),
                'rep_aw': p['AAW'] * (p['REP'] > 1), **requant_features(v_w, p['SHIFT'], p)}  # fmt: skip
    if kind == 'vs_pool':  # the address steppers, the running max (compare-select) or sum, the cast
        return {'one': 1, 'acc_w': p['ACC_W'], 'y_w': p['Y_W'], 'aw': p['AW'], 'yaw': p['YAW'],
                'counters': bits(p['P'] - 1) + bits(p['C'] - 1) + bits(p['NO'] - 1), 'max_w': p['ACC_W'] * (p['OP'] == 0),
                **requant_features(p['ACC_W'], p['SHIFT'], p)}  # fmt: skip
    if kind == 'vs_affine':
        p_w = p['X_W'] + p['S_W'] + 2
        s_w = max(p_w + p['PROD_SHIFT'], p['BIAS_W'] + 1 + p['BIAS_SHIFT']) + 1
        a_w, b_w = affine_operand_widths(p)
        lut_mult = 0 if affine_dsps(p) else a_w * b_w
        return {'one': 1, 's_w': s_w, 'p_w': p_w, 'y_w': p['Y_W'], 'aw': p['AW'] + p['CW'], 'lut_mult': lut_mult,
                **requant_features(s_w, p['SHIFT'], p)}  # fmt: skip
    if kind == 'vs_gavg':
        stages = divider_stages(p['NUM_W'], p['DEN_W'])  # each: a DEN_W + 2 bit compare-subtract and its registers
        return {'one': 1, 'num_w': p['NUM_W'], 'den_w': p['DEN_W'], 'y_w': p['Y_W'], 'x_w': p['X_W'],
                'aw': p['AW'] + p['YAW'], 'counters': bits(p['T'] - 1) + 2 * bits(p['C'] - 1),
                'div_sub': stages * (p['DEN_W'] + 2), 'div_pipe': stages * (stages + p['DEN_W'] + 3),
                'sum_reg': p['NUM_W'] + 1 if p['C'] == 1 else 0}  # fmt: skip
    if kind == 'vs_softmax':
        divs = p.get('DIVS', 1)
        return {'one': 1, 'in_w': p['IN_W'], 'x_w': p['X_W'], 'sum_w': p['SUM_W'], 'out_w': p['OUT_W'],
                'aw': p['AW'] + p['TA_W'], 'counters': bits(p['ROWS']) + bits(p['N']) + bits(p['NUM_W']),
                'dividers': divs, 'divider_bits': divs * (p['NUM_W'] + p['SUM_W'] + p['OUT_W']),
                'divider_mux': p['OUT_W'] * mux_luts(divs)}  # fmt: skip
    if kind == 'vs_argmax':  # registers: x_w twice (the element, the maximum), the index 6 times, 3 addresses
        return {'one': 1, 'x_w': p['X_W'], 'jw': p['JW'], 'aw': p['AW'], 'y_w': p['Y_W']}
    if kind == 'vs_layernorm':
        m_w = layernorm_operand_widths(p)
        return {'one': 1, 'x_w': p['X_W'], 's_w': p['S_W'], 'd_w': p['D_W'], 'v_w': p['V_W'], 'p_w': p['P_W'],
                'z_w': p['Z_W'], 'inv_w': p['INV_W'], 'aw': p['AW'], 'n_bits': bits(p['N']) * p['X_W'],
                'shifter': (p['P_W'] + max(p['V_W'], p['TB'])) * bits(p['E_MAX'] - p['E_MIN']),
                'lut_mult': 0 if multiplier_dsps(*m_w) else m_w[0] * m_w[1]}  # fmt: skip
    if kind == 'vs_rom_share':  # a weight pack's address: OR of the members', plus a base register and adder
        return {'one': 1, 'aw': p['AW'], 'or_luts': p['AW'] * math.ceil((p['N'] - 1) / 5), 'base_bits': p['base_bits'],
                'sel_bits': p['base_bits'] * p['N']}  # fmt: skip
    if kind == 'engine':
        return {'one': 1, 'a_w': p['A_W'], 'b_bits': p['LANES'] * p['B_W'],
                'shadow_bits': p['LANES'] * p['ACC_W'], 'shadow_mux': p['ACC_W'] * mux_luts(p['LANES'])}
    if kind == 'lane' and p['DSP'] == 2:  # a shift lane: negate a, encode b, shift (A_W + B_W bits)
        return {'one': 1, 'acc_w': p['ACC_W'], 'a_w': p['A_W'], 'b_w': p['B_W'],
                'shifter': (p['A_W'] + p['B_W']) * bits(p['B_W'] - 1)}
    if kind == 'lane':
        if p['DSP'] and multiplier_dsps(p['A_W'], p['B_W']):
            return {'one': 1, 'acc_w': p['ACC_W'], 'prod_w': p['A_W'] + p['B_W']}
        wide, narrow = max(p['A_W'], p['B_W']), min(p['A_W'], p['B_W'])  # the soft multiplier's shape
        return {'one': 1, 'acc_w': p['ACC_W'], 'ab': p['A_W'] * p['B_W'], 'a_plus_b': p['A_W'] + p['B_W'],
                'wide_sq': wide * wide, 'narrow_sq': narrow * narrow}
    if kind == 'glue':  # OR trees: a LUT6 ORs 6 inputs
        clients = p['engine_clients']
        width = p['engine_or_bits'] // (clients - 1) if clients > 1 else 0
        return {'address_or_bits': p['address_or_bits'], 'engine_or_luts': width * math.ceil((clients - 1) / 5),
                'sched_bits': p.get('sched_bits', 0), 'sched_compares': p.get('sched_compares', 0)}  # start counter
    raise KeyError(f'no resource model for component kind {kind!r}')


def model_key(kind: str, p: dict) -> str:
    """Components whose costs follow different formulas get their own coefficients."""
    if kind in ('ram', 'rom'):
        return f'{kind}_{"reg" if p["depth"] == 1 and kind == "ram" else p["storage"]}'
    if kind == 'lane':
        if p['DSP'] == 2:
            return 'lane_shift'
        return 'lane_dsp' if p['DSP'] and multiplier_dsps(p['A_W'], p['B_W']) else 'lane_lut'
    return kind


def rule_resources(kind: str, p: dict) -> dict:
    """Resources that follow mapping rules: BRAM18, DSP, memory LUTs."""
    out = {'BRAM18': 0, 'DSP': 0, 'LUTRAM_mem': 0}
    if kind == 'rom' and p['storage'] == 'bram' and p['varying_bits']:
        out['BRAM18'] = ramb18_count(max(p['depth'], 2), p['varying_bits'], rom=True)  # constant columns are not stored
    elif kind == 'ram' and p['storage'] == 'bram' and p['depth'] > 1:
        out['BRAM18'] = ramb18_count(p['depth'], p['width'])
    elif kind == 'ram' and p['depth'] > 1:
        out['LUTRAM_mem'] = lutram_luts(p['depth'], p['width'])
    if kind == 'lane' and p['DSP'] == 1:
        out['DSP'] = multiplier_dsps(p['A_W'], p['B_W'])
    if kind == 'vs_affine':
        out['DSP'] = affine_dsps(p)
    if kind == 'vs_gavg':
        out['LUTRAM_mem'] = async_lutram_luts(p['C'], p['NUM_W'] + 1)
    if kind == 'vs_layernorm':
        out['DSP'] = multiplier_dsps(*layernorm_operand_widths(p))
    if kind == 'vs_pwl':
        out['DSP'] = pwl_dsps(p)
    if kind == 'vs_merge' and p['OP'] == 1:
        out['DSP'] = multiplier_dsps(p['A_W'] + 1, p['B_W'] + 1)
    return out


GUARDED = ('LUT', 'FF')  # the fitted resources; BRAM18 and DSP follow exact mapping rules


def estimate_guard(coeffs: dict | None = None) -> dict:
    """{resource: the fit's mean held-out error} of the fitted resources, as calibrate measured it
    on designs the fit never saw: the headroom a search keeps so that an estimate that is a little
    low does not pass a design that synthesis puts over the budget."""
    coeffs = coefficients() if coeffs is None else coeffs
    error = coeffs.get('_source', {}).get('heldout_error', {})
    return {r: float(error[r]) for r in GUARDED if r in error}


def load_coefficients(path: Path = COEFFICIENTS) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


_COEFFS = None


def coefficients() -> dict:
    """The fitted coefficients: VHDLSPARTAN_COEFFICIENTS names another file (e.g. a Vivado fit)."""
    global _COEFFS
    if _COEFFS is None:
        _COEFFS = load_coefficients(Path(os.environ.get('VHDLSPARTAN_COEFFICIENTS', COEFFICIENTS)))
    return _COEFFS


class _Memo:
    """Per coefficient set: component costs, and the fit regrouped by feature. It holds the
    coefficient dict itself, so its id cannot be reused by another dict while cached."""

    def __init__(self, coeffs: dict):
        self.coeffs, self.costs, self.by_feature = coeffs, {}, {}


_MEMOS: dict = {}


def _memo(coeffs: dict) -> _Memo:
    memo = _MEMOS.get(id(coeffs))
    if memo is None or memo.coeffs is not coeffs:
        if len(_MEMOS) > 8:
            _MEMOS.clear()
        memo = _MEMOS[id(coeffs)] = _Memo(coeffs)
    return memo


def clear_cost_memo() -> None:
    """Forget memoized component costs (the benchmark times estimates from scratch)."""
    _MEMOS.clear()


def component_cost(kind: str, params: dict, count: int = 1, coeffs: dict | None = None) -> dict:
    """A component's resources; memoized, since the designs the tuner and `Storage: auto` try
    share most of their components."""
    memo = _memo(coefficients() if coeffs is None else coeffs)
    key = (kind, tuple(params.items()), count)
    cost = memo.costs.get(key)
    if cost is None:
        if len(memo.costs) > 100_000:
            memo.costs.clear()
        cost = memo.costs[key] = _component_cost(kind, params, count, memo)
    return cost


def _by_feature(memo: _Memo, key: str) -> dict:
    """{feature: coefficients of FITTED} of one component model (the fit is stored per resource)."""
    if key not in memo.by_feature:
        fitted = memo.coeffs.get(key, {})
        names = {f for r in FITTED for f in fitted.get(r, {})}
        memo.by_feature[key] = {f: tuple(fitted.get(r, {}).get(f, 0.0) for r in FITTED) for f in names}
    return memo.by_feature[key]


def _component_cost(kind: str, params: dict, count: int, memo: _Memo) -> dict:
    by_feature = _by_feature(memo, model_key(kind, params))
    sums = [0.0] * len(FITTED)
    for f, v in features(kind, params).items():
        c = by_feature.get(f)
        if c is not None:
            for i, w in enumerate(c):
                sums[i] += w * v
    cost = {r: count * max(0.0, x) for r, x in zip(FITTED, sums)}
    rules = rule_resources(kind, params)
    lutram = cost['LUTRAM'] + count * rules['LUTRAM_mem']
    return {
        'LUT': cost['LUT'] + lutram,
        'LUTRAM': lutram,
        'FF': cost['FF'],
        'BRAM18': count * rules['BRAM18'],
        'DSP': count * rules['DSP'],
        'CARRY4': cost['CARRY4'],
    }


@dataclass
class ResourceEstimate:
    part: str
    per_layer: dict  # layer name ('' = shared engine and glue) -> {resource: count}
    total: dict
    cycles: int
    macs: int
    clock_ns: float = 10.0
    capacity: dict = field(default_factory=dict)
    delay_ns: float = 0.0  # estimated worst register-to-register path (see design_delay)
    delay_kind: str = ''  # the component kind it comes from

    @property
    def fmax_mhz(self) -> float:
        return 1000 / self.delay_ns if self.delay_ns else float('inf')

    @property
    def meets_clock(self) -> bool:
        """Whether the design's estimated worst path fits in the clock period asked for (ClockPeriod)."""
        return self.delay_ns <= self.clock_ns

    def timing_line(self) -> str:
        return (f'timing: estimated worst path {self.delay_ns:.2f} ns ({self.delay_kind}) -> Fmax {self.fmax_mhz:.0f} MHz; '
                f'clock {self.clock_ns:g} ns ({1000 / self.clock_ns:.0f} MHz): '
                f'{"met" if self.meets_clock else "NOT met"}')  # fmt: skip

    @property
    def utilization(self) -> dict:
        return {r: self.total[r] / cap for r, cap in self.capacity.items()}

    @property
    def binding(self) -> str:
        """The resource with the highest utilization."""
        util = self.utilization
        return max(util, key=util.get)

    @property
    def fits(self) -> bool:
        return self.fits_within(0.0)

    def fits_within(self, margin: float, guard: dict | None = None) -> bool:
        """Every resource at most (1 - margin) of the part's capacity, after raising each by its
        guard fraction (estimate_guard: the fit's held-out error) when one is given."""
        guard = guard or {}
        return all(u * (1 + guard.get(r, 0.0)) <= 1.0 - margin for r, u in self.utilization.items())

    def needs(self) -> str:
        """Each resource's count and share of the part, for messages."""
        util = self.utilization
        return ', '.join(f'{r} {self.total[r]:.0f} ({util[r]:.0%})' for r in self.capacity)

    @property
    def latency_us(self) -> float:
        return self.cycles * self.clock_ns / 1000

    def summary(self) -> str:
        util = self.utilization
        parts = ', '.join(f'{r} {self.total[r]:.0f}/{self.capacity[r]} ({util[r]:.0%})' for r in self.capacity)
        verdict = 'fits' if self.fits else f'does NOT fit ({self.binding} over capacity)'
        return f'{self.part}: {parts}; binding {self.binding}; {verdict}; {self.cycles} cycles'


CAPACITY_RESOURCES = ('LUT', 'LUTRAM', 'FF', 'BRAM18', 'DSP')  # what must fit (LUTRAM: the LUTs in SLICEMs)


def capacity_of(part: str) -> dict:
    """Capacity of each of CAPACITY_RESOURCES (AMD DS180 figures, see devices.py)."""
    dev = get_device(part)
    return dict(zip(CAPACITY_RESOURCES, (dev.luts, dev.lutram_luts, dev.ffs, dev.ramb18, dev.dsps)))


def estimate_design(design, part: str = 'xc7s15', clock_ns: float = 10.0, coeffs: dict | None = None):
    per_layer = {}
    comps = design_components(design)
    for comp in comps:
        cost = component_cost(comp.kind, comp.params, comp.count, coeffs)
        acc = per_layer.setdefault(comp.layer, dict.fromkeys(RESOURCES, 0.0))
        for r in RESOURCES:
            acc[r] += cost[r]
    per_layer = {k: {r: round(v) for r, v in res.items()} for k, res in per_layer.items()}
    total = {r: sum(res[r] for res in per_layer.values()) for r in RESOURCES}
    delay, kind = design_delay(comps, coeffs)
    return ResourceEstimate(part, per_layer, total, design.cycles(), design.macs(), clock_ns, capacity_of(part),
                            delay, kind)  # fmt: skip


def timing_key(kind: str, params: dict) -> str:
    """Memories are timed by their storage and address width (a deep ROM in LUTs decodes its
    address through more levels than a shallow one), an engine by its lane kind; other kinds by kind."""
    if kind in ('rom', 'ram'):
        return f'{kind}:{params.get("storage")}:{max(int(params.get("depth", 1)) - 1, 1).bit_length()}'
    if kind == 'engine' and params.get('SHIFT'):  # its lanes' paths differ from a multiplier engine's
        return 'engine:shift'
    return kind


def design_delay(comps: list, coeffs: dict | None = None) -> tuple:
    """(ns, what) of the estimated worst register-to-register path of a design's components
    (design_components): per component kind (memories: per storage and address width,
    timing_key), the worst path the timing walk (vhdl_backend/timing.py) found ending in it in any
    synthesized calibration design from today's sources (coefficients.json '_timing'). A key with
    no record falls back on its kind's worst, then on the generator's budget (timing.BUDGET_NS),
    which every synthesized test design is checked against."""
    from ..vhdl_backend.timing import BUDGET_NS

    table = (coeffs if coeffs is not None else coefficients()).get('_timing', {})
    worst = (0.0, '')
    for comp in comps:
        if comp.kind == 'lane':
            continue  # a lane's paths end inside the engine's instance: timed with the engine
        key = timing_key(comp.kind, comp.params)
        entry = table.get(key) or table.get(comp.kind)
        ns = entry['delay_ns'] if entry else BUDGET_NS
        worst = max(worst, (ns, (key if key in table else comp.kind) if entry else f'{comp.kind}, budget'))
    return worst


def fit_timing(records: list) -> dict:
    """Per component kind, and per timing_key where that is finer: the worst path (ns, LUT levels)
    the timing walk found ending in it."""
    out = {}
    for rec in records:
        if 'delay_ns' not in rec:
            continue
        for key in {rec['kind'], timing_key(rec['kind'], rec['params'])}:
            e = out.setdefault(key, {'delay_ns': 0.0, 'levels': 0, 'records': 0})
            e['delay_ns'] = max(e['delay_ns'], rec['delay_ns'])
            e['levels'] = max(e['levels'], rec['levels'])
            e['records'] += 1
    return dict(sorted(out.items()))


def estimate(hls_model, part: str | None = None):
    """Estimate a converted hls4ml model (ModelGraph) built with the VHDLSpartan backend."""
    from ..vhdl_backend.design import lower

    design = getattr(hls_model, '_vhdlspartan_design', None) or lower(hls_model)
    part = part or hls_model.config.get_config_value('Part') or 'xc7s15'
    clock = hls_model.config.get_config_value('ClockPeriod') or 10
    from ..vhdl_backend.interfaces import link_of
    from .interface_cost import add_interface

    # a board interface's wrapper (Model Interface) adds its own small cost
    return add_interface(estimate_design(design, part, clock), design, link_of(hls_model.config))


def estimate_keras(keras_model, hls_config: dict, part: str = 'xc7s15ftgb196-2'):
    """Estimate before writing anything: convert in memory (no project is written)."""
    import tempfile

    import hls4ml

    with tempfile.TemporaryDirectory() as tmp:
        hm = hls4ml.converters.convert_from_keras_model(
            keras_model, hls_config=hls_config, backend='VHDLSpartan', output_dir=tmp, part=part
        )
        return estimate(hm, part)


def fit(records: list) -> dict:
    """Non-negative least squares per component model and fitted resource."""
    from scipy.optimize import nnls

    by_key = {}
    for rec in records:
        by_key.setdefault(model_key(rec['kind'], rec['params']), []).append(rec)
    coeffs = {}
    for key, recs in sorted(by_key.items()):
        names = sorted({f for rec in recs for f in features(rec['kind'], rec['params'])})
        x = np.array([[features(r['kind'], r['params']).get(f, 0) for f in names] for r in recs], dtype=float)
        coeffs[key] = {'_samples': len(recs)}
        for res in FITTED:
            y = np.array([_fitted_target(r, res) for r in recs], dtype=float)
            w, _ = nnls(x, y)
            coeffs[key][res] = {f: round(float(c), 6) for f, c in zip(names, w) if c > 0}
    return coeffs


def _fitted_target(rec: dict, res: str) -> float:
    """What the fitted part must explain: per instance, without the rule-based memory LUTs."""
    cells = rec['cells']
    n = rec.get('count', 1)
    rules = rule_resources(rec['kind'], rec['params'])
    if res == 'LUT':
        return (cells['LUT'] - cells['LUTRAM']) / n
    if res == 'LUTRAM':
        return (cells['LUTRAM'] - n * rules['LUTRAM_mem']) / n
    return cells[res] / n
