"""Plain tf.keras MultiHeadAttention as self attention after the layers users put before it
(issue 19): hls4ml renames a Dense's consumers to its activation's output, which reaches the
positional query but not the value/key keyword arguments; self attention is decided on the Keras
tensors. And plain tf.keras LayerNormalization after the Add, post-training quantized."""

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


def test_two_tensors_stay_refused_with_the_layer_name(tmp_path):
    inp = L.Input((6, 4), name='x')
    h, g = L.Dense(8, name='d1')(inp), L.Dense(8, name='d2')(inp)
    model = tf.keras.Model(inp, L.MultiHeadAttention(num_heads=2, key_dim=4, name='cross')(h, g))
    with pytest.raises(UnsupportedError, match=r"layer 'cross' \(MultiHeadAttention\): inputs \['d1', 'd2'\]; only self"):
        hls4ml.converters.convert_from_keras_model(model, backend='VHDLSpartan', output_dir=str(tmp_path / 'prj'))
    assert not (tmp_path / 'prj').exists()


# --- tf.keras LayerNormalization (post-training) ---------------------------------------------------


def issue_model(seed=0, ln_input='add'):
    """The issue's model: Dense -> MultiHeadAttention(query=h, value=h) -> Add -> LayerNormalization,
    with trained-looking gamma and beta (Keras initializes them to 1 and 0)."""
    tf.keras.utils.set_random_seed(seed)
    inp = L.Input((6, 4), name='x')
    h = L.Dense(8, name='dense')(inp)
    a = L.MultiHeadAttention(num_heads=2, key_dim=4, name='mha')(query=h, value=h)
    s = L.Add(name='add')([h, a])
    ln = L.LayerNormalization(name='ln')
    model = tf.keras.Model(inp, ln({'add': s, 'input': inp}[ln_input]))
    rng = np.random.default_rng(seed)
    ln.set_weights([rng.uniform(0.5, 1.5, ln.gamma.shape), rng.uniform(-0.5, 0.5, ln.beta.shape)])
    return model


def convert(model, tmp_path, **layer_cfg):
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan',
                                               default_precision='fixed<16,6>')  # fmt: skip
    cfg['LayerName']['ln'].update(layer_cfg)
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'))  # fmt: skip
    hm.compile()
    return hm


def float_layernorm(a, ln):
    gamma, beta = ln.get_weights()
    mean, var = a.mean(-1, keepdims=True), a.var(-1, keepdims=True)
    return (a - mean) / np.sqrt(var + ln.epsilon) * gamma + beta


def test_layernorm_after_the_add_converts_and_is_bit_exact_in_ghdl(tmp_path):
    model = issue_model()
    hm = convert(model, tmp_path)
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-1, 1, (60, 6, 4)), np.full((1, 6, 4), 0.25), np.full((1, 6, 4), -31.0)])
    y, per = hm.trace(x)
    # the layer's input: the Add's exact 36-bit sum, cast to the default precision fixed<16,6> (TRN, WRAP)
    codes = np.floor(per['add'].reshape(-1, 6, 8) * 1024).astype(np.int64)
    a = (((codes + 2**15) % 2**16) - 2**15) / 1024
    # the layer: within a few output steps of float LayerNormalization (epsilon included) on that input
    ln_err = np.abs(y.reshape(a.shape) - float_layernorm(a, model.get_layer('ln')))
    assert ln_err.max() < 0.02, ln_err.max()
    # the model: post-training quantization at fixed<16,6> (the attention's 8-bit defaults dominate)
    err = np.abs(y.reshape(a.shape) - model.predict(x, verbose=0))[:60]
    assert err.mean() < 0.05, err.mean()
    sim = hm.build(sim=True, x=x[[0, 1, 2, 60, 61]])['sim']
    assert sim['bit_exact'] and sim['cycles'] == sim['cycles_expected']


def test_layernorm_epsilon_decides_rows_of_small_variance(tmp_path):
    """Rows whose variance is near epsilon: without Keras' epsilon in V the result is off by a lot."""
    model = issue_model(ln_input='input')
    hm = convert(model, tmp_path)
    rng = np.random.default_rng(4)
    x = 0.3 + rng.uniform(-0.04, 0.04, (40, 6, 4))  # variance ~ 5e-4, against epsilon 1e-3
    x = np.round(x * 1024) / 1024  # on the input grid fixed<16,6>
    err = np.abs(hm.predict(x).reshape(x.shape) - float_layernorm(x, model.get_layer('ln')))
    assert err.max() < 0.02, err.max()


def test_layernorm_config_keys(tmp_path):
    """Precision norm/table and TableSize reach the hardware; a bad TableSize names the layer."""
    from vhdlspartan.vhdl_backend.design import lower

    model = issue_model(ln_input='input')
    hm = convert(model, tmp_path, TableSize=256, Precision={'result': 'fixed<12,4>', 'norm': 'fixed<10,4>',
                                                           'table': 'ufixed<12,4>', 'scale': 'fixed<10,2>',
                                                           'bias': 'fixed<10,2>'})  # fmt: skip
    norm = next(u for u in lower(hm).units if type(u).__name__ == 'LayerNormUnit')
    assert (norm.spec.table_bits, norm.spec.inv_bits, norm.spec.z_type.width, norm.spec.z_type.frac) == (8, 12, 10, 6)
    assert norm.spec.v_add > 0
    x = np.random.default_rng(5).uniform(-1, 1, (30, 6, 4))
    err = np.abs(hm.predict(x).reshape(x.shape) - float_layernorm(x, model.get_layer('ln')))
    assert err.max() < 0.1  # 6 fraction bits of z, 8 of the result
    with pytest.raises(UnsupportedError, match=r"layer 'ln' \(LayerNormalization\): TableSize 100 is not valid"):
        convert(model, tmp_path / 'bad', TableSize=100)
    assert not (tmp_path / 'bad' / 'prj').exists()
