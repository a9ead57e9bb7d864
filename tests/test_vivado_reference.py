"""hls4ml's own Vivado C++ emulation as an independent reference, where it equals QKeras."""

import shutil

import hls4ml
import numpy as np
import pytest

from conftest import convert, grid_inputs, input_name, mlp_model


def _vivado(model, out_dir, input_precision='fixed<8,3,RND_CONV,SAT>'):
    """hls4ml's own Vivado backend, compiled (g++), its input cast as convert() casts ours."""
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='Vivado')
    cfg['LayerName'][input_name(model)]['Precision']['result'] = input_precision
    viv = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='Vivado', output_dir=str(out_dir),
                                                     io_type='io_parallel')  # fmt: skip
    viv.compile()
    return viv


@pytest.mark.slow
@pytest.mark.skipif(shutil.which('g++') is None, reason='hls4ml Vivado emulation needs g++')
@pytest.mark.parametrize('final_relu', [True, False])
def test_predict_equals_hls4ml_vivado_emulation(tmp_path, final_relu):
    model = mlp_model(final_relu)
    hm = convert(model, tmp_path / 'vs')
    viv = _vivado(model, tmp_path / 'viv')
    x = np.ascontiguousarray(grid_inputs(hm, 300))
    y_viv = viv.predict(x).reshape(len(x), -1)
    y_keras = model.predict(x, verbose=0).reshape(len(x), -1)
    y_ours = hm.predict(x).reshape(len(x), -1)
    agree = np.all(y_viv == y_keras, axis=1)
    if final_relu:
        assert agree.all(), 'with a final quantized_relu the reference agrees with QKeras everywhere'
    else:
        assert agree.sum() >= 20, 'it drops the final QActivation, but still agrees on a share of inputs'
    np.testing.assert_array_equal(y_ours[agree], y_viv[agree])
    np.testing.assert_array_equal(y_ours, y_keras)  # and where Vivado differs, we follow QKeras



@pytest.mark.slow
@pytest.mark.skipif(shutil.which('g++') is None, reason='hls4ml Vivado emulation needs g++')
@pytest.mark.parametrize('kind', ['conv1d', 'po2_ternary_binary'])
def test_new_layers_equal_hls4ml_vivado_emulation(tmp_path, kind):
    """The issue-16 layers against hls4ml's C++ where it computes what QKeras computes: a strided
    QConv1D network, and power-of-2 / ternary / binary weights (each ending in a quantized_relu
    Dense, which hls4ml's emulation keeps)."""
    from qkeras import QDense, quantized_bits, quantized_relu
    from test_conv1d import conv_model
    from test_quantizers import quantizer_mlp

    import tensorflow as tf

    base = conv_model(kernel=4, stride=2) if kind == 'conv1d' else quantizer_mlp()
    head = QDense(3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
                  activation=quantized_relu(10, 4), name='head')  # fmt: skip
    model = tf.keras.Model(base.input, head(base.layers[-2].output))
    model.get_layer('head').set_weights([np.random.default_rng(9).normal(size=w.shape) * 0.5
                                         for w in model.get_layer('head').get_weights()])  # fmt: skip
    hm = convert(model, tmp_path / 'vs', lanes=2)
    viv = _vivado(model, tmp_path / 'viv')
    x = np.ascontiguousarray(grid_inputs(hm, 300, seed=4))
    y_viv = viv.predict(x).reshape(len(x), -1)
    y_keras = model.predict(x, verbose=0).reshape(len(x), -1)
    y_ours = hm.predict(x).reshape(len(x), -1)
    np.testing.assert_array_equal(y_ours, y_keras)
    agree = np.all(y_viv == y_keras, axis=1)
    # the Conv1D network agrees everywhere (300 of 300 measured); with po2 weights hls4ml sizes its sums
    # from the default precision (the truncation units/weights.py avoids): 54% measured
    assert agree.mean() >= (1.0 if kind == 'conv1d' else 0.3), f'hls4ml agrees with QKeras on {agree.mean():.0%}'
    print(f'{kind}: hls4ml C++ == QKeras on {agree.mean():.1%} of {len(x)} inputs')
    np.testing.assert_array_equal(y_ours[agree], y_viv[agree])
