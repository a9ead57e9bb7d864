"""Element-wise merges (Subtract, Multiply, Average, Maximum, Minimum: vs_merge), 1-D pooling
(MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D: vs_pool) and data movement (Concatenate,
UpSampling1D, ZeroPadding1D: vs_gather): QKeras == predict on grid inputs, one GHDL simulation and
synthesis of a model holding all of them, and the refusals."""

import hls4ml
import numpy as np
import pytest
import tensorflow as tf
from conftest import grid_inputs, qdense, randomize
from qkeras import QActivation, quantized_bits

from vhdlspartan.errors import UnsupportedError

L = tf.keras.layers
WIDE = 'fixed<24,12,RND_CONV,SAT>'  # Keras computes merges and pools in float: one rounding, at the QActivation after
MERGES = ('Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum')


def q(bits, integer, name):
    return QActivation(quantized_bits(bits, integer), name=name)


def all_layers_model():
    """(8, 3) -> two per-step QDense branches -> each merge (3-D) -> pools -> global max -> 2-D merges."""
    x = tf.keras.Input((8, 3), name='x')
    h = q(8, 2, 'q_in')(x)
    a = q(6, 2, 'qa')(qdense(3, name='da')(h))
    b = q(5, 1, 'qb')(qdense(3, name='db')(h))
    m = {c: q(8, 3, c.lower() + '_q')(getattr(L, c)(name=c.lower())([a, b])) for c in MERGES}
    p1 = q(8, 3, 'mp_q')(L.MaxPooling1D(2, name='mp')(m['Subtract']))  # (4, 3)
    p2 = q(8, 3, 'ap_q')(L.AveragePooling1D(2, name='ap')(m['Multiply']))  # (4, 3)
    s = L.Add(name='s1')([m['Average'], m['Minimum']])  # (8, 3)
    p3 = q(8, 3, 'ap4_q')(L.AveragePooling1D(4, strides=2, name='ap4')(s))  # (3, 3), overlapping windows
    p4 = L.MaxPooling1D(3, strides=1, name='mp3')(L.Add(name='s2')([p1, p2]))  # (2, 3)
    g1 = L.GlobalMaxPooling1D(name='gmax1')(m['Maximum'])  # (3,)
    g2 = L.GlobalMaxPooling1D(name='gmax2')(p3)
    g3 = L.GlobalMaxPooling1D(name='gmax3')(p4)
    y = q(8, 3, 'y_q')(L.Multiply(name='mul2')([q(6, 2, 'g_q')(L.Subtract(name='sub2')([g1, g2])), g3]))
    y = q(8, 3, 'out')(L.Average(name='avg2')([y, L.Maximum(name='max2')([g1, g3])]))
    # data movement (vs_gather)
    c1 = L.Concatenate(name='cat_f')([a, b])  # (8, 6), feature axis, two input types
    c2 = L.Concatenate(axis=1, name='cat_t')([p1, p2])  # (8, 3), time axis
    u = L.UpSampling1D(2, name='up')(p1)  # (8, 3)
    z = L.ZeroPadding1D((1, 2), name='zp')(m['Minimum'])  # (11, 3)
    s3 = L.Add(name='s3')([c2, u])
    gs = [L.GlobalMaxPooling1D(name=f'gmax_{k}')(t) for k, t in enumerate((c1, s3, z))]
    y = L.Concatenate(name='cat_out')([y, *gs[:1]])
    y = L.Concatenate(name='cat_out2')([y, L.Concatenate(name='cat_out3')(gs[1:])])  # (15,)
    return randomize(tf.keras.Model(x, y), seed=5)


def convert(model, out_dir, wide=True, edit=None):
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = 'fixed<8,3,RND_CONV,SAT>'
    if wide:
        for layer in model.layers:
            if isinstance(layer, (L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum, L.AveragePooling1D)):
                cfg['LayerName'][layer.name]['Precision']['result'] = WIDE
    if edit:
        edit(cfg)
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(out_dir / 'prj'), part='xc7s15ftgb196-2')  # fmt: skip
    hm.compile()
    return hm


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    model = all_layers_model()
    return model, convert(model, tmp_path_factory.mktemp('merge_pool'))


def test_units_lowered(converted):
    _, hm = converted
    units = {u.layer_name: u for u in hm._vhdlspartan_design.units}
    assert [units[c.lower()].op for c in MERGES] == ['subtract', 'multiply', 'average', 'maximum', 'minimum']
    assert type(units['s1']).__name__ == 'AddUnit'  # Add stays on vs_add
    assert (units['ap4'].pool, units['ap4'].stride, units['ap4'].outs) == (4, 2, 3)
    assert (units['gmax1'].op, units['gmax1'].pool, units['gmax1'].outs) == ('max', 8, 1)
    assert [type(units[n]).__name__ for n in ('cat_f', 'cat_t', 'up', 'zp', 'cat_out')] == ['GatherUnit'] * 5
    assert (units['up'].rep, units['zp'].a_rows, units['zp'].out_t) == (2, (1, 9), 11)


