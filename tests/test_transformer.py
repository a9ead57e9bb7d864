"""The integer Transformer encoder end to end: Keras forward == predict (the NumPy emulation)
== GHDL simulation, bit for bit, over the reference encoder's sizes, bitwidths and norms."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import grid_inputs
from vhdlspartan.models import hls_config, ts_transformer


def random_weights(model, seed, scale=0.4):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            new = [rng.normal(size=w.shape) * scale for w in ws]
            if type(layer).__name__ == 'QFoldedBatchNorm':
                new[0] = 1 + new[0]  # gamma around 1
                new[3] = np.abs(new[3]) + 0.5  # moving variance
            if type(layer).__name__ == 'QLayerNormalization':
                new[0] = 1 + new[0]
            layer.set_weights(new)
    return model


def convert_encoder(tmp_path, window, d_model, heads, bits, norm, lanes=2, layers=1, seed=0):
    import hls4ml

    model = random_weights(ts_transformer(window, 2, d_model, heads, 2 * d_model, layers, bits=bits, norm=norm), seed)
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=hls_config(model, lanes=lanes), backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'), part='xc7s15ftgb196-2')  # fmt: skip
    hm.compile()
    return model, hm


# (window, d_model, heads, bits, norm): every size, bitwidth and norm of the issue appears
CASES = [
    (6, 8, 1, 8, 'batch'),
    (6, 8, 2, 4, 'layer'),
    (6, 16, 2, 6, 'batch'),
    (12, 8, 1, 6, 'layer'),
    (12, 16, 1, 4, 'batch'),
    (12, 16, 2, 8, 'layer'),
    (6, 16, 1, 8, 'layer'),
    (12, 8, 2, 4, 'batch'),
]


def softmax_rows_clamped(hm, x) -> int:
    """Rows of attention scores whose distance to the row maximum reaches the exp table's last entry."""
    design = hm._vhdlspartan_design
    env = {design.input.name: design.quantize_input(x)}
    clamped = 0
    for unit in design.units:
        if type(unit).__name__ == 'SoftmaxUnit':
            s = env[unit.x.name].reshape(-1, unit.n)
            clamped += int(((s.max(axis=1) - s.min(axis=1)) >= unit.table_size - 1).sum())
        env[unit.y.name] = unit.emulate(env)
    return clamped


@pytest.mark.parametrize('window, d_model, heads, bits, norm', CASES)
def test_keras_equals_predict(tmp_path, window, d_model, heads, bits, norm):
    model, hm = convert_encoder(tmp_path, window, d_model, heads, bits, norm, seed=window + d_model + heads + bits)
    x = grid_inputs(hm, 150, seed=bits)
    y_keras = model(x).numpy().reshape(len(x), -1)
    np.testing.assert_array_equal(hm.predict(x).reshape(len(x), -1), y_keras)
    assert len(np.unique(y_keras)) >= 3  # the outputs vary: not a saturated constant
    if bits <= 6:  # short tables: some score rows reach the table's end (clamped distances)
        assert softmax_rows_clamped(hm, x) > 0


# a narrow input under wide layers, and narrow attention / feed-forward under a wide norm
MIXED = [dict(input=4, embed=8, posenc=8, attention=8, norm=8, ffn=8, pool=8, head=8),
         dict(input=8, embed=5, posenc=6, attention=4, norm=7, ffn=4, pool=6, head=5)]  # fmt: skip


@pytest.mark.parametrize('bits', MIXED)
@pytest.mark.parametrize('drop', [{}, {'posenc': 2, 'ffn0_q': 1, 'att0_norm': 1, 'q_in': 1}])
def test_mixed_widths_and_integer_bits_keep_keras_equal_predict(tmp_path, bits, drop):
    """The residual sums stay exact whatever width and integer bits each operand has (the tuner
    mixes both): a sum typed from the input's width alone rounds or saturates before the norm."""
    import hls4ml

    from vhdlspartan.resource_model.tuning.bits import with_bits

    model = random_weights(ts_transformer(6, 2, 8, 1, 16, 1, bits=bits, norm='batch', integer=2), 5)
    model = with_bits(model, {}, drop)
    q = model.get_layer('q_in').quantizer
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=hls_config(model, lanes=2, integer=int(q.integer)),
                                                    backend='VHDLSpartan', output_dir=str(tmp_path / 'prj'))  # fmt: skip
    hm.compile()
    x = grid_inputs(hm, 300, seed=3)
    y_keras = model(x).numpy().reshape(len(x), -1)
    np.testing.assert_array_equal(hm.predict(x).reshape(len(x), -1), y_keras)
    assert len(np.unique(y_keras)) >= 3
    if bits is MIXED[1] and drop:  # one of them in GHDL: the adds of operands on different grids
        sim = hm.build(sim=True, x=x[:40])['sim']
        assert sim['bit_exact'] and sim['mismatches'] == 0 and sim['analysis_messages'] == ''
        np.testing.assert_array_equal(sim['outputs'], y_keras[:40])


