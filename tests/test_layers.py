"""Quantized Keras layers: the forward pass computes exactly the integer reference."""

import numpy as np
import pytest
import tensorflow as tf

from vhdlspartan.errors import UnsupportedError
from vhdlspartan.fixed import FixedType
from vhdlspartan.layers import (
    QPositionalEncoding,
    QSoftmax,
    exp_table,
    reference_add_encoding,
    reference_softmax,
    signed_type,
    unsigned_unit_type,
)


def _softmax_inputs(layer, rng, n=400, length=7):
    t = layer.input_type
    lsb = 2.0**-t.frac
    x = rng.integers(t.min_int, t.max_int + 1, size=(n, length)) * lsb
    x[0] = 0.0  # all equal
    x[1] = t.max_int * lsb  # saturated, all equal
    x[2, 0], x[2, 1:] = t.max_int * lsb, t.min_int * lsb  # distances past the table's end
    x[3] = np.linspace(-20, 20, length)  # beyond the input range: saturates first
    x[4] = (np.arange(length) - length // 2) * lsb  # distances 0..length-1 LSB: table start
    return x


@pytest.mark.parametrize('cfg', [dict(), dict(input_bits=6, input_integer=2, exp_bits=10, table_size=200, output_bits=6),
                                 dict(input_bits=10, input_integer=4, exp_bits=6, table_size=300, output_bits=12)])
def test_qsoftmax_equals_integer_reference(cfg):
    layer = QSoftmax(**cfg)
    x = _softmax_inputs(layer, np.random.default_rng(0))
    y = layer(tf.constant(x, tf.float32)).numpy().astype(np.float64)
    q_in = layer.input_type.from_float(x)
    want = reference_softmax(q_in, layer.input_type, layer.exp_type, layer.out_type, layer.table_size)
    np.testing.assert_array_equal(y, layer.out_type.to_float(want))
    # a probability row sums to 1 within one output step per entry
    assert np.all(np.abs(y.sum(axis=1) - 1) <= x.shape[1] * 2.0**-layer.out_type.frac)
    assert np.all(y[0] == y[0, 0]) and y[2, 0] == 1.0


def test_qsoftmax_rows_of_3d_attention_scores():
    layer = QSoftmax()
    x = np.random.default_rng(1).normal(size=(5, 6, 6)) * 3
    y = layer(tf.constant(x, tf.float32)).numpy()
    want = reference_softmax(layer.input_type.from_float(x), layer.input_type, layer.exp_type, layer.out_type, 256)
    np.testing.assert_array_equal(y, layer.out_type.to_float(want))


def test_qsoftmax_table_too_small_is_refused():
    with pytest.raises(UnsupportedError, match=r'table_size 64 is too small .* use table_size >= 90'):
        QSoftmax(input_bits=8, input_integer=3, exp_bits=8, table_size=64)
    with pytest.raises(UnsupportedError, match='table_size 1 is not valid'):
        QSoftmax(table_size=1)


def test_exp_table_last_needed_entry_is_the_first_zero():
    it, et = signed_type(8, 3), unsigned_unit_type(8)
    table = exp_table(it, et, 90)
    assert table[0] == 2**7 and table[88] > 0 and table[89] == 0


def test_gradients_flow_straight_through():
    layer = QSoftmax()
    x = tf.Variable(np.random.default_rng(2).normal(size=(4, 5)), dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * tf.constant(np.arange(5.0), tf.float32))
    grad = tape.gradient(loss, x).numpy()
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_positional_encoding_equals_integer_reference():
    layer = QPositionalEncoding(input_bits=8, input_integer=2, pe_bits=7, pe_integer=0, output_bits=8, output_integer=2)
    rng = np.random.default_rng(3)
    t = layer.input_type
    x = rng.integers(t.min_int, t.max_int + 1, size=(300, 12, 16)) * 2.0**-t.frac
    x[0], x[1] = t.max_int * 2.0**-t.frac, t.min_int * 2.0**-t.frac  # saturating sums
    y = layer(tf.constant(x, tf.float32)).numpy()
    want = reference_add_encoding(t.from_float(x), layer.table_codes(), t, layer.pe_type, layer.out_type)
    np.testing.assert_array_equal(y, layer.out_type.to_float(want))
    assert y[0].max() == layer.out_type.to_float(layer.out_type.max_int)


def test_learned_positional_encoding_trains_and_layers_serialize(tmp_path):
    x_in = tf.keras.Input((6, 4))
    h = QPositionalEncoding(learned=True, name='pe')(x_in)
    y = QSoftmax(name='sm')(h)
    model = tf.keras.Model(x_in, y)
    before = model.get_layer('pe').table.numpy().copy()
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss='mse')
    x = np.random.default_rng(4).normal(size=(64, 6, 4))
    model.fit(x, np.full((64, 6, 4), 0.25), epochs=2, verbose=0)
    assert np.any(model.get_layer('pe').table.numpy() != before)
    model.save(tmp_path / 'm.keras')
    again = tf.keras.models.load_model(tmp_path / 'm.keras')
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.get_layer('sm').get_config()['table_size'] == 256


