"""Float Keras models (no QKeras) convert post-training through the hls4ml config's precisions."""

import numpy as np
import pytest
import tensorflow as tf
from ghdl_runner import needs_ghdl

import hls4ml
from vhdlspartan.errors import UnsupportedError


def classifier():
    """The issue's float MLP: Dense, BatchNormalization, ReLU, Dense(relu), Dense(softmax), trained briefly."""
    tf.keras.utils.set_random_seed(0)
    x = tf.keras.Input((16,), name='x')
    h = tf.keras.layers.Dense(32, name='d1')(x)
    h = tf.keras.layers.BatchNormalization(name='bn')(h)
    h = tf.keras.layers.Activation('relu', name='r1')(h)
    h = tf.keras.layers.Dense(16, activation='relu', name='d2')(h)
    y = tf.keras.layers.Dense(5, activation='softmax', name='out')(h)
    model = tf.keras.Model(x, y)
    rng = np.random.default_rng(0)
    x_train = rng.normal(size=(2000, 16)).astype('float32')
    y_train = (x_train[:, :5] + 0.3 * x_train[:, 5:10]).argmax(1)
    model.compile('adam', 'sparse_categorical_crossentropy')
    model.fit(x_train, y_train, epochs=5, verbose=0)
    return model


def ptq(model, out_dir):
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan',
                                               default_precision='fixed<16,6>')  # fmt: skip
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(out_dir))  # fmt: skip
    hm.compile()
    return hm


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    model = classifier()
    return model, ptq(model, tmp_path_factory.mktemp('float') / 'prj')


def test_float_mlp_with_batchnorm_and_softmax_is_close_to_keras(converted):
    model, hm = converted
    x = np.random.default_rng(1).normal(size=(1000, 16)).astype('float32')
    p_keras, p_hls = model.predict(x, verbose=0), hm.predict(x)
    agree = (p_keras.argmax(1) == p_hls.argmax(1)).mean()
    assert agree >= 0.98, f'argmax agreement {agree:.3f}'  # 0.993 measured
    assert np.abs(p_keras - p_hls).max() < 0.02  # 0.0084 measured: the softmax output is ufixed<16,1>
    assert np.allclose(p_hls.sum(1), 1, atol=0.02)


@needs_ghdl
@pytest.mark.slow
def test_float_mlp_ghdl_equals_predict(converted):
    _, hm = converted
    x = np.random.default_rng(2).normal(size=(100, 16)) * 2
    report = hm.build(sim=True, x=x)['sim']
    assert report['bit_exact'] and report['cycles'] == hm._vhdlspartan_design.cycles()


def test_float_conv1d_network_converts(tmp_path):
    """The issue's float Conv1D network: Conv1D ReLU x3, Flatten, Dense, softmax."""
    tf.keras.utils.set_random_seed(1)
    x = tf.keras.Input((24, 2), name='x')
    h = x
    for k, (filters, kernel, stride) in enumerate([(8, 3, 1), (8, 3, 2), (4, 2, 1)]):
        h = tf.keras.layers.Conv1D(filters, kernel, strides=stride, activation='relu', name=f'conv{k}')(h)
    y = tf.keras.layers.Dense(3, activation='softmax', name='out')(tf.keras.layers.Flatten(name='flat')(h))
    model = tf.keras.Model(x, y)
    hm = ptq(model, tmp_path / 'prj')
    xs = np.random.default_rng(3).normal(size=(500, 24, 2)).astype('float32')
    p_keras, p_hls = model.predict(xs, verbose=0), hm.predict(xs)
    agree = (p_keras.argmax(1) == p_hls.argmax(1)).mean()
    assert agree >= 0.98 and np.abs(p_keras - p_hls).max() < 0.03, (agree, np.abs(p_keras - p_hls).max())
