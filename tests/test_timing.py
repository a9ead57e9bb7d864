"""The register-to-register timing estimate (vhdl_backend/timing.py) on hand-built netlists whose
paths are known, in the JSON form Yosys writes."""

import pytest

from vhdlspartan.vhdl_backend import timing
from vhdlspartan.vhdl_backend.timing_model import (
    BRAM_CLK_TO_OUT, CARRY4, FF_CLK_TO_Q, FF_SETUP, LUT6_PINS, UNCERTAINTY, TimingModelError, net_delay,
)  # fmt: skip


class Builder:
    """A flat Yosys JSON module built cell by cell; nets are ints, '0'/'1' are constants."""

    def __init__(self):
        self.cells, self.next = {}, 10
        self.lib = {}

    def net(self):
        self.next += 1
        return self.next

    def cell(self, name, ctype, ins: dict, outs: dict, params=None):
        conns = {**{p: (b if isinstance(b, list) else [b]) for p, b in ins.items()},
                 **{p: (b if isinstance(b, list) else [b]) for p, b in outs.items()}}  # fmt: skip
        dirs = {**{p: 'input' for p in ins}, **{p: 'output' for p in outs}}
        self.cells[name] = {'type': ctype, 'connections': conns, 'port_directions': dirs, 'parameters': params or {}}
        self.lib[ctype] = {'attributes': {'blackbox': 1}, 'ports': {}, 'cells': {}}

    def ff(self, name, d, q, ce='1', r='0'):
        self.cell(name, 'FDRE', {'C': 2, 'D': d, 'CE': ce, 'R': r}, {'Q': q})

    def json(self, extra_modules=None):
        top = {'attributes': {'top': 1}, 'ports': {'clk': {'direction': 'input', 'bits': [2]}}, 'cells': self.cells}
        return {'modules': {'top': top, **self.lib, **(extra_modules or {})}}


def lut_chain(n_luts, k=2):
    """FF -> n LUTk (each on its I0, the other pins from a FF of its own) -> FF."""
    b = Builder()
    src = b.net()
    b.ff('src', '0', src)
    x = src
    for j in range(n_luts):
        y, other = b.net(), b.net()
        b.ff(f'other{j}', '0', other)
        b.cell(f'lut{j}', f'LUT{k}', {'I0': x, **{f'I{p}': other for p in range(1, k)}}, {'O': y})
        x = y
    b.ff('dst', x, b.net())
    return b


def test_lut_chain_depth_and_delay():
    for n in (1, 4, 6, 7):
        t = timing.analyze(lut_chain(n).json(), 'top')
        # the worst path: src -> n LUTs on their I0 -> dst.D; every net has fan-out 1
        want = FF_CLK_TO_Q + n * (net_delay(1) + LUT6_PINS[4]) + net_delay(1) + FF_SETUP['D'] + UNCERTAINTY
        assert t['delay_ns'] == pytest.approx(want, abs=1e-3)
        assert t['levels'] == t['max_levels'] == n
        assert t['worst']['start'] == 'src' and t['worst']['end'] == 'dst.D'
        assert len(t['worst']['cells']) == n + 2
        assert t['meets'] == (n <= timing.BUDGET_LEVELS and want <= timing.BUDGET_NS)
        assert t['fmax_mhz'] == pytest.approx(1000 / want, abs=0.1)


def test_slow_pins_and_fanout_cost_more():
    base = timing.analyze(lut_chain(3).json(), 'top')
    slow = timing.analyze(lut_chain(3, k=6).json(), 'top')  # pin I0 of a LUT6 is its slowest
    assert slow['delay_ns'] >= base['delay_ns'] + 3 * (LUT6_PINS[0] - LUT6_PINS[4]) - 1e-6
    assert net_delay(64) > net_delay(2) > net_delay(1)


