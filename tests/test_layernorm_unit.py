"""The layer normalization hardware (vs_layernorm + the LayerNormUnit lowering).

- vs_layernorm alone under cocotb with GHDL (tests/cocotb/cocotb_layernorm.py): every z and the
  exact latency against the Python unit, on edge rows and random rows;
- QLayerNormalization through hls4ml: Keras, predict (the NumPy emulation) and the GHDL
  simulation of the generated project agree bit for bit, with the latency of the schedule;
- GHDL + Yosys synthesis without latches (slow).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ghdl_runner import VHDL_DIR, library, needs_ghdl, run_cocotb


# --- vs_layernorm under cocotb ------------------------------------------------------------------

# n, rows, input (bits, integer), x buffer (width, signed; same frac as the input), table_bits,
# inv_bits, z (bits, integer), runs
LN_CASES = [
    pytest.param(dict(n=8, rows=32, in_bits=8, in_integer=3, x_w=8, x_signed=True, table_bits=8, inv_bits=10,
                      z_bits=8, z_integer=3, runs=3), id='n8-fixed8.3-tb8'),
    pytest.param(dict(n=16, rows=24, in_bits=6, in_integer=2, x_w=5, x_signed=False, table_bits=6, inv_bits=12,
                      z_bits=10, z_integer=3, runs=3), id='n16-ufixed5-in-fixed6.2-tb6'),
    pytest.param(dict(n=5, rows=24, in_bits=10, in_integer=4, x_w=7, x_signed=True, table_bits=4, inv_bits=6,
                      z_bits=6, z_integer=2, runs=3), id='n5-fixed7-in-fixed10.4-tb4-inv6'),
    pytest.param(dict(n=8, rows=24, in_bits=16, in_integer=5, x_w=16, x_signed=True, table_bits=10, inv_bits=16,
                      z_bits=16, z_integer=3, epsilon=1e-3, runs=2), id='n8-fixed16.5-tb10-epsilon'),
]  # fmt: skip


@needs_ghdl
@pytest.mark.parametrize('case', LN_CASES)
def test_vs_layernorm_cocotb(tmp_path, case):
    from cocotb_layernorm import make_unit

    unit = make_unit(case)
    generics = unit.generics(None)
    case = dict(case, generics=generics, seed=31 * case['n'] + case['table_bits'])
    run_cocotb(tmp_path, 'vs_layernorm', library('vs_fixed_pkg.vhd', 'vs_layernorm.vhd'), generics, 'cocotb_layernorm',
               {'LN_CASE': json.dumps(case)})  # fmt: skip


def test_vs_layernorm_analyses_without_warnings(tmp_path):
    if shutil.which('ghdl') is None:
        pytest.skip('GHDL not installed')
    import subprocess

    res = subprocess.run(['ghdl', '-a', '--std=08', '--workdir=' + str(tmp_path), str(VHDL_DIR / 'vs_fixed_pkg.vhd'),
                          str(VHDL_DIR / 'vs_layernorm.vhd')], capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0 and res.stdout + res.stderr == '', res.stdout + res.stderr


# --- QLayerNormalization through hls4ml -----------------------------------------------------------


def _layernorm_model(seed=0, **cfg):
    import tensorflow as tf

    from vhdlspartan.layers import QLayerNormalization

    x = tf.keras.Input((6, 8), name='x')
    model = tf.keras.Model(x, QLayerNormalization(name='ln', **cfg)(x))
    rng = np.random.default_rng(seed)
    layer = model.get_layer('ln')
    gamma, beta = (w for w in layer.get_weights())
    layer.set_weights([1.0 + rng.normal(size=gamma.shape) * 0.5, rng.normal(size=beta.shape) * 0.5])
    return model


def _convert(model, tmp_path):
    import hls4ml

    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = 'fixed<8,4,RND_CONV,SAT>'  # signed_type(8, 3): the layer's input
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'), part='xc7s15ftgb196-2')  # fmt: skip
    hm.compile()
    return hm


def _inputs(hm, n):
    """Grid inputs with saturation edges, and rows at the corners of the layer's arithmetic."""
    from conftest import grid_inputs

    x = grid_inputs(hm, n, seed=4)
    lo, hi = -8.0, 127 / 16
    x[0] = 0.0  # V = 0 in every row
    x[1] = hi  # saturated, V = 0
    x[2, :, ::2], x[2, :, 1::2] = lo, hi  # alternating extremes: the largest V
    x[3], x[3, :, 0] = lo, hi  # one element at the top, the rest at the bottom
    x[4], x[4, :, -1] = 1.0, 1.0 + 1 / 16  # the smallest V
    x[5] = 40.0 * np.sign(x[5])  # far outside the input range: the input cast saturates
    return x