@pytest.mark.parametrize('window, d_model, heads, bits, norm, lanes', [
    (6, 8, 1, 8, 'batch', 4),
    (6, 8, 2, 4, 'layer', 4),
    pytest.param(6, 16, 2, 6, 'batch', 3, marks=pytest.mark.long),  # minutes of GHDL each
    pytest.param(12, 8, 1, 6, 'layer', 2, marks=pytest.mark.long),
    pytest.param(12, 16, 2, 8, 'layer', 4, marks=pytest.mark.long),
])  # fmt: skip
def test_ghdl_equals_keras(tmp_path, window, d_model, heads, bits, norm, lanes):
    model, hm = convert_encoder(tmp_path, window, d_model, heads, bits, norm, lanes=lanes, seed=lanes)
    n = 40 if d_model == 8 and window == 6 else 100  # the default suite's two designs: 40 inputs each
    x = grid_inputs(hm, n, seed=lanes)
    report = hm.build(sim=True, x=x)
    sim = report['sim']
    assert sim['samples'] == n and sim['bit_exact'] and sim['mismatches'] == 0
    np.testing.assert_array_equal(sim['outputs'], model(x).numpy().reshape(n, -1))
    assert sim['cycles'] == sim['cycles_min'] == sim['cycles_expected'] == report['cycles_estimated']
    assert sim['analysis_messages'] == ''


def test_two_encoder_layers_and_lanes_speed_up(tmp_path):
    model, hm1 = convert_encoder(tmp_path / 'a', 6, 8, 2, 6, 'layer', lanes=1, layers=2)
    _, hm4 = convert_encoder(tmp_path / 'b', 6, 8, 2, 6, 'layer', lanes=4, layers=2)
    x = grid_inputs(hm1, 100)
    np.testing.assert_array_equal(hm1.predict(x), hm4.predict(x))
    np.testing.assert_array_equal(hm4.predict(x).reshape(100, -1), model(x).numpy().reshape(100, -1))
    d1, d4 = hm1._vhdlspartan_design, hm4._vhdlspartan_design
    assert d1.macs() == d4.macs()
    assert d4.cycles() < 0.6 * d1.cycles()


def test_encoder_serializes(tmp_path):
    from qkeras.utils import _add_supported_quantized_objects

    model = random_weights(ts_transformer(6, 2, 8, 2, 16, 1, bits=6, norm='layer'), 4)
    path = tmp_path / 'enc.h5'
    model.save(path)
    custom = {}
    _add_supported_quantized_objects(custom)
    loaded = tf.keras.models.load_model(path, custom_objects=custom)  # vhdlspartan layers: registered
    x = np.random.default_rng(0).normal(size=(50, 6, 2)) * 2
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    for layer in model.layers:
        if type(layer).__module__.startswith('vhdlspartan'):
            clone = type(layer).from_config(layer.get_config())
            assert clone.get_config() == layer.get_config()


def test_keras_multihead_attention_post_training(tmp_path):
    """tf.keras MultiHeadAttention (self attention) with types from the hls4ml config: predict == GHDL,
    and close to the float layer."""
    import hls4ml

    x_in = tf.keras.Input((6, 8), name='x')
    y = tf.keras.layers.MultiHeadAttention(2, 4, name='mha')(x_in, x_in)
    model = random_weights(tf.keras.Model(x_in, y), 5, scale=0.3)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = 'fixed<10,3,RND_CONV,SAT>'
    mha = cfg['LayerName']['mha']['Precision']
    mha.update(result='fixed<12,4,RND_CONV,SAT>', weight='fixed<10,1,RND_CONV,SAT>', bias='fixed<10,1,RND_CONV,SAT>',
               proj='fixed<12,4,RND_CONV,SAT>', score='fixed<10,4,RND_CONV,SAT>', prob='ufixed<10,1,RND_CONV,SAT>',
               exp='ufixed<10,1,RND_CONV,SAT>', context='fixed<12,4,RND_CONV,SAT>')  # fmt: skip
    cfg['Model']['Lanes'] = 2
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'), part='xc7s15')  # fmt: skip
    hm.compile()
    x = grid_inputs(hm, 40) * 0.5
    y_float = model(x).numpy().reshape(40, -1)
    y_hls = hm.predict(x).reshape(40, -1)
    assert np.abs(y_hls - y_float).max() < 0.25 and np.abs(y_hls - y_float).mean() < 0.03
    sim = hm.build(sim=True, x=x[:20])['sim']
    assert sim['bit_exact'] and sim['mismatches'] == 0


def test_softmax_dividers_follow_lanes_and_the_config_key(tmp_path):
    """The softmax gets min(Lanes, 4) dividers, SoftmaxDividers at the attention layer replaces that
    (capped by the row length), and a bad value is refused naming the layer."""
    import hls4ml

    from vhdlspartan.errors import UnsupportedError

    model = random_weights(ts_transformer(6, 2, 8, 1, 16, 1, bits=8), 0)

    def divs(k, **layer_cfg):
        cfg = hls_config(model, lanes=16)
        cfg['LayerName']['att0'].update(layer_cfg)
        hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                        output_dir=str(tmp_path / f'p{k}'))  # fmt: skip
        hm.compile()
        return [u.divs for u in hm._vhdlspartan_design.units if type(u).__name__ == 'SoftmaxUnit']

    assert divs(0) == [4]
    assert divs(1, SoftmaxDividers=2) == [2]
    assert divs(2, SoftmaxDividers=100) == [6]  # no more than the 6 elements of a row
    with pytest.raises(UnsupportedError, match=r"layer 'att0' SoftmaxDividers 0 is not valid"):
        divs(3, SoftmaxDividers=0)
