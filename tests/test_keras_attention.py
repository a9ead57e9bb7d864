"""Plain tf.keras MultiHeadAttention as self attention after the layers users put before it
(issue 19): hls4ml renames a Dense's consumers to its activation's output, which reaches the
positional query but not the value/key keyword arguments; self attention is decided on the Keras
tensors."""

import hls4ml
import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits

from vhdlspartan.errors import UnsupportedError

L = tf.keras.layers


def predecessor(kind, inp):
    if kind == 'input':
        return inp
    if kind == 'dense':
        return L.Dense(8)(inp)
    if kind == 'dense_relu':
        return L.Dense(8, activation='relu')(inp)
    if kind == 'qdense_qactivation':
        h = QDense(8, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 0, alpha=1))(inp)
        return QActivation(quantized_bits(10, 3))(h)
    if kind == 'add':
        return L.Add()([inp, L.Dense(4)(inp)])
    if kind == 'batchnorm':
        return L.BatchNormalization()(L.Dense(8)(inp))
    raise ValueError(kind)


CALLS = {
    'mha(h, h)': lambda mha, h: mha(h, h),
    'mha(h, h, h)': lambda mha, h: mha(h, h, h),
    'mha(query=h, value=h)': lambda mha, h: mha(query=h, value=h),
    'mha(h, value=h, key=h)': lambda mha, h: mha(h, value=h, key=h),
}
CASES = [('dense', c) for c in CALLS] + [(k, 'mha(h, h)') for k in
                                         ('input', 'dense_relu', 'qdense_qactivation', 'add', 'batchnorm')]  # fmt: skip


def model_and_config(kind, call, seed=0):
    tf.keras.utils.set_random_seed(seed)
    inp = L.Input((6, 4), name='x')
    h = predecessor(kind, inp)
    a = CALLS[call](L.MultiHeadAttention(num_heads=2, key_dim=4, name='mha'), h)
    model = tf.keras.Model(inp, L.Add(name='out')([h, a]))
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan',
                                               default_precision='fixed<16,6>')  # fmt: skip
    cfg['LayerName']['out']['Precision']['result'] = 'fixed<16,6>'  # the model's output: at most 31 bits
    return model, cfg


@pytest.mark.parametrize('kind, call', CASES)
def test_self_attention_after_each_predecessor_converts(tmp_path, kind, call):
    model, cfg = model_and_config(kind, call)
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'))  # fmt: skip
    hm.compile()
    x = np.random.default_rng(1).uniform(-1, 1, (50, 6, 4))
    err = np.abs(hm.predict(x).reshape(50, -1) - model.predict(x, verbose=0).reshape(50, -1))
    assert err.max() < 0.15 and err.mean() < 0.03  # post-training quantization at fixed<16,6>
    if kind == 'dense' and call == 'mha(query=h, value=h)':
        sim = hm.build(sim=True, x=x[:12])['sim']
        assert sim['bit_exact'] and sim['cycles'] == sim['cycles_expected']


def test_two_tensors_stay_refused_with_the_layer_name(tmp_path):
    inp = L.Input((6, 4), name='x')
    h, g = L.Dense(8, name='d1')(inp), L.Dense(8, name='d2')(inp)
    model = tf.keras.Model(inp, L.MultiHeadAttention(num_heads=2, key_dim=4, name='cross')(h, g))
    with pytest.raises(UnsupportedError, match=r"layer 'cross' \(MultiHeadAttention\): inputs \['d1', 'd2'\]; only self"):
        hls4ml.converters.convert_from_keras_model(model, backend='VHDLSpartan', output_dir=str(tmp_path / 'prj'))
    assert not (tmp_path / 'prj').exists()