def test_invalid_quantizer_is_refused():
    with pytest.raises(UnsupportedError, match=r'quantizer \(8, 8\) is not valid'):
        QPositionalEncoding(input_bits=8, input_integer=8)
    assert FixedType(8, 4).frac == 4


def _softmax_model(rows=3, length=6, **cfg):
    from qkeras import QActivation, quantized_bits

    x = tf.keras.Input((rows, length), name='x')
    h = QActivation(quantized_bits(10, 4), name='q')(x)
    return tf.keras.Model(x, QSoftmax(name='sm', **cfg)(h))


@pytest.mark.parametrize('cfg', [dict(input_bits=8, input_integer=3, exp_bits=8, table_size=128, output_bits=8),
                                 dict(input_bits=6, input_integer=3, exp_bits=10, table_size=64, output_bits=10)])
def test_qsoftmax_hardware_keras_predict_ghdl_agree(tmp_path, cfg):
    import hls4ml

    model = _softmax_model(**cfg)
    hls_cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    hls_cfg['LayerName']['x']['Precision']['result'] = 'fixed<10,5,RND_CONV,SAT>'  # what q computes
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=hls_cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'))  # fmt: skip
    hm.compile()
    rng = np.random.default_rng(5)
    x = rng.integers(-512, 512, size=(150, 3, 6)) / 32.0
    x[0], x[1] = 0.0, 511 / 32  # all equal (table index 0), saturated
    x[2, :, 0], x[2, :, 1:] = 511 / 32, -16.0  # distances beyond the table: its last entry
    y_keras = model.predict(x, verbose=0).reshape(len(x), -1)
    np.testing.assert_array_equal(hm.predict(x).reshape(len(x), -1), y_keras)
    sim = hm.build(sim=True, x=x[:100])['sim']
    assert sim['bit_exact'] and sim['mismatches'] == 0 and sim['analysis_messages'] == ''
    assert sim['cycles'] == sim['cycles_expected']
    np.testing.assert_array_equal(sim['outputs'], y_keras[:100])


@pytest.mark.parametrize('dense_first', [False, True])
def test_positional_encoding_hardware_keras_predict_ghdl_agree(tmp_path, dense_first):
    """On the input grid the table is added directly; after a Dense the input is cast first."""
    import hls4ml
    from qkeras import QActivation, QDense, quantized_bits

    x_in = tf.keras.Input((6, 4), name='x')
    h = QActivation(quantized_bits(8, 2), name='q')(x_in)
    if dense_first:
        q = quantized_bits(6, 0, alpha=1)
        h = QDense(4, kernel_quantizer=q, bias_quantizer=q, name='d')(h)
    model = tf.keras.Model(x_in, QPositionalEncoding(pe_bits=7, pe_integer=0, name='pe')(h))
    if dense_first:
        model.get_layer('d').set_weights([np.random.default_rng(0).normal(size=w.shape) * 0.5
                                          for w in model.get_layer('d').get_weights()])  # fmt: skip
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = 'fixed<8,3,RND_CONV,SAT>'  # what q computes
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'))  # fmt: skip
    hm.compile()
    units = hm._vhdlspartan_design.units
    casts = [u for u in units if type(u).__name__ == 'ActivationUnit'] + [u.post for u in units if getattr(u, 'post', None)]
    assert bool(casts) == dense_first  # the cast runs only when it changes values (after a Dense, fused into it)
    x = np.random.default_rng(1).integers(-128, 128, size=(150, 6, 4)) / 32.0
    x[0], x[1] = 127 / 32, -4.0  # saturating sums
    y_keras = model.predict(x, verbose=0).reshape(len(x), -1)
    np.testing.assert_array_equal(hm.predict(x).reshape(len(x), -1), y_keras)
    sim = hm.build(sim=True, x=x[:100])['sim']
    assert sim['bit_exact'] and sim['cycles'] == sim['cycles_expected'] and sim['analysis_messages'] == ''
    np.testing.assert_array_equal(sim['outputs'], y_keras[:100])
    from vhdlspartan.resource_model.estimate import estimate

    assert estimate(hm).per_layer['pe']['LUT'] > 0
