"""Conv1D / QConv1D on the shared engine: a Dense per output step over its window of the input
('same' / 'causal' padding: over a zero-padded copy written first)."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import convert, grid_inputs, randomize
from ghdl_runner import needs_ghdl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qkeras import QActivation, QConv1D, QDense, quantized_bits, quantized_relu

from vhdlspartan.errors import UnsupportedError

Q = quantized_bits(6, 0, alpha=1)


def conv_model(steps=16, channels=3, filters=5, kernel=3, stride=1, seed=0, **conv_kw):
    """QConv1D -> ReLU -> QConv1D(relu fused) -> Flatten -> QDense: every tensor quantized."""
    x = tf.keras.Input((steps, channels), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    h = QConv1D(filters, kernel, strides=stride, kernel_quantizer=Q, bias_quantizer=Q, name='c1', **conv_kw)(h)
    h = QActivation(quantized_relu(8, 3), name='r1')(h)
    h = QConv1D(4, 2, kernel_quantizer=Q, bias_quantizer=Q, activation=quantized_relu(8, 3), name='c2')(h)
    h = QDense(2, kernel_quantizer=Q, bias_quantizer=Q, name='d')(tf.keras.layers.Flatten(name='flat')(h))
    model = tf.keras.Model(x, QActivation(quantized_bits(10, 4), name='out')(h))
    return randomize(model, seed=seed, scale=0.5)


def numpy_conv(x, w, b, stride, dilation=1, pad_left=0):
    """The convolution written out directly: y[t, f] = sum_k,c x[t*S + k*D, c] w[k, c, f] + b[f], over the
    input with pad_left zero steps before it (causal padding)."""
    x = np.concatenate([np.zeros((len(x), pad_left, x.shape[2])), x], 1)
    span = (w.shape[0] - 1) * dilation + 1
    t_out = (x.shape[1] - span) // stride + 1
    taps = lambda t: x[:, t * stride : t * stride + span : dilation]  # noqa: E731
    return np.stack([np.einsum('nkc,kcf->nf', taps(t), w) for t in range(t_out)], 1) + b


@pytest.fixture(scope='module')
def strided(tmp_path_factory):
    model = conv_model(kernel=4, stride=2)
    return model, convert(model, tmp_path_factory.mktemp('conv'), lanes=3)


def test_strided_conv_equals_qkeras_and_the_direct_convolution(strided):
    model, hm = strided
    x = grid_inputs(hm, 400, seed=1)
    y = model.predict(x, verbose=0)
    assert np.array_equal(y, hm.predict(x)) and np.abs(y).max() > 0.5
    units = {u.layer_name: u for u in hm._vhdlspartan_design.units}
    c1 = units['c1']
    assert (c1.n_t, c1.n_in, c1.geometry()['X_T']) == (7, 12, 6)  # 7 windows of 4 x 3, 2 steps (6 elements) apart
    # the layer's output against the convolution written out, before any rounding
    _, traced = hm.trace(x)
    layer = model.get_layer('c1')
    x_in = tf.keras.Model(model.input, model.get_layer('q_in').output).predict(x, verbose=0)
    w = np.asarray(layer.kernel_quantizer_internal(layer.kernel)), np.asarray(layer.bias_quantizer_internal(layer.bias))
    conv = numpy_conv(x_in, *w, stride=2)
    np.testing.assert_array_equal(np.asarray(traced['c1']).reshape(conv.shape), conv)  # the exact sums
    relu = np.clip(np.round(np.maximum(conv, 0) * 32) / 32, 0, 8 - 1 / 32)  # r1, fused into c1's write-back
    np.testing.assert_array_equal(np.asarray(traced['r1']).reshape(relu.shape), relu)


@needs_ghdl
@pytest.mark.slow
def test_strided_conv_ghdl_equals_predict(strided):
    _, hm = strided
    report = hm.build(sim=True, x=grid_inputs(hm, 300, seed=2))
    assert report['sim']['bit_exact'] and report['sim']['cycles'] == report['cycles_estimated']


@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.integers(4, 12), channels=st.integers(1, 4), filters=st.integers(1, 6), kernel=st.integers(1, 4),
       stride=st.integers(1, 3), dilation=st.integers(1, 3), lanes=st.integers(1, 4),
       padding=st.sampled_from(['valid', 'same', 'causal']))  # fmt: skip
def test_conv_shapes_equal_qkeras(tmp_path_factory, steps, channels, filters, kernel, stride, dilation, lanes, padding):
    if padding == 'causal' or dilation > 1:  # Keras: causal padding and dilation only with stride 1
        stride = 1
    span = (kernel - 1) * dilation + 1
    if padding == 'valid' and (steps - span) // stride + 1 < 2:  # c2 (kernel 2) needs two steps
        steps = span + stride
    model = conv_model(steps, channels, filters, kernel, stride, seed=steps * 7 + kernel, padding=padding,
                       dilation_rate=dilation)  # fmt: skip
    hm = convert(model, tmp_path_factory.mktemp('conv_prop'), lanes=lanes)
    x = grid_inputs(hm, 60, seed=lanes)
    np.testing.assert_array_equal(model.predict(x, verbose=0), hm.predict(x))


@pytest.mark.parametrize('kw, message', [
    ({'groups': 3, 'filters': 6}, r"layer 'c1' \(QConv1D\): groups 3 is not supported; supported: .*groups 1"),
])  # fmt: skip
def test_unsupported_conv_options_are_refused(tmp_path, kw, message):
    with pytest.raises(UnsupportedError, match=message):
        convert(conv_model(**kw), tmp_path)
    assert not any((tmp_path / 'prj').rglob('*.vhd'))


@pytest.fixture(scope='module')
def dilated(tmp_path_factory):
    """A dilated causal Conv1D (a TCN's layer): 3 taps 2 steps apart, 4 zero steps before the input."""
    model = conv_model(kernel=3, dilation_rate=2, padding='causal')
    return model, convert(model, tmp_path_factory.mktemp('dilated'), lanes=3)


def test_dilated_conv_reads_its_taps_in_place(dilated):
    model, hm = dilated
    x = grid_inputs(hm, 300, seed=3)
    y = model.predict(x, verbose=0)
    assert np.array_equal(y, hm.predict(x)) and np.abs(y).max() > 0.5
    c1 = {u.layer_name: u for u in hm._vhdlspartan_design.units}['c1']
    geo = c1.geometry()
    assert (c1.n_t, c1.n_in, geo['X_T'], geo['X_TAP'], geo['X_GAP']) == (16, 9, 3, 3, 3)  # taps 2 steps of 3 apart
    _, traced = hm.trace(x)
    layer = model.get_layer('c1')
    x_in = tf.keras.Model(model.input, model.get_layer('q_in').output).predict(x, verbose=0)
    w = np.asarray(layer.kernel_quantizer_internal(layer.kernel)), np.asarray(layer.bias_quantizer_internal(layer.bias))
    conv = numpy_conv(x_in, *w, stride=1, dilation=2, pad_left=4)
    np.testing.assert_array_equal(np.asarray(traced['c1']).reshape(conv.shape), conv)


@needs_ghdl
@pytest.mark.slow
def test_dilated_conv_ghdl_equals_predict_and_synthesizes(dilated):
    """GHDL == predict with cycles == schedule; synthesis: no latches, the timing budget met (conftest) and
    the estimate within the calibrated error (the tap counter is not a feature of its own: a few cells)."""
    _, hm = dilated
    report = hm.build(sim=True, synth=True, x=grid_inputs(hm, 120, seed=4))  # edges included
    assert report['sim']['bit_exact'] and report['sim']['cycles'] == report['cycles_estimated']
    syn = report['synth']
    assert syn['latches'] == 0
    assert abs(syn['estimate_error']['LUT']) < 0.08 and abs(syn['estimate_error']['FF']) < 0.08, syn['estimate_error']


@pytest.mark.slow
def test_strided_conv_synthesizes_to_the_estimate(strided):
    """The same controller, with the row stride of a window: no latches, the timing budget met (conftest),
    and the calibrated estimate holds on this held-out design."""
    _, hm = strided
    syn = hm.build(synth=True)['synth']
    assert syn['latches'] == 0
    err = syn['estimate_error']
    assert abs(err['LUT']) < 0.08 and abs(err['FF']) < 0.08, err
    assert syn['BRAM18'] == syn['estimate']['BRAM18'] and syn['DSP'] == syn['estimate']['DSP']


def separable_model(seed=4):
    """QSeparableConv1D (hls4ml splits it into a DepthwiseConv1D and a pointwise Conv1D) and a Keras
    DepthwiseConv1D with depth multiplier 2 whose weights lie on the 1/16 grid (exact at fixed<12,4>)."""
    from qkeras import QSeparableConv1D

    x = tf.keras.Input((12, 3), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    h = QSeparableConv1D(4, 3, strides=2, depthwise_quantizer=Q, pointwise_quantizer=Q, bias_quantizer=Q,
                         name='sep')(h)  # fmt: skip
    h = QActivation(quantized_relu(8, 3), name='r1')(h)
    h = tf.keras.layers.DepthwiseConv1D(2, depth_multiplier=2, padding='same', name='dw')(h)  # a padded copy first
    h = QActivation(quantized_bits(10, 4), name='q_dw')(h)
    model = tf.keras.Model(x, tf.keras.layers.Flatten(name='flat')(h))
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([np.round(rng.normal(size=w.shape) * 8) / 16 for w in layer.get_weights()])
    return model


def test_separable_and_depthwise_conv_equal_keras(tmp_path):
    model = separable_model()
    hm = convert(model, tmp_path, lanes=2)
    units = {u.layer_name: u for u in hm._vhdlspartan_design.units}
    dw = units['dw']  # (K * C, C * M) = (8, 8), block diagonal: output channel c * 2 + m reads channel c only
    assert dw.weights.shape == (8, 8) and np.count_nonzero(dw.weights.reshape(2, 4, 4, 2)[:, [0, 1, 2, 3], [1, 2, 3, 0]]) == 0
    x = grid_inputs(hm, 300, seed=3)
    y = model.predict(x, verbose=0)
    assert np.array_equal(y, hm.predict(x)) and np.abs(y).max() > 0.5


@needs_ghdl
@pytest.mark.slow
def test_separable_conv_ghdl_equals_predict(tmp_path):
    hm = convert(separable_model(), tmp_path, lanes=2)
    report = hm.build(sim=True, x=grid_inputs(hm, 200, seed=4))
    assert report['sim']['bit_exact'] and report['sim']['cycles'] == report['cycles_estimated']
