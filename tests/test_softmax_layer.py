"""Softmax as a layer of its own: hls4ml's Softmax (Activation('softmax'), Dense(activation='softmax'),
tf.keras.layers.Softmax) on vs_softmax, and Implementation argmax on vs_argmax."""

import math

import hls4ml
import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, quantized_bits, quantized_relu

from conftest import grid_inputs, qdense, randomize
from vhdlspartan.errors import UnsupportedError
from vhdlspartan.vhdl_backend.units.argmax import ArgmaxUnit
from vhdlspartan.vhdl_backend.units.softmax import SoftmaxUnit

INPUT_T = 'fixed<8,3,RND_CONV,SAT>'  # quantized_bits(8, 2), the models' first quantizer


def convert(model, out_dir, layers=None, **model_cfg):
    """layers: {layer name: {config key: value, or 'Precision': {var: type}}} merged into the config."""
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = INPUT_T
    for name, keys in (layers or {}).items():
        for key, value in keys.items():
            if key == 'Precision':
                cfg['LayerName'][name]['Precision'].update(value)
            else:
                cfg['LayerName'][name][key] = value
    cfg['Model'].update(model_cfg)
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(out_dir), part='xc7s15ftgb196-2')  # fmt: skip
    hm.compile()
    return hm


def classifier(n_in=16, hidden=32, classes=10, seed=0, scale=0.35, head=None):
    """QKeras MLP whose last QDense has activation='softmax' (hls4ml: Dense + Softmax); head
    'activation' / 'layer' ends in a linear QDense and Activation('softmax') / layers.Softmax."""
    x = tf.keras.Input((n_in,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    h = qdense(hidden, bits=8, name='d1', activation=quantized_relu(8, 3))(h)
    if head is None:
        y = qdense(classes, bits=8, name='d2', activation='softmax')(h)
    else:
        h = qdense(classes, bits=8, name='d2')(h)
        y = (tf.keras.layers.Activation('softmax', name='sm') if head == 'activation' else
             tf.keras.layers.Softmax(name='sm'))(h)  # fmt: skip
    return randomize(tf.keras.Model(x, y), seed=seed, scale=scale)


def sequence_classifier(steps=6, feats=4, classes=5, seed=4, activation='softmax'):
    """(time, features) -> per-step QDense(activation=...): a softmax over the last axis of 3-D."""
    x = tf.keras.Input((steps, feats), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    y = qdense(classes, bits=6, name='d2', activation=activation)(h)
    return randomize(tf.keras.Model(x, y), seed=seed, scale=0.6)


def typical_inputs(n, n_in, seed):
    """Inputs of a typical spread on the input grid (2^-5), some beyond its range (saturated)."""
    return np.round(np.random.default_rng(seed).normal(size=(n, n_in)) * 1.5 * 32) / 32


def expected_input_frac(exp_frac, table_size):
    """Independently of the lowering: the finest grid 2^-f whose exp table, exp(-k 2^-f) rounded
    to exp_frac bits up to its first 0 entry, fits in table_size entries."""
    f = 0
    # entries needed: 0..k_max non-zero (exp(-k 2^-f) > 2^-(exp_frac+1)), then the first 0
    while math.ceil((exp_frac + 1) * math.log(2) * 2 ** (f + 1)) + 1 <= table_size:
        f += 1
    return f


def unit_of(hm, cls):
    units = [u for u in hm._vhdlspartan_design.units if isinstance(u, cls)]
    assert len(units) == 1, hm._vhdlspartan_design.units
    return units[0]


# -- designs shared by the tests (converted once) ------------------------------------------------


@pytest.fixture(scope='module')
def mlp(tmp_path_factory):
    """Dense(activation='softmax') with hls4ml's defaults (exp_table fixed<18,8>, TableSize 1024);
    4 lanes, so 4 dividers (and a short GHDL run)."""
    model = classifier(n_in=12, hidden=16, seed=2)
    return model, convert(model, tmp_path_factory.mktemp('mlp') / 'prj', Lanes=4)


@pytest.fixture(scope='module')
def seq(tmp_path_factory):
    """3-D, softmax per time step, with keys of its own: exp_table fixed<12,4>, TableSize 256."""
    model = sequence_classifier()
    layers = {'d2_softmax': {'TableSize': 256, 'Precision': {'exp_table': 'fixed<12,4>', 'result': 'ufixed<12,1,RND_CONV,SAT>'}}}
    return model, convert(model, tmp_path_factory.mktemp('seq') / 'prj', layers, Lanes=2)


def tied_argmax_model():
    """Logits 1 and 4 always equal (equal kernel columns and biases): the first maximum must win."""
    model = classifier(n_in=8, hidden=12, classes=6, seed=5, scale=0.5)
    d2 = model.get_layer('d2')
    kernel, bias = d2.get_weights()
    kernel[:, 4], bias[4] = kernel[:, 1], bias[1]
    d2.set_weights([kernel, bias])
    return model


@pytest.fixture(scope='module')
def argmax_mlp(tmp_path_factory):
    model = tied_argmax_model()
    return model, convert(model, tmp_path_factory.mktemp('am') / 'prj', {'d2_softmax': {'Implementation': 'argmax'}})


@pytest.fixture(scope='module')
def argmax_seq(tmp_path_factory):
    model = sequence_classifier(steps=5, feats=3, classes=4, seed=6)
    layers = {'d2_softmax': {'Implementation': 'argmax', 'Precision': {'result': 'ufixed<4,2,RND_CONV,SAT>'}}}
    return model, convert(model, tmp_path_factory.mktemp('ams') / 'prj', layers)


# -- the config keys -----------------------------------------------------------------------------


def test_hls4ml_defaults_map_onto_the_unit(mlp):
    _, hm = mlp
    u = unit_of(hm, SoftmaxUnit)
    assert u.exp_type.frac == 10 and u.exp_bits == 11  # exp_table fixed<18,8>: 10 fraction bits
    assert u.in_type.frac == expected_input_frac(10, 1024) == 7
    assert u.table_size <= 1024 and u.table_size == 977  # exp(-975/128) is the last entry above 2^-11
    assert u.in_type.signed and u.in_type.integer >= u.x.type.integer  # the logits' range is kept
    assert str(u.y.type) == 'ufixed<16,1,RND_CONV,SAT>'  # result not configured: our default
    assert str(hm.graph['d2_softmax'].get_output_variable().type.precision).startswith('ufixed<16,1,RND_CONV,SAT')


def test_configured_keys_map_onto_the_unit(seq):
    _, hm = seq
    u = unit_of(hm, SoftmaxUnit)
    assert u.exp_type.frac == 8  # fixed<12,4>
    assert u.in_type.frac == expected_input_frac(8, 256) == 5
    assert u.table_size <= 256
    assert str(u.y.type) == 'ufixed<12,1,RND_CONV,SAT>'
    assert (u.rows, u.n) == (6, 5)


# -- emulation -----------------------------------------------------------------------------------


def test_probabilities_follow_float_keras(mlp):
    model, hm = mlp
    x = typical_inputs(2000, 12, seed=1)
    y, yk = hm.predict(x), model.predict(x, verbose=0)
    err = np.abs(y - yk).max()
    # logits on a 2^-7 grid (relative error of p about 2 * 2^-8), exp entries to 2^-11, output to 2^-16
    assert err < 0.01, f'max |p - p_keras| = {err:.4f}'
    assert np.abs(y.sum(axis=1) - 1).max() < 0.01
    assert np.all(y >= 0) and np.all(y <= 1)


@pytest.mark.parametrize('head', [None, 'activation', 'layer'])
def test_argmax_agreement_with_float_keras(tmp_path, head):
    """Random MLPs, logits of typical spread: the argmax of the integer softmax is the float one's
    in at least 99% of the inputs (measured: 99.8-99.95%)."""
    agree, total, spreads = 0, 0, []
    for k, classes in enumerate((3, 10, 16)):
        model = classifier(classes=classes, seed=10 + k, head=head)
        hm = convert(model, tmp_path / f'm{k}')
        x = typical_inputs(1500, 16, seed=k)
        y, yk = hm.predict(x), model.predict(x, verbose=0)
        agree += int(np.sum(np.argmax(y, 1) == np.argmax(yk, 1)))
        total += len(x)
        spreads.append(float(np.mean(np.std(np.log(np.maximum(yk, 1e-30)), axis=1))))  # the logits' spread
    share = agree / total
    figure = f'argmax agreement {share:.2%} on {total} inputs (logit std per sample {np.round(spreads, 2).tolist()})'
    print(figure)
    assert share >= 0.99, figure
    assert min(spreads) > 1.0, f'logits too flat to be typical: {figure}'


def test_argmax_implementation_is_one_hot_at_the_first_maximum(argmax_mlp):
    model, hm = argmax_mlp
    x = typical_inputs(1000, 8, seed=3)
    y, yk = hm.predict(x), model.predict(x, verbose=0)
    unit = unit_of(hm, ArgmaxUnit)
    assert str(unit.y.type) == 'ufixed<1,1,RND_CONV,SAT>'
    assert np.all(y.sum(axis=1) == 1) and set(np.unique(y)) == {0.0, 1.0}
    np.testing.assert_array_equal(np.argmax(y, 1), np.argmax(yk, 1))  # float argmax: ties go to the first
    tied = np.argmax(yk, 1) == 1
    assert tied.sum() > 20 and np.all(y[tied, 4] == 0), 'the tied later logit 4 must never win'


def test_argmax_result_type_gives_the_one(argmax_seq):
    model, hm = argmax_seq
    unit = unit_of(hm, ArgmaxUnit)
    assert unit.one_code == 4 and (unit.rows, unit.n) == (5, 4)  # 1.0 in ufixed<4,2>
    x = grid_inputs(hm, 50, seed=2)
    y = hm.predict(x).reshape(50, 5, 4)
    np.testing.assert_array_equal(np.argmax(y, -1), np.argmax(model.predict(x, verbose=0), -1))
    assert np.all(y.sum(axis=-1) == 1)


def test_skip_removes_the_softmax(tmp_path):
    model = classifier(n_in=8, hidden=12, classes=4, seed=7)
    hm = convert(model, tmp_path / 'prj', {'d2_softmax': {'Skip': True}})
    assert not any(isinstance(u, (SoftmaxUnit, ArgmaxUnit)) for u in hm._vhdlspartan_design.units)
    x = typical_inputs(200, 8, seed=4)
    logits = hm.predict(x)
    p = model.predict(x, verbose=0)
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), p, rtol=1e-4, atol=1e-6)


# -- refused before anything is written ----------------------------------------------------------


def _refused(tmp_path, model, layers, match):
    out = tmp_path / 'prj'
    with pytest.raises(UnsupportedError, match=match):
        convert(model, out, layers)
    assert not (out / 'vhdl').exists(), 'nothing may be written for a refused model'


@pytest.mark.parametrize('layers, match', [
    ({'d2_softmax': {'TableSize': 6}}, r"'d2_softmax' \(hls4ml Softmax\): TableSize \(table_size\) 6 is too small .*use TableSize >= "),
    ({'d2_softmax': {'TableSize': 8192}}, r"'d2_softmax'.*TableSize \(table_size\) 8192 is not valid; use an integer 2\.\.4096"),
    ({'d2_softmax': {'Precision': {'exp_table': 'fixed<8,8>'}}}, r"'d2_softmax'.*exp_table .* has 0 fraction bits; the exp table takes 1\.\.24"),
    ({'d2_softmax': {'Precision': {'result': 'ufixed<16,1>'}}}, r"'d2_softmax'.*Precision result ufixed<16,1,TRN,WRAP> is not supported: .*RND_CONV"),
    ({'d2_softmax': {'Precision': {'result': 'fixed<8,1,RND_CONV,SAT>'}}}, r"'d2_softmax'.*cannot hold 1\.0.*unsigned SAT"),
    ({'d2_softmax': {'Implementation': 'argmax', 'Precision': {'result': 'ufixed<40,1,RND_CONV,SAT>'}}},
     r"'d2_softmax'.*Implementation argmax needs a code in 0\.\.2147483647"),
])  # fmt: skip
def test_bad_keys_are_refused(tmp_path, layers, match):
    _refused(tmp_path, classifier(n_in=8, hidden=8, classes=4, seed=8), layers, match)


def test_softmax_over_another_axis_is_refused(tmp_path):
    x = tf.keras.Input((6, 4), name='x')
    h = qdense(5, name='d2')(QActivation(quantized_bits(8, 2), name='q_in')(x))
    model = tf.keras.Model(x, tf.keras.layers.Softmax(axis=1, name='sm')(h))
    _refused(tmp_path, model, {}, r"'sm' \(hls4ml Softmax\): softmax over axis 1 of a 3-D tensor is not supported; "
                                  r"supported: softmax over the last axis")  # fmt: skip


# -- GHDL: bit-exact, cycles ---------------------------------------------------------------------


def _simulate(hm, x):
    sim = hm.build(sim=True, x=x)['sim']
    assert sim['bit_exact'], f'{sim["mismatches"]} of {sim["samples"]} samples differ (log {sim["log"]})'
    assert sim['samples'] == len(x) and not sim['analysis_messages'], sim['analysis_messages']
    assert sim['cycles'] == sim['cycles_expected'] == hm._vhdlspartan_design.cycles()
    return sim


@pytest.mark.slow
def test_softmax_bit_exact_in_ghdl(mlp):
    _, hm = mlp
    assert unit_of(hm, SoftmaxUnit).divs == 4
    x = np.concatenate([grid_inputs(hm, 250, seed=5), typical_inputs(70, 12, seed=6)])
    _simulate(hm, x)


@pytest.mark.slow
def test_softmax_3d_bit_exact_in_ghdl(seq):
    _, hm = seq
    _simulate(hm, grid_inputs(hm, 300, seed=7))


@pytest.mark.slow
def test_argmax_bit_exact_in_ghdl(argmax_mlp):
    _, hm = argmax_mlp
    x = np.concatenate([grid_inputs(hm, 250, seed=8), typical_inputs(70, 8, seed=9)])
    sim = _simulate(hm, x)
    assert np.all(sim['outputs_int'].sum(axis=1) == 1)


@pytest.mark.slow
def test_argmax_3d_cycles_in_ghdl(argmax_seq):
    _, hm = argmax_seq
    unit = unit_of(hm, ArgmaxUnit)
    assert unit.cycles() == (unit.rows + 1) * unit.n + 4
    sim = _simulate(hm, grid_inputs(hm, 300, seed=10))
    starts = hm._vhdlspartan_design.schedule().starts
    assert sim['cycles'] == starts[-1] + unit.cycles()  # the argmax is the last unit: the design ends with it


@pytest.mark.slow
def test_argmax_synthesizes_as_estimated(tmp_path):
    """A design the fit never saw (not one of calibrate_argmax.DESIGNS): no latches, the timing
    budget (the autouse fixture), and vs_argmax's cells as the resource model estimates them."""
    from vhdlspartan.resource_model.calibrate_argmax import DESIGNS, synth_argmax_design
    from vhdlspartan.resource_model.estimate import component_cost

    spec = (3, 7, 'fixed<14,5,RND_CONV,SAT>', 'ufixed<3,1,RND_CONV,SAT>')
    assert spec not in DESIGNS
    design = synth_argmax_design(0, str(tmp_path), spec)
    (rec,) = design['records']
    assert design['latches'] == 0
    assert rec['cells']['BRAM18'] == rec['cells']['DSP'] == 0
    est = component_cost('vs_argmax', rec['params'], 1)
    for r, tol in (('LUT', 0.2), ('FF', 0.05)):
        assert abs(est[r] - rec['cells'][r]) <= tol * rec['cells'][r], (r, est[r], rec['cells'][r])
    assert rec['levels'] <= 6 and rec['delay_ns'] < 1000 / 150


def test_generated_vhdl_is_deterministic(tmp_path):
    model = tied_argmax_model()
    texts = []
    for k in range(2):
        hm = convert(model, tmp_path / f'p{k}', {'d2_softmax': {'Implementation': 'argmax'}})
        hm.write()
        texts.append({p.name: p.read_text() for p in sorted((tmp_path / f'p{k}' / 'vhdl').glob('*.vhd'))})
    assert texts[0] == texts[1] and 'vs_argmax.vhd' in texts[0]


@pytest.mark.slow
def test_softmax_synthesizes_without_latches(mlp):
    """vs_softmax with the default Keras-path types (16-bit result, 26-bit numerators, 4 dividers):
    no latches, and the timing budget (the autouse fixture checks it)."""
    _, hm = mlp
    syn = hm.build(synth=True)['synth']
    assert syn['latches'] == 0
    unit = unit_of(hm, SoftmaxUnit)
    assert syn['timing']['per_unit'][f'{unit.name}_{unit.label}']['levels'] <= 6


def test_model_granularity_config_gets_the_defaults_and_type_level_keys(tmp_path):
    """A config of granularity 'model' sets no softmax result (the model default fixed<16,6> is not
    taken); LayerType keys apply to every Softmax layer."""
    model = classifier(n_in=8, hidden=8, classes=4, seed=9)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='model', backend='VHDLSpartan')
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(tmp_path / 'a'))
    hm.compile()
    assert str(unit_of(hm, SoftmaxUnit).y.type) == 'ufixed<16,1,RND_CONV,SAT>'
    cfg['LayerType'] = {'Softmax': {'Implementation': 'argmax', 'Precision': {'result': 'ufixed<2,2,RND_CONV,SAT>'}}}
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(tmp_path / 'b'))
    hm.compile()
    assert unit_of(hm, ArgmaxUnit).one_code == 1 and str(unit_of(hm, ArgmaxUnit).y.type) == 'ufixed<2,2,RND_CONV,SAT>'
