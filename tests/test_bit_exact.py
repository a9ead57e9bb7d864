"""The three views agree bit for bit: Keras, the NumPy emulation (predict), the GHDL simulation."""

import numpy as np
import pytest

from conftest import convert, grid_inputs


@pytest.mark.parametrize('name', ['mlp', 'timeseries'])
def test_predict_equals_qkeras(models, name, tmp_path):
    model = models[name]
    hm = convert(model, tmp_path)
    x = grid_inputs(hm, 500)
    y_keras = model.predict(x, verbose=0).reshape(len(x), -1)
    y_hls = hm.predict(x).reshape(len(x), -1)
    np.testing.assert_array_equal(y_hls, y_keras)


def test_predict_on_off_grid_inputs_equals_qkeras(models, tmp_path):
    """Real-valued inputs: the input cast is the first QActivation's rounding."""
    model = models['mlp']
    hm = convert(model, tmp_path)
    x = np.random.default_rng(3).normal(size=(400, 10)) * 3
    np.testing.assert_array_equal(hm.predict(x), model.predict(x, verbose=0))


@pytest.mark.parametrize(
    'name, lanes, dsp_lanes',
    [('mlp', 1, 1), ('mlp', 3, 1), ('timeseries', 1, 0), ('timeseries', 4, 2)],
)
def test_ghdl_simulation_equals_predict(models, name, lanes, dsp_lanes, tmp_path):
    hm = convert(models[name], tmp_path, lanes=lanes, dsp_lanes=dsp_lanes)
    x = grid_inputs(hm, 200, seed=lanes)
    report = hm.build(sim=True, x=x)
    sim = report['sim']
    assert sim['samples'] == 200
    assert sim['mismatches'] == 0 and sim['bit_exact']
    np.testing.assert_array_equal(sim['outputs'], hm.predict(x).reshape(200, -1))
    # latency is the same for every input and exactly what the schedule says
    assert sim['cycles'] == sim['cycles_min'] == sim['cycles_expected'] == report['cycles_estimated']
    assert sim['analysis_messages'] == ''  # GHDL --std=08 analysis: no warnings


def test_more_lanes_fewer_cycles(models, tmp_path):
    one = convert(models['mlp'], tmp_path / 'a', lanes=1)._vhdlspartan_design.cycles()
    four = convert(models['mlp'], tmp_path / 'b', lanes=4)._vhdlspartan_design.cycles()
    assert four < one / 2


def test_trace_gives_per_layer_outputs(models, tmp_path):
    model = models['timeseries']
    hm = convert(model, tmp_path)
    x = grid_inputs(hm, 50)
    y, trace = hm.trace(x)
    np.testing.assert_array_equal(y, hm.predict(x))
    import tensorflow as tf

    for name in ('embed_relu', 'ffn_relu', 'residual'):
        keras_out = tf.keras.Model(model.input, model.get_layer(name).output).predict(x, verbose=0)
        np.testing.assert_array_equal(trace[name], keras_out.reshape(50, -1))


def test_dense_and_its_activation_run_as_one_unit(models, tmp_path):
    """A Dense whose result only its activation reads writes the activation's output itself:
    no vs_map pass and no buffer between them (the GHDL tests above check the bits)."""
    from vhdlspartan.vhdl_backend.units.activation import ActivationUnit
    from vhdlspartan.vhdl_backend.units.dense import EngineJob

    design = convert(models['timeseries'], tmp_path)._vhdlspartan_design
    fused = [u for u in design.units if isinstance(u, EngineJob) and u.post is not None]
    assert {u.post.layer_name for u in fused} >= {'embed_relu', 'ffn_relu'}
    assert not any(isinstance(b, ActivationUnit) and isinstance(a, EngineJob) and b.x is a.y
                   for a, b in zip(design.units, design.units[1:]))  # fmt: skip
    for u in fused:
        assert u.y is u.post.y and u.post.x not in design.all_buffers
        assert u.generics(design.engine)['POST'] == 1 and u.generics(design.engine)['POST_RELU'] == int(u.post.relu)
