"""Shift lanes: power-of-2, ternary and binary weights run on lanes without multipliers.
QKeras == predict == GHDL (cycles == schedule) on the shift-lane engine; Yosys: fewer LUTs than
LUT multiplier lanes, no latches, the estimate within its calibrated error, timing met."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import convert, grid_inputs, randomize
from ghdl_runner import needs_ghdl
from qkeras import QActivation, QDense, binary, quantized_bits, quantized_po2, ternary
from test_quantizers import quantizer_mlp

from vhdlspartan.errors import UnsupportedError
from vhdlspartan.resource_model.components import design_components
from vhdlspartan.resource_model.estimate import coefficients, component_cost, estimate

QUANTIZERS = {
    'po2': lambda: quantized_po2(4, 1),
    'ternary': lambda: ternary(alpha=1),
    'binary': lambda: binary(alpha=1),
}


@pytest.fixture(scope='module')
def shift_mlps(tmp_path_factory):
    """The MLP of test_quantizers with every Dense on one weight quantizer, converted on 2 lanes."""
    out = {}
    for name, q in QUANTIZERS.items():
        model = quantizer_mlp(d1=q(), d2=q(), d3=q())
        out[name] = model, convert(model, tmp_path_factory.mktemp(name), lanes=2)
    return out


@pytest.mark.parametrize('name', list(QUANTIZERS))
def test_shift_lane_mlps_equal_qkeras(shift_mlps, name):
    model, hm = shift_mlps[name]
    engine = hm._vhdlspartan_design.engine
    assert engine.shift and engine.dsp_lanes == 0 and engine.generics()['SHIFT'] == 1
    if name != 'po2':
        assert engine.b_width == 2  # sign-only weights: the cheapest shift lane
    assert estimate(hm).total['DSP'] == 0  # DSPLanes 2 asked for, but shift lanes use none
    x = grid_inputs(hm, 320, seed=7)
    y_keras, y_hls = model.predict(x, verbose=0), hm.predict(x)
    assert np.array_equal(y_keras, y_hls), f'{np.sum(y_keras != y_hls)} of {y_keras.size} outputs differ'
    assert np.abs(y_keras).max() > 0.5


@needs_ghdl
@pytest.mark.slow
@pytest.mark.parametrize('name', [
    'po2', 'ternary', pytest.param('binary', marks=pytest.mark.long),  # binary: the ternary lane, codes +-1
])  # fmt: skip
def test_shift_lane_mlps_ghdl(shift_mlps, name):
    _, hm = shift_mlps[name]
    report = hm.build(sim=True, x=grid_inputs(hm, 300, seed=8))['sim']
    assert report['bit_exact'], report
    assert report['cycles'] == hm._vhdlspartan_design.cycles()


def test_bad_shift_lanes_value_is_refused(tmp_path):
    model = quantizer_mlp()
    with pytest.raises(UnsupportedError, match=r"Model ShiftLanes 'yes' is not valid; use one of \('auto', 'off'\)"):
        convert(model, tmp_path, ShiftLanes='yes')


def test_off_and_mixed_weights_keep_multipliers(tmp_path):
    """ShiftLanes off, or one Dense with ordinary weights, gives today's multiplier engine."""
    model = quantizer_mlp()  # po2, ternary, binary: all shift-able
    off = convert(model, tmp_path / 'off', lanes=2, ShiftLanes='off')._vhdlspartan_design.engine
    assert not off.shift and off.dsp_lanes == 2 and 'SHIFT' not in off.generics()
    mixed = quantizer_mlp(d2=quantized_bits(6, 0, alpha=1))
    engine = convert(mixed, tmp_path / 'mixed', lanes=2)._vhdlspartan_design.engine
    assert not engine.shift and engine.dsp_lanes == 2


def tiny_po2_model():
    x = tf.keras.Input((6,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    h = QDense(4, kernel_quantizer=quantized_po2(4, 1), bias_quantizer=quantized_bits(8, 2), name='d1')(h)
    return randomize(tf.keras.Model(x, QActivation(quantized_bits(10, 4), name='out')(h)), seed=4, scale=0.6)


def synthesize(tmp_path_factory, mode):
    hm = convert(tiny_po2_model(), tmp_path_factory.mktemp(mode), lanes=2, dsp_lanes=0, ShiftLanes=mode)
    return hm, hm.build(synth=True)['synth']


@pytest.fixture(scope='module')
def synthesized(tmp_path_factory):
    """A small po2 design on shift lanes, synthesized."""
    return synthesize(tmp_path_factory, 'auto')


@pytest.mark.slow
def test_shift_lanes_meet_the_estimate_and_timing(synthesized):
    hm, shift = synthesized
    assert hm._vhdlspartan_design.engine.shift
    assert shift['latches'] == 0 and shift['DSP'] == 0
    # the estimate, with lane_shift fitted from calibrate_shift_lanes' designs
    est = shift['estimate']
    assert abs(est['LUT'] - shift['LUT']) <= 0.10 * shift['LUT']
    assert abs(est['FF'] - shift['FF']) <= 0.08 * shift['FF']
    assert est['DSP'] == shift['DSP'] and est['BRAM18'] == shift['BRAM18']
    lane = next(c for c in design_components(hm._vhdlspartan_design) if c.kind == 'lane')
    assert lane.params['DSP'] == 2 and component_cost('lane', lane.params, lane.count)['LUT'] > 0
    # timing (the conftest checks the budget): the engine's paths are no longer than the estimate's entry for them
    entry = coefficients()['_timing']['engine:shift']
    engine_ns = shift['timing']['per_unit']['engine']['delay_ns']
    assert engine_ns <= entry['delay_ns'] + 0.25, (engine_ns, entry)
    assert estimate(hm).meets_clock


@pytest.mark.long
def test_shift_lanes_cost_fewer_luts_than_lut_multipliers(synthesized, tmp_path_factory):
    """The same design on LUT multiplier lanes (ShiftLanes off, DSPLanes 0): 15 s more of synthesis."""
    _, shift = synthesized
    _, mult = synthesize(tmp_path_factory, 'off')
    assert mult['DSP'] == 0 and shift['LUT'] < mult['LUT'], (shift['LUT'], mult['LUT'])
    print('shift lanes', {r: shift[r] for r in ('LUT', 'FF')}, 'LUT multiplier lanes', {r: mult[r] for r in ('LUT', 'FF')})
