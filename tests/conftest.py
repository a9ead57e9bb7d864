"""Shared model builders for the tests: small QKeras models converted with VHDLSpartan."""

import os
import sys
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
# tests/cocotb holds the cocotb modules and their runner, imported by name by the tests and by the
# simulator's Python (the runner hands sys.path to it as PYTHONPATH)
if str(Path(__file__).resolve().parent / 'cocotb') not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent / 'cocotb'))

import hls4ml  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from qkeras import QActivation, QDense, quantized_bits, quantized_relu  # noqa: E402


def qdense(units, bits=6, name=None, **kw):
    q = quantized_bits(bits, 0, alpha=1)
    return QDense(units, kernel_quantizer=q, bias_quantizer=q, name=name, **kw)


def randomize(model, seed=0, scale=0.5):
    """Random weights (BatchNorm variances kept positive) so that every unit is exercised."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            new = [rng.normal(size=w.shape) * scale for w in weights]
            if isinstance(layer, tf.keras.layers.BatchNormalization):
                new[-1] = np.abs(new[-1]) + 0.5
            layer.set_weights(new)
    return model


def mlp_model(final_relu=False):
    """final_relu: end in QDense(activation=quantized_relu), which hls4ml's Vivado emulation keeps
    (it drops a final QActivation(quantized_bits))."""
    x = tf.keras.Input((10,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    h = qdense(12, name='d1')(h)
    h = QActivation(quantized_relu(6, 2), name='r1')(h)
    h = qdense(5, name='d2', activation=quantized_relu(7, 3))(h)
    if final_relu:
        y = qdense(2, name='d3', activation=quantized_relu(10, 3))(h)
    else:
        y = QActivation(quantized_bits(10, 3), name='out')(qdense(2, name='d3')(h))
    return randomize(tf.keras.Model(x, y), seed=1)


def timeseries_model():
    """Per-time-step Dense, BatchNorm, residual Add, pooling over time, Dense head."""
    x = tf.keras.Input((6, 3), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    h = qdense(8, name='embed')(h)
    a = QActivation(quantized_relu(6, 2), name='embed_relu')(h)
    b = qdense(8, name='ffn')(a)
    b = QActivation(quantized_relu(6, 2), name='ffn_relu')(b)
    h = tf.keras.layers.Add(name='residual')([a, b])
    h = tf.keras.layers.BatchNormalization(name='bn')(h)
    h = QActivation(quantized_bits(8, 3), name='bn_q')(h)
    h = tf.keras.layers.GlobalAveragePooling1D(name='pool')(h)
    h = QActivation(quantized_bits(10, 3), name='pool_q')(h)
    h = tf.keras.layers.Dropout(0.1, name='drop')(h)
    h = qdense(1, name='head')(h)
    y = QActivation(quantized_bits(8, 3), name='out')(h)
    return randomize(tf.keras.Model(x, y), seed=2)


def input_name(model):
    return model.layers[0].name


def convert(model, tmp_path, lanes=1, dsp_lanes=None, input_precision='fixed<8,3,RND_CONV,SAT>', **model_cfg):
    """Convert with the input type set to what the model's first QActivation computes, so that
    hls4ml's input cast is the Keras quantizer (one rounding, not two)."""
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName'][input_name(model)]['Precision']['result'] = input_precision
    # wide intermediate types where Keras computes in float, so one rounding happens where Keras rounds
    for name, layer_cfg in cfg['LayerName'].items():
        if name in ('bn', 'pool'):
            layer_cfg['Precision']['result'] = 'fixed<40,16>'
            for var in ('scale', 'bias'):
                if var in layer_cfg['Precision']:
                    layer_cfg['Precision'][var] = 'fixed<32,8,RND_CONV>'
    cfg['Model']['Lanes'] = lanes
    cfg['Model']['DSPLanes'] = lanes if dsp_lanes is None else dsp_lanes
    cfg['Model'].update(model_cfg)
    hm = hls4ml.converters.convert_from_keras_model(
        model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(tmp_path / 'prj'), part='xc7s15ftgb196-2'
    )
    hm.compile()
    return hm


def grid_inputs(hm, n, seed=0):
    """Random inputs on the input type's grid, with samples at its saturation edges."""
    from vhdlspartan.vhdl_backend.simulation import random_inputs

    design = hm._vhdlspartan_design
    q = random_inputs(design, n, np.random.default_rng(seed))
    return design.input.type.to_float(q).reshape((n, *design.input_shape))


@pytest.fixture(scope='session')
def models():
    return {'mlp': mlp_model(), 'timeseries': timeseries_model()}


@pytest.fixture(autouse=True)
def synthesized_designs_meet_timing(monkeypatch):
    """Timing is part of correctness: every design a test synthesizes must meet the generator's
    budget (150 MHz and 6 LUT levels by the estimate of vhdl_backend/timing.py)."""
    from vhdlspartan.vhdl_backend import synthesis, timing

    real = synthesis.synthesize

    def checked(design, out_dir, clock_ns=None):
        report = real(design, out_dir, clock_ns)
        assert report['timing']['meets'], f'{design.project} misses the timing budget:\n{timing.format_report(report["timing"])}'
        return report

    monkeypatch.setattr(synthesis, 'synthesize', checked)
