"""Table and piecewise-linear activations: sigmoid, tanh, ELU (vs_table_map), LeakyReLU, PReLU,
hard sigmoid / tanh (vs_pwl); QKeras quantized_sigmoid / quantized_tanh bit-exact, float Keras
within stated tolerances, GHDL bit-exact with the emulation and its cycle formula."""

import hls4ml
import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu, quantized_sigmoid, quantized_tanh

from conftest import convert, grid_inputs, randomize
from vhdlspartan.errors import UnsupportedError

L = tf.keras.layers


def qd(units, bits=4, name=None, **kw):
    q = quantized_bits(bits, 0, alpha=1)
    return QDense(units, kernel_quantizer=q, bias_quantizer=q, name=name, **kw)


def qkeras_chain(h, tag=''):
    """Every QKeras form: hard sigmoid/tanh (QActivation and QDense activation), the real
    sigmoid/tanh tables (one on an exact Dense sum), symmetric variants."""
    h = QActivation(quantized_sigmoid(6), name=f'hsig{tag}')(h)
    h = qd(8, name=f'd1{tag}', activation=quantized_tanh(5))(h)
    h = qd(8, name=f'd2{tag}')(h)
    h = QActivation(quantized_tanh(6, use_real_tanh=True), name=f'rtanh{tag}')(h)
    h = qd(6, name=f'd3{tag}', activation=quantized_sigmoid(7, use_real_sigmoid=True, symmetric=True))(h)
    return QActivation(quantized_tanh(6, symmetric=True), name=f'htanh{tag}')(h)


