"""Bad input: a clear error naming the offending thing and what is supported; nothing written."""

import hls4ml
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_tanh

from conftest import mlp_model, qdense
from vhdlspartan.errors import UnsupportedError


def _convert(model, tmp_path, **kw):
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['Model'].update(kw.pop('model_cfg', {}))
    return hls4ml.converters.convert_from_keras_model(
        model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(tmp_path / 'prj'), **kw
    )


def _expect(tmp_path, match, model, **kw):
    with pytest.raises(UnsupportedError, match=match):
        hm = _convert(model, tmp_path, **kw)
        hm.write()
    assert not (tmp_path / 'prj').exists()


def test_unsupported_layer(tmp_path):
    x = tf.keras.Input((8, 8, 1))
    model = tf.keras.Model(x, tf.keras.layers.Conv2D(4, 3, name='conv')(x))
    _expect(tmp_path, r"'conv' of type Conv2D.*not supported by VHDLSpartan; supported: InputLayer, Dense", model)


def test_grouped_convolution_is_refused(tmp_path):
    x = tf.keras.Input((8, 4))
    model = tf.keras.Model(x, tf.keras.layers.Conv1D(4, 3, groups=2, name='conv')(x))
    _expect(tmp_path, r"'conv' \(Conv1D\): groups 2 is not supported; supported: Conv1D/QConv1D", model)


def test_unsupported_activation(tmp_path):
    x = tf.keras.Input((4,))
    model = tf.keras.Model(x, tf.keras.layers.Activation('softplus', name='act')(qdense(3)(x)))
    _expect(tmp_path, r"'act'.*'softplus' is not supported; supported: \('relu', 'linear', 'sigmoid', 'tanh'", model)


def test_unsupported_quantized_activation(tmp_path):
    x = tf.keras.Input((4,))
    model = tf.keras.Model(x, QActivation(quantized_tanh(6, use_stochastic_rounding=True), name='act')(qdense(3)(x)))
    _expect(tmp_path, r"'act' \(HardActivation\): quantized_tanh with use_stochastic_rounding is not supported", model)


def test_non_power_of_two_alpha(tmp_path):
    x = tf.keras.Input((4,))
    q = quantized_bits(6, 0, alpha=0.3)
    model = tf.keras.Model(x, QDense(3, kernel_quantizer=q, bias_quantizer=q, name='dense_a')(x))
    _expect(tmp_path, r"'dense_a'.*alpha=0.3.*powers of 2", model)


def test_unknown_part(tmp_path):
    _expect(tmp_path, r"part 'xc7z020clg400-1' is not supported; known devices: xc7s6, xc7s15", mlp_model(),
            part='xc7z020clg400-1')  # fmt: skip


@pytest.mark.parametrize(
    'model_cfg, match',
    [
        ({'Lanes': 0}, r'Lanes 0 is not valid'),
        ({'Lanes': 2, 'DSPLanes': 3}, r'DSPLanes 3 is not valid; use an integer 0..Lanes \(2\)'),
        ({'Storage': 'flash'}, r"Storage 'flash' is not supported; use one of \('bram', 'lutram', 'auto'\)"),
    ],
)
def test_bad_model_config(tmp_path, model_cfg, match):
    _expect(tmp_path, match, mlp_model(), model_cfg=model_cfg)


def test_bad_reuse_factor(tmp_path):
    model = mlp_model()
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['d1']['ReuseFactor'] = 1000
    with pytest.raises(UnsupportedError, match=r"'d1'.*ReuseFactor 1000 is not valid; use an integer 1..120"):
        hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                   output_dir=str(tmp_path / 'prj'))  # fmt: skip
    assert not (tmp_path / 'prj').exists()


def test_unsupported_precision(tmp_path):
    model = mlp_model()
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['r1']['Precision']['result'] = 'float'
    with pytest.raises(Exception, match=r"'r1'.*not supported.*fixed<W,I>"):
        hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                   output_dir=str(tmp_path / 'prj'))  # fmt: skip


def test_reuse_factor_limits_lanes(tmp_path):
    model = mlp_model()
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['Model']['Lanes'] = 8
    cfg['LayerName']['d1']['ReuseFactor'] = 30  # 10*12/30 = 4 multipliers = 0.4 neurons -> 1 lane
    cfg['LayerName']['d2']['ReuseFactor'] = 12  # 12*5/12 = 5 multipliers -> 0 neurons -> 1 lane
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'))  # fmt: skip
    hm.compile()
    lanes = {u.layer_name: u.lanes_used for u in hm._vhdlspartan_design.units if hasattr(u, 'lanes_used')}
    assert lanes == {'d1': 1, 'd2': 1, 'd3': 2}


# -- Transformer layers ------------------------------------------------------------------------


def test_cross_attention_is_refused(tmp_path):
    q_in, kv_in = tf.keras.Input((6, 8), name='q'), tf.keras.Input((6, 8), name='kv')
    y = tf.keras.layers.MultiHeadAttention(2, 4, name='mha')(q_in, kv_in)
    _expect(tmp_path, r"'mha' \(MultiHeadAttention\).*only self attention", tf.keras.Model([q_in, kv_in], y))


def test_attention_value_dim_must_match_key_dim(tmp_path):
    x = tf.keras.Input((6, 8), name='x')
    y = tf.keras.layers.MultiHeadAttention(2, 4, value_dim=3, name='mha')(x, x)
    _expect(tmp_path, r"'mha' \(MultiHeadAttention\): value_dim 3 differs from key_dim 4", tf.keras.Model(x, y))


def test_attention_mask_is_refused(tmp_path):
    from vhdlspartan.layers import QMultiHeadSelfAttention

    x = tf.keras.Input((6, 8), name='x')
    with pytest.raises(Exception, match='masks are not supported'):  # Keras wraps it in a StagingError
        QMultiHeadSelfAttention(1, 8, name='att')(x, mask=tf.ones((1, 6, 6)))
    y = tf.keras.layers.MultiHeadAttention(2, 4, name='mha')(x, x, use_causal_mask=True)
    _expect(tmp_path, r"'mha' \(MultiHeadAttention\): attention masks are not supported", tf.keras.Model(x, y))


def test_q_attention_on_two_tensors_is_refused():
    from vhdlspartan.layers import QMultiHeadSelfAttention

    x = tf.keras.Input((6, 8))
    with pytest.raises(UnsupportedError, match='only self attention'):
        QMultiHeadSelfAttention(1, 8, name='att')([x, x])


@pytest.mark.parametrize('make, match', [
    (lambda L: L.QMultiHeadSelfAttention(1, 8, table_size=8, name='att'), r'table_size 8 is too small .* use table_size >= 90'),
    (lambda L: L.QMultiHeadSelfAttention(1, 8, kernel_quantizer='quantized_bits(8,0,alpha="auto_po2")'),
     r'quantizer .* is not supported; use quantized_bits\(bits, integer, alpha=1\)'),
    (lambda L: L.QLayerNormalization(table_bits=2, name='ln').build((None, 6, 8)), r'table_bits 2 is not valid; use 4..12'),
    (lambda L: L.QSoftmax(input_bits=8, input_integer=3, exp_bits=8, table_size=64), r'table_size 64 is too small'),
])  # fmt: skip
def test_tables_and_quantizers_checked_at_construction(make, match):
    import vhdlspartan.layers as layers

    with pytest.raises(UnsupportedError, match=match):
        make(layers)
