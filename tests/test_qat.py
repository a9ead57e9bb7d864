"""Quantization-aware training of the integer Transformer on real data (the electricity series):
a few epochs lower the loss, and the trained model still converts and simulates bit-exactly."""

import hls4ml
import numpy as np
import tensorflow as tf

from vhdlspartan.datasets import windows
from vhdlspartan.models import hls_config, ts_transformer


def test_qat_lowers_loss_and_stays_bit_exact(tmp_path):
    w = windows('electricity', 12, split=(0.8, 0.0, 0.2))  # the first 80% to train on, the rest to test
    x_train, y_train, x_test, y_test = w.x_train, w.y_train, w.x_test, w.y_test
    x_train, y_train, x_test, y_test = x_train[:3000], y_train[:3000], x_test[:500], y_test[:500]
    tf.keras.utils.set_random_seed(0)
    model = ts_transformer(12, 1, 8, 1, 16, 1, bits=8, norm='layer', integer=2)
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss='mse')
    before = model.evaluate(x_test, y_test, verbose=0)
    model.fit(x_train, y_train, epochs=4, batch_size=64, verbose=0)
    after = model.evaluate(x_test, y_test, verbose=0)
    assert after < 0.5 * before, (before, after)

    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=hls_config(model, lanes=4, integer=2),
                                                    backend='VHDLSpartan', output_dir=str(tmp_path / 'prj'),
                                                    part='xc7s15ftgb196-2')  # fmt: skip
    hm.compile()
    y_keras = model.predict(x_test, verbose=0).reshape(-1)
    np.testing.assert_array_equal(hm.predict(x_test).reshape(-1), y_keras)  # real (off-grid) inputs
    assert np.mean((y_keras - y_test[:, 0]) ** 2) < 0.5 * before
    sim = hm.build(sim=True, x=x_test[:20])['sim']
    assert sim['bit_exact'] and sim['mismatches'] == 0 and sim['samples'] == 20