@needs_ghdl
def test_layernorm_hardware_keras_predict_ghdl_agree(tmp_path):
    model = _layernorm_model()
    hm = _convert(model, tmp_path)
    design = hm._vhdlspartan_design
    kinds = [type(u).__name__ for u in design.units]
    assert kinds == ['LayerNormUnit', 'BatchNormUnit']  # the input is on the layer's grid: no cast unit
    x = _inputs(hm, 200)
    y_keras = model.predict(x, verbose=0).reshape(len(x), -1)
    np.testing.assert_array_equal(hm.predict(x).reshape(len(x), -1), y_keras)
    report = hm.build(sim=True, x=x)
    sim = report['sim']
    assert sim['samples'] == 200
    assert sim['bit_exact'] and sim['mismatches'] == 0 and sim['analysis_messages'] == ''
    np.testing.assert_array_equal(sim['outputs'], y_keras)
    assert sim['cycles'] == sim['cycles_min'] == sim['cycles_expected'] == report['cycles_estimated']
    # vs_layernorm's rows and pipeline, then the affine (it starts on the norm's done)
    assert sim['cycles'] == design.cycles() == 6 * (3 * 8 + 5) + 9 + design.units[1].cycles()


@needs_ghdl
def test_layernorm_after_a_wider_input_casts_first(tmp_path):
    """An input type wider than the layer's: a vs_map cast runs first, as the Keras layer casts."""
    import hls4ml

    model = _layernorm_model(seed=1, input_bits=6, input_integer=2, table_bits=6, inv_bits=9, norm_bits=9,
                             norm_integer=3, output_bits=10, output_integer=4)  # fmt: skip
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = 'fixed<10,5,RND_CONV,SAT>'
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'), part='xc7s15ftgb196-2')  # fmt: skip
    hm.compile()
    assert [type(u).__name__ for u in hm._vhdlspartan_design.units] == ['ActivationUnit', 'LayerNormUnit',
                                                                        'BatchNormUnit']  # fmt: skip
    from conftest import grid_inputs

    x = grid_inputs(hm, 120, seed=9)
    y_keras = model.predict(x, verbose=0).reshape(len(x), -1)
    np.testing.assert_array_equal(hm.predict(x).reshape(len(x), -1), y_keras)
    report = hm.build(sim=True, x=x[:100])
    sim = report['sim']
    assert sim['bit_exact'] and sim['mismatches'] == 0 and sim['analysis_messages'] == ''
    assert sim['cycles'] == sim['cycles_expected'] == report['cycles_estimated']
    np.testing.assert_array_equal(sim['outputs'], y_keras[:100])


def test_layernorm_bad_sizes_are_refused(tmp_path):
    from vhdlspartan.errors import UnsupportedError

    model = _layernorm_model(table_bits=8)
    model.get_layer('ln').table_bits = 3  # what a hand-edited config would carry
    import hls4ml

    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    with pytest.raises(UnsupportedError, match=r"layer 'ln' \(QLayerNormalization\): table_bits 3 is not valid"):
        hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                   output_dir=str(tmp_path / 'prj'), part='xc7s15ftgb196-2')  # fmt: skip


@pytest.mark.slow
@needs_ghdl
def test_layernorm_synthesizes_without_latches(tmp_path):
    hm = _convert(_layernorm_model(), tmp_path)
    syn = hm.build(synth=True)['synth']
    print('layernorm synthesis:', {k: syn[k] for k in ('LUT', 'FF', 'DSP', 'BRAM18', 'LUTRAM', 'latches') if k in syn})
    assert syn['latches'] == 0
    assert syn['DSP'] <= 2 and syn['LUT'] > 0 and syn['FF'] > 0
