"""Generated designs meet the timing budget (150 MHz, 6 LUT levels) by the estimate of the
synthesized netlist: the reference encoder at 16 DSP lanes, LUT-lane designs at 4 and 16 lanes,
and the demo's tuned design."""

import hls4ml
import numpy as np
import pytest
from test_transformer import random_weights

from vhdlspartan.models import hls_config, ts_transformer
from vhdlspartan.vhdl_backend.timing import BUDGET_LEVELS, BUDGET_NS

REFERENCE_CYCLES_BEFORE = 11_335  # the reference encoder at 16 lanes before the pipelined write-back


def encoder(window, d_model, ffn, bits=8, seed=0):
    return random_weights(ts_transformer(window=window, n_features=1, d_model=d_model, num_heads=1, ffn_dim=ffn,
                                         num_layers=1, bits=bits, norm='batch'), seed=seed)  # fmt: skip


def build(model, tmp_path, lanes, dsp_lanes=None, **model_cfg):
    cfg = hls_config(model, lanes=lanes)
    if dsp_lanes is not None:
        cfg['Model']['DSPLanes'] = dsp_lanes
    cfg['Model'].update(model_cfg)
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path), part='xc7s15ftgb196-2')  # fmt: skip
    hm.compile()
    return hm


def check_timing(t):
    assert t['meets'], t['worst']
    assert t['delay_ns'] <= BUDGET_NS and t['max_levels'] <= BUDGET_LEVELS
    assert t['fmax_mhz'] >= 150
    # the per-unit table covers the engine, the controllers and the top level's own cells
    assert {'engine', 'top'} <= set(t['per_unit']) and any(u.endswith('_ctrl') for u in t['per_unit'])
    assert all(u['delay_ns'] <= t['delay_ns'] for u in t['per_unit'].values())


@pytest.mark.long  # 80 s of Yosys on the largest design: make test-long
def test_reference_encoder_at_16_lanes_meets_150_mhz(tmp_path):
    hm = build(encoder(12, 32, 128), tmp_path, lanes=16)
    syn = hm.build(synth=True)['synth']
    check_timing(syn['timing'])
    cycles = hm._vhdlspartan_design.cycles()
    assert cycles <= 1.05 * REFERENCE_CYCLES_BEFORE  # the pipeline costs at most 5% of the cycles
    assert syn['latches'] == 0 and syn['LUT'] <= 8000 and syn['BRAM18'] <= 20 and syn['DSP'] <= 20


@pytest.mark.slow
@pytest.mark.parametrize('lanes', [4, 16])  # about 50 s each
def test_lut_lanes_meet_150_mhz(tmp_path, lanes):
    """Soft multipliers in every lane (8-bit operands: three 4-bit slices of b per product)."""
    hm = build(encoder(6, 16, 64, seed=lanes), tmp_path, lanes=lanes, dsp_lanes=0)
    syn = hm.build(synth=True)['synth']
    assert hm._vhdlspartan_design.engine.dsp_lanes == 0
    assert syn['DSP'] == 2  # the two BatchNorms' own multipliers; every engine lane is in LUTs
    check_timing(syn['timing'])


@pytest.mark.long  # 75 s of GHDL + Yosys: make test-long (make demo checks the same design)
def test_demo_design_meets_150_mhz_and_stays_bit_exact(tmp_path):
    """The design make demo tunes (window 12, d_model 8, FFN 32; uniform 7 bits, 4 DSP lanes, as
    the demo of 2026-12-02 chose), simulated and synthesized."""
    model = encoder(12, 8, 32, bits=7, seed=3)
    hm = build(model, tmp_path, lanes=4)
    rng = np.random.default_rng(0)
    x = rng.uniform(-4, 4, size=(30, 12, 1))
    report = hm.build(sim=True, synth=True, x=x)
    assert report['sim']['bit_exact'] and report['sim']['cycles'] == report['sim']['cycles_expected']
    check_timing(report['synth']['timing'])