def test_qkeras_equals_predict(converted):
    """Exact merges and pools with one cast each: bit-exact with QKeras on 400 grid inputs."""
    model, hm = converted
    x = grid_inputs(hm, 400, seed=3)
    np.testing.assert_array_equal(hm.predict(x).reshape(len(x), -1), model.predict(x, verbose=0).reshape(len(x), -1))
    # every intermediate merge/pool output too, through the quantizer that follows it in Keras
    names = [c.lower() + '_q' for c in MERGES] + ['mp_q', 'ap_q', 'ap4_q', 'cat_f', 'cat_t', 'up', 'zp']
    sub = tf.keras.Model(model.input, [model.get_layer(n).output for n in names])
    design = hm._vhdlspartan_design
    q_in = np.round(x.reshape(len(x), -1) * 2**design.input.type.frac).astype(np.int64)  # x is on the input grid
    _, traced = design.run(q_in, trace=True)
    assert {c.lower() + '_q' for c in MERGES} <= set(traced)  # (hls4ml drops a quantizer that changes nothing)
    for name, ref in zip(names, sub.predict(x, verbose=0)):
        if name in traced:
            np.testing.assert_array_equal(traced[name].reshape(ref.shape), ref, err_msg=name)


def test_emulation_matches_numpy_reference():
    """vs_merge's and vs_pool's emulation against a float reference of the exact result, rounded once."""
    from vhdlspartan.fixed import FixedType
    from vhdlspartan.vhdl_backend.units.merge import exact_merge

    rng = np.random.default_rng(0)
    a, b = rng.integers(-32, 32, 500), rng.integers(0, 16, 500)  # fixed<6,3> (frac 3), ufixed<4,2> (frac 2)
    y = FixedType(width=7, frac=4, signed=True, rounding='RND_CONV', saturation='SAT')
    fa, fb = a / 8, b / 4
    ref = {'subtract': fa - fb, 'multiply': fa * fb, 'average': (fa + fb) / 2, 'maximum': np.maximum(fa, fb),
           'minimum': np.minimum(fa, fb)}  # fmt: skip
    for op, exact in ref.items():
        want = np.clip(np.round(exact * 16), -64, 63)  # np.round: half to even, as RND_CONV
        np.testing.assert_array_equal(exact_merge(op, a, 3, b, 2, y), want, err_msg=op)


@pytest.mark.slow
def test_ghdl_bit_exact_and_synthesis(converted, tmp_path):
    """GHDL == predict on 100 grid inputs (predict == QKeras on 400 above), cycles == the schedule's formula; synthesized without
    latches within the timing budget (conftest)."""
    _, hm = converted
    design = hm._vhdlspartan_design
    report = hm.build(sim=True, synth=True, x=grid_inputs(hm, 100, seed=4))
    sim = report['sim']
    assert sim['bit_exact'] and sim['mismatches'] == 0 and sim["samples"] == 100, sim['log']
    assert sim['cycles'] == sim['cycles_min'] == design.cycles()
    assert not sim['analysis_messages']
    syn = report['synth']
    assert syn['latches'] == 0
    assert syn['DSP'] == syn['estimate']['DSP']


def test_generated_vhdl_is_deterministic(tmp_path):
    texts = []
    for k in range(2):
        hm = convert(all_layers_model(), tmp_path / str(k))
        hm.write()
        texts.append({p.name: p.read_text() for p in sorted((tmp_path / str(k) / 'prj' / 'vhdl').glob('*.vhd'))})
    assert texts[0] == texts[1]
    assert all(any(f'entity work.{e}' in t for t in texts[0].values()) for e in ('vs_merge', 'vs_pool', 'vs_gather'))


def _expect(tmp_path, match, model):
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    with pytest.raises(UnsupportedError, match=match):
        hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                        output_dir=str(tmp_path / 'prj'))  # fmt: skip
        hm.write()


def _seq(layer, shape=(8, 3)):
    x = tf.keras.Input(shape, name='x')
    return tf.keras.Model(x, layer(q(8, 2, 'q_in')(x)))


def test_refusals(tmp_path):
    _expect(tmp_path / 'a', r"padding 'same' \(pad_left 0, pad_right 1\) is not supported; use padding='valid'",
            _seq(L.MaxPooling1D(3, padding='same', name='p')))
    _expect(tmp_path / 'b', r'pool size 3 is not supported for average pooling; use a power of 2',
            _seq(L.AveragePooling1D(3, name='p')))
    x = tf.keras.Input((4, 3), name='x')
    h = q(8, 2, 'q_in')(x)
    _expect(tmp_path / 'c', r'a merge of a tensor with itself is not supported', tf.keras.Model(x, L.Multiply(name='m')([h, h])))
    x = tf.keras.Input((4, 3), name='x')
    h = q(8, 2, 'q_in')(x)
    _expect(tmp_path / 'e', r'concatenating a tensor with itself is not supported',
            tf.keras.Model(x, L.Concatenate(name='c')([h, h])))
    x = tf.keras.Input((4, 3), name='x')
    h = q(8, 2, 'q_in')(x)
    g = L.GlobalMaxPooling1D(name='g')(h)
    _expect(tmp_path / 'd', r'inputs of shapes \[4, 3\] and \[1, 3\]; subtract needs two tensors of equal shape',
            tf.keras.Model(x, L.Subtract(name='m')([h, L.Reshape((1, 3))(g)])))
