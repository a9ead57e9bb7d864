"""hls4ml's own Vivado C++ emulation as an independent reference, where it equals QKeras."""

import shutil

import hls4ml
import numpy as np
import pytest

from conftest import convert, grid_inputs, input_name, mlp_model


@pytest.mark.slow
@pytest.mark.skipif(shutil.which('g++') is None, reason='hls4ml Vivado emulation needs g++')
@pytest.mark.parametrize('final_relu', [True, False])
def test_predict_equals_hls4ml_vivado_emulation(tmp_path, final_relu):
    model = mlp_model(final_relu)
    hm = convert(model, tmp_path / 'vs')
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='Vivado')
    cfg['LayerName'][input_name(model)]['Precision']['result'] = 'fixed<8,3,RND_CONV,SAT>'
    viv = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='Vivado',
                                                     output_dir=str(tmp_path / 'viv'), io_type='io_parallel')  # fmt: skip
    viv.compile()
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
