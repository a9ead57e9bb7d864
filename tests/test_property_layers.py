"""Hypothesis: random layer widths, bitwidths, rounding and saturation modes; GHDL == emulation."""

import hls4ml
import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import grid_inputs, randomize
from vhdlspartan.fixed import ROUNDING_MODES, SATURATION_MODES


def precision(signed, width, integer, rnd, sat):
    return f'{"fixed" if signed else "ufixed"}<{width},{integer},{rnd},{sat}>'


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    n_in=st.integers(1, 9),
    n_hidden=st.integers(1, 7),
    steps=st.integers(1, 4),
    lanes=st.integers(1, 4),
    x_bits=st.integers(2, 12),
    w_bits=st.integers(2, 10),
    y_bits=st.integers(2, 12),
    y_int=st.integers(-2, 6),
    y_signed=st.booleans(),
    rnd=st.sampled_from(ROUNDING_MODES),
    sat=st.sampled_from(SATURATION_MODES),
    relu=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_random_layers_simulate_bit_exactly(tmp_path_factory, n_in, n_hidden, steps, lanes, x_bits, w_bits, y_bits,
                                            y_int, y_signed, rnd, sat, relu, seed):  # fmt: skip
    shape = (steps, n_in) if steps > 1 else (n_in,)
    x = tf.keras.Input(shape, name='x')
    h = tf.keras.layers.Dense(n_hidden, name='dense')(x)
    h = tf.keras.layers.Activation('relu' if relu else 'linear', name='act')(h)
    y = tf.keras.layers.Dense(2, name='head')(h)
    model = randomize(tf.keras.Model(x, y), seed=seed, scale=1.0)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    names = cfg['LayerName']
    names['x']['Precision']['result'] = precision(True, x_bits, 2, 'TRN', 'WRAP')
    for layer in ('dense', 'head'):
        names[layer]['Precision'].update(weight=f'fixed<{w_bits},1>', bias=f'fixed<{w_bits},1>')
    names['act']['Precision']['result'] = precision(y_signed, y_bits, y_int, rnd, sat)
    names['head']['Precision']['result'] = precision(True, y_bits + 4, y_int + 4, rnd, sat)
    cfg['Model']['Lanes'] = lanes
    out = tmp_path_factory.mktemp('prop')
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(out))
    hm.compile()
    x_in = grid_inputs(hm, 40, seed=seed)
    sim = hm.build(sim=True, x=x_in)['sim']
    assert sim['bit_exact'], (sim['outputs_int'][:3], hm.predict(x_in)[:3])
    assert sim['cycles'] == sim['cycles_expected']
    np.testing.assert_array_equal(sim['outputs'], hm.predict(x_in).reshape(40, -1))