def test_carry_chain():
    """FF -> LUT -> S0 of CARRY4 #0 -> CI .. CO3 through 4 CARRY4s -> O3 of the last -> FF."""
    b = Builder()
    src, s = b.net(), b.net()
    b.ff('src', '0', src)
    b.cell('lut', 'LUT2', {'I0': src, 'I1': src}, {'O': s})
    ci = '0'
    n = 4
    for j in range(n):
        co, o = [b.net() for _ in range(4)], [b.net() for _ in range(4)]
        b.cell(f'c{j}', 'CARRY4', {'CI': ci, 'CYINIT': '0', 'DI': ['0'] * 4, 'S': [s if j == 0 else '1', '1', '1', '1']},
               {'CO': co, 'O': o})  # fmt: skip
        ci, last_o = co[3], o[3]
    b.ff('dst', last_o, b.net())
    t = timing.analyze(b.json(), 'top')
    # src -> net (fan-out 2, into the LUT) -> LUT I1 (LUT2 pin 0, the slower) -> S0 (the slice's own wire) -> CO3,
    # CI -> CO3 twice, CI -> O3, net -> dst
    want = (FF_CLK_TO_Q + net_delay(2) + LUT6_PINS[4] + CARRY4[('S0', 'CO3')] + (n - 2) * CARRY4[('CI', 'CO3')]
            + CARRY4[('CI', 'O3')] + net_delay(1) + UNCERTAINTY)  # fmt: skip
    assert t['delay_ns'] == pytest.approx(want, abs=1e-3)
    assert t['levels'] == 1  # carry cells are not LUT levels


def test_bram_to_ff_with_and_without_output_register():
    for reg in (0, 1):
        b = Builder()
        addr, do = b.net(), [b.net() for _ in range(16)]
        b.ff('a', '0', addr)
        b.cell('ram', 'RAMB18E1', {'CLKARDCLK': 2, 'ADDRARDADDR': [addr] + ['0'] * 13, 'ENARDEN': '1'},
               {'DOADO': do}, params={'DOA_REG': reg, 'DOB_REG': 0})  # fmt: skip
        b.ff('dst', do[3], b.net())
        t = timing.analyze(b.json(), 'top')
        assert t['worst']['start'] == 'ram' and t['worst']['end'] == 'dst.D'
        assert t['delay_ns'] == pytest.approx(BRAM_CLK_TO_OUT[reg] + net_delay(1) + UNCERTAINTY, abs=1e-3)
        assert t['levels'] == 0


def test_hierarchy_and_buffers_are_followed():
    """A path through a submodule and a $buf is the same path as the flat one; it ends in that unit."""
    flat = timing.analyze(lut_chain(3).json(), 'top')
    b = Builder()
    src, mid, out = b.net(), b.net(), b.net()
    b.ff('src', '0', src)
    b.cells['u_sub'] = {'type': 'sub', 'connections': {'a': [src], 'y': [mid]}, 'port_directions': {}}
    b.cell('buf', '$buf', {'A': mid}, {'Y': out})
    b.ff('dst', out, b.net())
    sub = Builder()
    x = 100
    sub_cells = {}
    for j in range(3):
        sub_cells[f'lut{j}'] = {'type': 'LUT2', 'connections': {'I0': [x], 'I1': [50], 'O': [x + 1]},
                                'port_directions': {'I0': 'input', 'I1': 'input', 'O': 'output'}}  # fmt: skip
        x += 1
    sub_cells['o'] = {'type': 'FDRE', 'connections': {'C': [1], 'D': ['0'], 'CE': ['1'], 'R': ['0'], 'Q': [50]},
                      'port_directions': {'C': 'input', 'D': 'input', 'CE': 'input', 'R': 'input', 'Q': 'output'}}  # fmt: skip
    del sub
    module = {'attributes': {}, 'ports': {'a': {'direction': 'input', 'bits': [100]},
                                          'y': {'direction': 'output', 'bits': [103]}}, 'cells': sub_cells}  # fmt: skip
    t = timing.analyze(b.json({'sub': module, 'LUT2': {'attributes': {'blackbox': 1}}}), 'top')
    assert t['levels'] == 3
    assert t['delay_ns'] == pytest.approx(flat['delay_ns'], abs=1e-3)
    assert [c.split(' ')[0] for c in t['worst']['cells']] == ['src', 'u_sub/lut0', 'u_sub/lut1', 'u_sub/lut2', 'dst.D']
    assert set(t['per_unit']) == {'top'}


