"""Power-of-2, ternary and binary weight quantizers: QKeras == predict == GHDL, and clear refusals."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import convert, grid_inputs, randomize
from ghdl_runner import needs_ghdl
from qkeras import (QActivation, QDense, binary, quantized_bits, quantized_po2, quantized_relu, quantized_relu_po2,
                    stochastic_ternary, ternary)

from vhdlspartan.errors import UnsupportedError


def quantizer_mlp(d1=None, d2=None, d3=None, seed=3):
    """Every tensor quantized, so that QKeras and the integer hardware compute the same values."""
    x = tf.keras.Input((8,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)  # fixed<8,3>: convert()'s input type
    b = quantized_bits(8, 2)
    h = QDense(7, kernel_quantizer=d1 or quantized_po2(4, 1), bias_quantizer=b, name='d1')(h)
    h = QActivation(quantized_relu(8, 3), name='r1')(h)
    h = QDense(6, kernel_quantizer=d2 or ternary(), bias_quantizer=b, name='d2')(h)  # alpha 'auto_po2'
    h = QActivation(quantized_bits(10, 4), name='q2')(h)
    h = QDense(3, kernel_quantizer=d3 or binary(alpha=1), bias_quantizer=b, name='d3')(h)
    y = QActivation(quantized_bits(12, 5), name='out')(h)
    model = tf.keras.Model(x, y)
    return randomize(model, seed=seed, scale=0.6)


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    model = quantizer_mlp()
    return model, convert(model, tmp_path_factory.mktemp('quant'))


def test_po2_ternary_binary_weights_equal_qkeras(converted):
    model, hm = converted
    x = grid_inputs(hm, 400, seed=5)
    y_keras = model.predict(x, verbose=0)
    y_hls = hm.predict(x)
    assert np.array_equal(y_keras, y_hls), f'{np.sum(y_keras != y_hls)} of {y_keras.size} outputs differ'
    assert np.abs(y_keras).max() > 0.5  # the model is not stuck at zero
    units = {u.layer_name: u for u in hm._vhdlspartan_design.units}
    # po2 weights of quantized_po2(4, 1): +-2^e, stored on the narrowest exact fixed type
    w1 = units['d1'].weights / 2.0 ** units['d1'].w_type.frac
    assert np.array_equal(np.abs(w1[w1 != 0]), 2.0 ** np.round(np.log2(np.abs(w1[w1 != 0]))))
    assert units['d1'].w_type.width <= 10
    assert set(np.unique(units['d3'].weights)) <= {-1, 1} and units['d3'].w_type.width == 2  # binary: signs
    assert set(np.unique(units['d2'].weights)) <= {-1, 0, 1}  # ternary, its po2 alpha factored out
    # the accumulator types were inferred exactly (not hls4ml's default fixed<16,6> truncation)
    assert hm.graph['d1'].get_output_variable().type.precision.width > 16


@needs_ghdl
@pytest.mark.slow
def test_po2_ternary_binary_weights_ghdl(converted):
    _, hm = converted
    report = hm.build(sim=True, x=grid_inputs(hm, 300, seed=6))['sim']
    assert report['bit_exact'], report
    assert report['cycles'] == hm._vhdlspartan_design.cycles()


@pytest.mark.parametrize(
    'kw, message',
    [
        ({'d3': binary(use_01=True)}, 'binary\\(use_01=True\\) is not supported'),
        ({'d2': stochastic_ternary()}, "stochastic_ternary is not supported; supported: \\('quantized_bits'"),
        ({'d1': quantized_bits(6, 0, alpha='auto')}, "alpha='auto' is not supported"),
    ],
)
def test_unsupported_weight_quantizers_are_refused(tmp_path, kw, message):
    with pytest.raises(UnsupportedError, match=message):
        convert(quantizer_mlp(**kw), tmp_path)
    assert not (tmp_path / 'prj').exists() or not any((tmp_path / 'prj').rglob('*.vhd'))


@pytest.mark.parametrize('quantizer, name, layer_type', [
    (lambda: quantized_relu_po2(4, 1), 'quantized_relu_po2', 'QActivation'),  # hls4ml raised a bare Exception
    (binary, 'binary_tanh', 'Activation'),  # hls4ml parses it as binary_tanh
])  # fmt: skip
def test_unsupported_activation_quantizers_are_refused_by_name(tmp_path, quantizer, name, layer_type):
    x = tf.keras.Input((4,))
    h = QDense(3, kernel_quantizer=quantized_bits(6, 0, alpha=1), name='d')(x)
    model = tf.keras.Model(x, QActivation(quantizer(), name='act')(h))
    with pytest.raises(UnsupportedError, match=rf"layer 'act' \({layer_type}\): activation .*{name}.* is not supported"):
        convert(model, tmp_path)