def qkeras_model():
    x = tf.keras.Input((10,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    return randomize(tf.keras.Model(x, qkeras_chain(h)), seed=3)


def float_model(head=None):
    """Float Keras activations after float Dense layers (hls4ml's default types)."""
    x = tf.keras.Input((10,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    h = L.Dense(8, activation='tanh', name='d1')(h)
    h = L.Dense(8, name='d2')(h)
    h = L.Activation('sigmoid', name='sig')(h)
    h = L.Dense(8, name='d3')(h)
    h = L.LeakyReLU(0.1, name='leaky')(h)
    h = L.PReLU(name='prelu')(h)
    h = L.ELU(0.7, name='elu')(h)
    h = L.Activation('hard_sigmoid', name='hsig')(h)
    model = randomize(tf.keras.Model(x, h if head is None else head(h)), seed=4, scale=1.0)
    model.get_layer('prelu').set_weights([np.linspace(-0.5, 0.6, 8)])
    return model


@pytest.fixture(scope='module')
def qkeras_hm(tmp_path_factory):
    model = qkeras_model()
    return model, convert(model, tmp_path_factory.mktemp('act_q'))


@pytest.fixture(scope='module')
def float_hm(tmp_path_factory):
    model = float_model()
    return model, convert(model, tmp_path_factory.mktemp('act_f'))


def _units(hm):
    return {u.layer_name: u for u in hm._vhdlspartan_design.units}


def test_qkeras_activations_bit_exact(qkeras_hm):
    model, hm = qkeras_hm
    units = _units(hm)
    kinds = {name: type(units[name]).__name__ for name in ('hsig', 'd1_quantized_tanh', 'rtanh',
                                                          'd3_quantized_sigmoid', 'htanh')}  # fmt: skip
    assert kinds == {'hsig': 'PwlActivationUnit', 'd1_quantized_tanh': 'PwlActivationUnit', 'rtanh': 'TableActivationUnit',
                     'd3_quantized_sigmoid': 'TableActivationUnit', 'htanh': 'PwlActivationUnit'}  # fmt: skip
    assert units['rtanh'].exact and units['rtanh'].shift == 0  # indexed by the input code itself
    x = grid_inputs(hm, 400, seed=5)
    y_keras = model.predict(x, verbose=0)
    y = hm.predict(x)
    np.testing.assert_array_equal(y, y_keras.reshape(y.shape))
    assert len(np.unique(y)) > 10  # the outputs move (not all saturated)


@pytest.mark.parametrize('quantizer', [
    quantized_sigmoid(6), quantized_sigmoid(5, symmetric=True), quantized_tanh(6), quantized_tanh(4, symmetric=True),
    quantized_sigmoid(6, use_real_sigmoid=True), quantized_tanh(7, use_real_tanh=True),
    quantized_tanh(5, use_real_tanh=True, symmetric=True),
], ids=str)  # fmt: skip
def test_qkeras_quantizer_every_input_code(tmp_path, quantizer):
    """Each quantizer on all 256 codes of its input grid, edges included: QKeras == predict."""
    x = tf.keras.Input((256,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)  # fixed<8,3>: the design's input type (convert)
    model = tf.keras.Model(x, QActivation(quantizer, name='act')(h))
    hm = convert(model, tmp_path)
    codes = np.arange(-128, 128)[None, :] / 32.0
    np.testing.assert_array_equal(hm.predict(codes).reshape(-1), model.predict(codes, verbose=0).reshape(-1))
    unit = _units(hm)['act']
    if getattr(unit, 'exact', False):  # the table covers only the codes where the output moves
        assert -128 < unit.lo and unit.hi < 127 and unit.hi - unit.lo + 1 == len(unit.entries)


def _keras_of(model, name):
    if name == 'd1_tanh':
        return np.tanh
    layer = model.get_layer(name)
    return lambda v: layer(tf.constant(v, tf.float32)).numpy()


# max |hardware - Keras| per layer on the hardware's own input of the layer, for hls4ml's default
# types (result fixed<16,6> TRN: 2^-10) and TableSize 1024 (sigmoid: bins of 1/64 over [-8, 8),
# tanh and ELU: 1/128 over [-4, 4) and [-8, 0)): half a bin times the largest slope, plus the
# table_t (fixed<18,8>) and result rounding; LeakyReLU: alpha as param_t (hls4ml: ufixed<8,-3>,
# 0.0996) times |x| < 7; PReLU, hard sigmoid: the slope as param_t / slope_t and one output step.
FLOAT_TOLERANCE = {'d1_tanh': 6e-3, 'sig': 4e-3, 'leaky': 3e-3, 'prelu': 2e-3, 'elu': 5e-3, 'hsig': 2e-3}
PREVIOUS = {'d1_tanh': 'd1', 'sig': 'd2', 'leaky': 'd3', 'prelu': 'leaky', 'elu': 'prelu', 'hsig': 'elu'}


def test_float_activations_within_tolerance(float_hm):
    model, hm = float_hm
    x = grid_inputs(hm, 300, seed=6)
    _, per_layer = hm.trace(x)
    for name, tol in FLOAT_TOLERANCE.items():
        x_in = per_layer[PREVIOUS[name]]
        err = np.abs(per_layer[name] - _keras_of(model, name)(x_in))
        assert err.max() <= tol, f'{name}: max error {err.max():.2e} > {tol:.1e}'
        assert x_in.min() < 0 < x_in.max(), name  # both sides of every function are exercised
    units = _units(hm)
    assert units['elu'].passthrough and units['elu'].hi == -1  # the table holds the negative side only
    assert units['prelu'].per_element and units['leaky'].clamp is None and units['hsig'].clamp is not None


def test_table_size_and_table_precision_keys(tmp_path):
    model = float_model()
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['q_in']['Precision']['result'] = 'fixed<8,3,RND_CONV,SAT>'
    cfg['LayerName']['sig']['TableSize'] = 64
    cfg['LayerName']['sig']['Precision']['table'] = 'ufixed<8,1,RND>'
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'))  # fmt: skip
    hm.compile()
    sig = _units(hm)['sig']
    assert len(sig.entries) <= 64 and sig.shift == sig.x.type.frac - 2  # 64 bins over [-8, 8): index frac 2
    assert np.all(sig.entries % 8 == 0)  # on table_t's grid (7 frac bits) within the result's 10
    x = grid_inputs(hm, 200, seed=7)
    _, per_layer = hm.trace(x)
    err = np.abs(per_layer['sig'] - _keras_of(model, 'sig')(per_layer['d2'])).max()
    assert 0.01 < err <= 0.25 / 2 * 0.25 + 2**-8 + 2**-10  # half a bin of 1/4 times sigmoid's slope 1/4


def sim_model():
    """Every unit variant once, on narrow types (GHDL time grows with the design's width):
    LeakyReLU (constant slope), PReLU (slope ROM), ELU (table + pass), tanh and sigmoid (tables),
    Keras hard_sigmoid (clamp), then the QKeras chain (exact tables, SAT_SYM, QDense activations),
    on (time, features) input: the PReLU alphas repeat per time step, so its slope ROM has one
    word per channel and the unit's counter wraps within the tensor."""
    x = tf.keras.Input((2, 4), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    h = L.LeakyReLU(0.1, name='leaky')(h)
    h = L.ReLU(max_value=0.75, negative_slope=0.125, name='relu_opts')(h)
    h = L.PReLU(name='prelu')(h)
    h = L.ELU(0.7, name='elu')(h)
    h = L.Activation('tanh', name='tanh')(h)
    h = L.Activation('sigmoid', name='sig')(h)
    h = L.Activation('hard_sigmoid', name='hsig')(h)
    h = qkeras_chain(QActivation(quantized_bits(8, 2), name='q_mid')(h), '_q')
    h = L.Activation('tanh', name='tanh_u')(QActivation(quantized_relu(6, 2), name='relu_q')(h))  # unsigned input
    model = randomize(tf.keras.Model(x, h), seed=9)
    model.get_layer('prelu').set_weights([np.tile(np.linspace(-0.5, 0.6, 4), (2, 1))])
    return model


@pytest.mark.slow
def test_activations_ghdl_bit_exact_and_synthesis(tmp_path):
    """GHDL == predict on 300 grid inputs, cycles == the formula; synthesized without latches
    within the timing budget (conftest), DSPs as the estimate's rule says."""
    hm = convert(sim_model(), tmp_path)
    design = hm._vhdlspartan_design
    kinds = [type(u).__name__ for u in design.units]
    assert kinds.count('TableActivationUnit') == 6 and kinds.count('PwlActivationUnit') == 7
    assert not next(u for u in design.units if u.layer_name == 'tanh_u').x.type.signed
    prelu = next(u for u in design.units if u.layer_name == 'prelu')
    assert prelu.a_codes.size == 4 and prelu.x.depth == 8  # one slope per channel, read twice
    x = grid_inputs(hm, 300, seed=8)
    report = hm.build(sim=True, synth=True, x=x)
    sim = report['sim']
    assert sim['bit_exact'] and sim['mismatches'] == 0 and sim['samples'] == 300, sim['log']
    assert sim['cycles'] == sim['cycles_min'] == design.cycles()  # every sample, the schedule's formula
    assert not sim['analysis_messages']  # GHDL analyses every file without a warning
    syn = report['synth']
    assert syn['latches'] == 0
    assert syn['DSP'] == syn['estimate']['DSP']  # the DSP rule of vs_pwl's products


def test_generated_vhdl_is_deterministic(tmp_path):
    texts = []
    for k in range(2):
        hm = convert(sim_model(), tmp_path / str(k))
        hm.write()
        vhdl = sorted((tmp_path / str(k) / 'prj' / 'vhdl').glob('*.vhd'))
        texts.append({p.name: p.read_text() for p in vhdl})
    assert texts[0] == texts[1]
    assert any('vs_table_map' in t for t in texts[0].values()) and any('vs_pwl' in t for t in texts[0].values())
    assert sum('_tab_rom' in name or '_alpha_rom' in name for name in texts[0]) == 7  # 6 tables, 1 slope ROM


def test_keras_relu_options(tmp_path):
    """hls4ml 1.3 drops ReLU's max_value and negative_slope (a plain ReLU results); here they are
    followed (vs_pwl), and a plain ReLU stays the fusable vs_map unit."""
    x = tf.keras.Input((10,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    a = L.ReLU(max_value=1.5, negative_slope=0.2, name='relu_opts')(h)
    model = tf.keras.Model(x, L.ReLU(name='relu_plain')(L.Dense(6, name='d')(a)))
    hm = convert(randomize(model, seed=10), tmp_path)
    units = _units(hm)
    assert type(units['relu_opts']).__name__ == 'PwlActivationUnit' and units['relu_opts'].clamp is not None
    assert type(units['d']).__name__ == 'DenseUnit' and units['d'].post is not None  # plain ReLU fused as before
    xs = grid_inputs(hm, 300, seed=11)
    _, per_layer = hm.trace(xs)
    want = np.clip(np.where(xs < 0, 0.2 * xs, xs), None, 1.5)
    assert np.abs(per_layer['relu_opts'] - want).max() <= 4 * 0.2 * 2**-16 + 2**-10  # slope at 16 bits, result TRN
    assert per_layer['relu_opts'].max() == 1.5 and per_layer['relu_opts'].min() < -0.5


def test_hard_sigmoid_on_a_wide_float_sum(tmp_path):
    """Two float Dense layers make a 40-bit sum: the hard sigmoid casts it to fixed<16,4> first
    (so its shift fits a VHDL integer), within 1e-3 of Keras."""
    x = tf.keras.Input((6,), name='x')
    h = L.Dense(5, name='d2')(L.Dense(5, name='d1')(QActivation(quantized_bits(8, 2), name='q_in')(x)))
    model = randomize(tf.keras.Model(x, L.Activation('hard_sigmoid', name='hs')(h)), seed=3)
    hm = convert(model, tmp_path)
    hs = _units(hm)['hs']
    assert hs.x.type.width == 16 and hs.x.type.frac == 12
    xs = grid_inputs(hm, 300, seed=12)
    _, per_layer = hm.trace(xs)
    assert per_layer['d2'].max() > 2.5 and per_layer['d2'].min() < -2.5  # both clipped ends are reached
    assert np.abs(per_layer['hs'] - np.clip(0.2 * per_layer['d2'] + 0.5, 0, 1)).max() <= 2**-10 + 2**-12


def test_leaky_and_prelu_on_wide_float_sums(tmp_path):
    """x * slope of a float Dense's sum would pass 48 bits: the input is cast first to two fraction
    bits beyond the result's (fused into the Dense), then within the alpha's own quantization."""
    x = tf.keras.Input((6,), name='x')
    h = L.Dense(5, name='d2')(L.Dense(5, name='d1')(QActivation(quantized_bits(8, 2), name='q_in')(x)))
    h = L.Dense(5, name='d3')(L.LeakyReLU(0.1, name='leaky')(h))
    model = randomize(tf.keras.Model(x, L.PReLU(name='prelu')(h)), seed=3)
    model.get_layer('prelu').set_weights([np.linspace(-0.4, 0.4, 5)])
    hm = convert(model, tmp_path)
    units = _units(hm)
    assert units['d2'].post is not None and units['d3'].post is not None  # the casts, fused
    assert all(units[n].m_width <= 48 and units[n].x.type.frac == 12 for n in ('leaky', 'prelu'))
    xs = grid_inputs(hm, 300, seed=13)
    _, per_layer = hm.trace(xs)
    for name, prev, tol in (('leaky', 'd2', 4e-4 * 16 + 2**-10), ('prelu', 'd3', 2e-3)):
        x_in = per_layer[prev]
        err = np.abs(per_layer[name] - _keras_of(model, name)(x_in)).max()
        assert err <= tol and x_in.min() < 0, (name, err)


def test_relu_threshold_refused(tmp_path):
    _expect(tmp_path, r"'act' \(ReLU\): threshold=0.5 is not supported; supported: threshold 0",
            _one(L.ReLU(threshold=0.5, name='act')))  # fmt: skip


def _expect(tmp_path, match, model, cfg_edit=None):
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    if cfg_edit:
        cfg_edit(cfg)
    with pytest.raises(UnsupportedError, match=match):
        hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                        output_dir=str(tmp_path / 'prj'))  # fmt: skip
        hm.write()
    assert not (tmp_path / 'prj').exists()


def _one(layer, quantized_input=True):
    x = tf.keras.Input((4,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x) if quantized_input else L.Dense(4, name='d')(x)
    return tf.keras.Model(x, layer(h))


def test_bad_table_size(tmp_path):
    def edit(cfg):
        cfg['LayerName']['act']['TableSize'] = 1000
    _expect(tmp_path, r"'act' \(Activation\): TableSize 1000 is not supported; use a power of 2",
            _one(L.Activation('sigmoid', name='act')), edit)  # fmt: skip


def test_exact_table_too_large(tmp_path):
    def wide(h):  # an exact QDense sum with 10 fraction bits: tanh moves over more than 4096 codes
        return QActivation(quantized_tanh(8, use_real_tanh=True), name='act')(qd(4, bits=6, name='dq')(h))

    _expect(tmp_path, r"'act' \(Activation\): the table would need \d+ entries \(input fixed<\d+,\d+.*more than 4096; quantize",
            _one(wide))  # fmt: skip
    _expect(tmp_path, r"'act' \(Activation\): input fixed<35,15,TRN,WRAP> has \d+ codes; a QKeras quantized_tanh table",
            _one(QActivation(quantized_tanh(8, use_real_tanh=True), name='act'), quantized_input=False))  # fmt: skip


def _deep_table_model():  # a 12-bit input: the exact tanh table has 3,624 entries (12 address bits)
    x = tf.keras.Input((4,), name='x')
    h = QActivation(quantized_bits(12, 2), name='q_in')(x)
    return tf.keras.Model(x, QActivation(quantized_tanh(10, use_real_tanh=True), name='act')(h))


def test_deep_table_goes_to_block_ram(tmp_path):
    """A ROM in LUTs with 11+ address bits misses the timing budget (7 LUT levels measured for this
    one): 'auto' puts it in block RAM, an explicit lutram is refused."""
    hm = convert(_deep_table_model(), tmp_path, input_precision='fixed<12,3,RND_CONV,SAT>')
    unit = _units(hm)['act']
    assert len(unit.entries) > 2048 and unit.table_storage == 'bram'

    def edit(cfg):
        cfg['LayerName']['act']['Storage'] = {'weight': 'lutram'}
    _expect(tmp_path / 'lut', r"'act' \(Activation\): a table of \d+ entries in LUTs misses the timing budget",
            _deep_table_model(), edit)  # fmt: skip


def test_stochastic_rounding_refused(tmp_path):
    _expect(tmp_path, r"'act' \(Activation\): quantized_sigmoid with use_stochastic_rounding is not supported",
            _one(QActivation(quantized_sigmoid(6, use_real_sigmoid=True, use_stochastic_rounding=True), name='act')))


def test_thresholded_relu_refused(tmp_path):
    _expect(tmp_path, r"'act' \(ParametrizedActivation\): activation 'thresholdedrelu' is not supported; supported: \('relu'",
            _one(L.ThresholdedReLU(0.5, name='act')))  # fmt: skip


def test_changed_internal_sigmoid_refused(tmp_path):
    from qkeras import quantizers

    quantizers.set_internal_sigmoid('smooth')
    try:
        _expect(tmp_path, r"'act' \(HardActivation\): quantized_sigmoid follows QKeras' internal sigmoid, which is not",
                _one(QActivation(quantized_sigmoid(6), name='act')))  # fmt: skip
    finally:
        quantizers.set_internal_sigmoid('hard')