def test_old_write_back_shape_fails_the_budget():
    """The shape of the 17-level path issue 14 measured (controller FF -> OR of every controller's
    sel -> 16:1 shadow select -> bias add -> rounding -> saturation -> synchronous set) fails."""
    t = timing.analyze(lut_chain(17, k=6).json(), 'top')
    assert not t['meets'] and t['max_levels'] == 17 and t['fmax_mhz'] < 75


def test_unknown_cell_is_named():
    b = lut_chain(1)
    b.cell('odd', 'PLLE2_ADV', {'CLKIN1': 2}, {'CLKOUT0': b.net()})
    with pytest.raises(TimingModelError, match='PLLE2_ADV'):
        timing.analyze(b.json(), 'top')


def _convert_mlp(tmp_path, clock, **model_cfg):
    import hls4ml
    from conftest import mlp_model

    model = mlp_model()
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['Model'].update(model_cfg)
    return hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan', clock_period=clock,
                                                      output_dir=str(tmp_path / 'prj'), part='xc7s15ftgb196-2')  # fmt: skip


def test_clock_period_reaches_the_estimate_the_xdc_and_the_checks(tmp_path):
    import warnings

    from vhdlspartan.errors import TimingWarning, UnsupportedError
    from vhdlspartan.resource_model.estimate import estimate

    with warnings.catch_warnings():
        warnings.simplefilter('error', TimingWarning)  # a clock the design meets: no warning
        hm = _convert_mlp(tmp_path / 'ok', 6.67)
    est = estimate(hm)
    assert est.clock_ns == 6.67 and est.meets_clock and 0 < est.delay_ns <= timing.BUDGET_NS
    assert est.latency_us == pytest.approx(est.cycles * 6.67 / 1000)
    hm.write()
    vivado = tmp_path / 'ok' / 'prj' / 'vivado'
    assert 'create_clock -period 6.67 ' in (vivado / 'myproject.xdc').read_text()
    assert 'report_timing_summary -file timing.rpt' in (vivado / 'build.tcl').read_text()

    with pytest.warns(TimingWarning, match='ClockPeriod 2 ns'):
        fast = _convert_mlp(tmp_path / 'fast', 2)
    assert not estimate(fast).meets_clock and '(500 MHz): NOT met' in estimate(fast).timing_line()
    with pytest.raises(UnsupportedError, match='ClockPeriod 2 ns .*StrictTiming'):
        _convert_mlp(tmp_path / 'strict', 2, StrictTiming=True)
    assert not (tmp_path / 'strict' / 'prj').exists()  # refused before anything is written
    with pytest.raises(UnsupportedError, match='StrictTiming'):
        _convert_mlp(tmp_path / 'bad', 10, StrictTiming='yes')


def test_auto_storage_keeps_a_deep_weight_rom_out_of_the_luts(tmp_path):
    """A 2,048-word weight ROM in LUTs decodes its address through too many levels for 150 MHz
    (resource model '_timing' per storage and depth): Storage auto puts it in block RAM."""
    import hls4ml
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    from vhdlspartan.resource_model.estimate import estimate

    x = tf.keras.Input((64,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q')(x)
    q = quantized_bits(6, 0, alpha=1)
    model = tf.keras.Model(x, QDense(64, kernel_quantizer=q, bias_quantizer=q, name='d')(h))
    got = {}
    for storage in ('auto', 'lutram'):
        cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
        cfg['Model'].update(Lanes=2, Storage=storage)
        hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                        output_dir=str(tmp_path / storage))  # fmt: skip
        hm.compile()
        unit = next(u for u in hm._vhdlspartan_design.units if hasattr(u, 'w_storage'))
        assert unit.roms()[0].depth == 2048
        got[storage] = (unit.w_storage, estimate(hm).delay_ns)
    assert got['lutram'][1] > timing.BUDGET_NS  # what a calibration design measured
    assert got['auto'][0] == 'bram' and got['auto'][1] <= timing.BUDGET_NS
