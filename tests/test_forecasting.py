"""Forecasting (issue 15): the baselines every printed RMSE stands next to, the readout and skip
options of ts_transformer (Keras == predict on random and edge inputs, GHDL for one size), and
training on any CSV with clear errors for bad files."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import grid_inputs
from vhdlspartan.datasets import LinearAR, against_baselines, baselines, persistence, seasonal_naive, windows
from vhdlspartan.errors import UnsupportedError
from vhdlspartan.models import fit_linear_skip, hls_config, ts_transformer


def write_csv(path, columns, rows):
    path.write_text(','.join(columns) + '\n' + '\n'.join(','.join(str(v) for v in r) for r in rows) + '\n')
    return path


# --- baselines on series with known answers -------------------------------------------------------


def test_ramp_persistence_is_one_step_off_and_linear_is_exact(tmp_path):
    csv = write_csv(tmp_path / 'ramp.csv', ['v'], [[k] for k in range(200)])
    data = windows(path=csv, columns=['v'], target='v', window=5)
    step = 2 / 139  # one time step in the scaled units (the training split spans 0..139)
    assert np.allclose(persistence(data) + step, data.y_test.reshape(-1))
    base = baselines(data)
    assert base['persistence'] == pytest.approx(step, rel=1e-9)
    assert base['linear'] < 1e-9  # the next value of a ramp is linear in the window
    assert np.allclose(LinearAR.fit(data).predict(data.x_val), data.y_val.reshape(-1))


def test_sine_seasonal_naive_is_exact_at_its_period(tmp_path):
    period = 24
    t = np.arange(600)
    csv = write_csv(tmp_path / 'sine.csv', ['v'], [[np.sin(2 * np.pi * k / period)] for k in t])
    data = windows(path=csv, columns=['v'], target='v', window=6)
    assert np.allclose(seasonal_naive(data, period), data.y_test.reshape(-1), atol=1e-9)
    assert baselines(data, period=period)['seasonal'] < 1e-9
    assert baselines(data, period=period - 5)['seasonal'] > 0.1  # the wrong period is not exact
    assert baselines(data)['persistence'] > 0.1  # and persistence is not
    with pytest.raises(UnsupportedError, match='seasonal naive: period 1000'):
        seasonal_naive(data, 1000)


def test_against_baselines_prints_ratios():
    line = against_baselines(0.12, {'persistence': 0.15, 'linear': 0.10})
    assert line == '0.1200 (persistence 0.1500: 0.80x; linear AR 0.1000: 1.20x)'


def test_shipped_series_baselines_match_the_measured_figures():
    assert baselines(windows('weather', 12)) == pytest.approx(
        {'persistence': 0.1575, 'seasonal': 0.2499, 'linear': 0.1497}, abs=5e-5)
    assert baselines(windows('electricity', 12))['linear'] == pytest.approx(0.0402, abs=5e-5)


# --- CSV errors -------------------------------------------------------------------------------------


def test_bad_csv_files_give_clear_errors(tmp_path):
    good = write_csv(tmp_path / 'ok.csv', ['a', 'b'], [[k, 2 * k] for k in range(50)])
    with pytest.raises(UnsupportedError, match=r"no column\(s\) \['c'\]; it has \['a', 'b'\]"):
        windows(path=good, columns=['a', 'c'], target='a')
    with pytest.raises(UnsupportedError, match=r"target 'c' must be one of the input columns \['a', 'b'\]"):
        windows(path=good, columns=['a', 'b'], target='c')
    bad = write_csv(tmp_path / 'bad.csv', ['a'], [[1], ['x'], [3]] + [[k] for k in range(40)])
    with pytest.raises(UnsupportedError, match=r"bad.csv: a value in columns \['a'\] is not a number"):
        windows(path=bad, columns=['a'], target='a', window=2)
    short = write_csv(tmp_path / 'short.csv', ['a'], [[k] for k in range(8)])
    with pytest.raises(UnsupportedError, match='8 rows give too few windows of 6'):
        windows(path=short, columns=['a'], target='a', window=6)
    with pytest.raises(UnsupportedError, match='does not exist'):
        windows(path=tmp_path / 'none.csv', columns=['a'], target='a')


# --- readout and skip options: Keras == predict == GHDL -------------------------------------------


def option_model(readout, skip, seed=0, window=6, features=2, d_model=8, bits=6):
    tf.keras.utils.set_random_seed(seed)
    model = ts_transformer(window, features, d_model, 1, 2 * d_model, 1, bits=bits, integer=2, readout=readout,
                           skip=skip, target=1, input_integer=1)  # fmt: skip
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights() and layer.trainable:
            ws = [rng.normal(size=w.shape) * 0.4 for w in layer.get_weights()]
            if type(layer).__name__ == 'QFoldedBatchNorm':
                ws[0], ws[3] = 1 + ws[0], np.abs(ws[3]) + 0.5
            layer.set_weights(ws)
    return model


def convert(model, tmp_path, lanes=2):
    import hls4ml

    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=hls_config(model, lanes=lanes),
                                                    backend='VHDLSpartan', output_dir=str(tmp_path / 'prj'))  # fmt: skip
    hm.compile()
    return hm


OPTIONS = [('pool', 'linear'), ('pool', 'last'), ('flatten', None), ('flatten', 'linear')]


@pytest.mark.parametrize('readout, skip', OPTIONS)
def test_options_keras_equals_predict(tmp_path, readout, skip):
    model = option_model(readout, skip)
    hm = convert(model, tmp_path)
    x = grid_inputs(hm, 300, seed=2)
    x[:4] = [[[-2.0, -2.0]] * 6, [[1.97, 1.97]] * 6, [[0.0, 0.0]] * 6, [[-2.0, 1.97]] * 6]  # the input range's edges
    assert np.array_equal(hm.predict(x).reshape(-1), model.predict(x, verbose=0).reshape(-1))


def test_skip_last_forecasts_the_change_from_the_last_value(tmp_path):
    """With the encoder's head at zero, skip='last' is persistence on the quantized input."""
    model = option_model('pool', 'last')
    head = model.get_layer('head')
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    x = np.random.default_rng(3).uniform(-1, 1, (50, 6, 2))
    q = np.round(x[:, -1, 1] * 2**4) / 2**4  # the input quantizer: 6 bits, 1 integer bit
    assert np.array_equal(model.predict(x, verbose=0).reshape(-1), q)
    assert not model.get_layer('skip').trainable


def test_fit_linear_skip_starts_at_least_squares(tmp_path):
    data = windows('electricity', 6, limit=400)
    model = ts_transformer(6, 1, 8, 1, 16, 1, bits=8, integer=2, input_integer=1, skip='linear')
    head = model.get_layer('head')
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    fit_linear_skip(model, data.x_train, data.y_train)
    rmse = data.scaled_rmse(model.predict(data.x_val, verbose=0), 'val')
    base = baselines(data, 'val')
    # the linear AR model on the hardware's grids (8-bit weights, inputs and forecast): within 15%
    assert rmse < 0.6 * base['persistence'] and rmse < 1.15 * base['linear'], (rmse, base)


@pytest.mark.slow
def test_options_ghdl_equals_predict(tmp_path):
    model = option_model('flatten', 'linear', window=4, d_model=8)
    hm = convert(model, tmp_path)
    x = grid_inputs(hm, 12, seed=4)
    x[0], x[1] = -2.0, 1.97
    sim = hm.build(sim=True, x=x)['sim']
    assert sim['bit_exact'] and sim['cycles'] == sim['cycles_expected']


# --- training on a CSV: train_forecaster and the tune YAML ---------------------------------------


def small_csv(tmp_path):
    t = np.arange(260)
    rows = [[round(np.sin(t_ / 9) + 0.1 * np.cos(t_ / 3), 4), round(np.cos(t_ / 9), 4)] for t_ in t]
    return write_csv(tmp_path / 'small.csv', ['load', 'temp'], rows)


def test_train_forecaster_takes_a_csv(tmp_path, capsys):
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / 'examples'))
    from train_forecaster import parse, train

    out = tmp_path / 'm.h5'
    model, data, rmse = train(parse(['--csv', str(small_csv(tmp_path)), '--columns', 'load,temp', '--target', 'load',
                                     '--window', '6', '--d-model', '8', '--epochs', '3', '--out', str(out)]))  # fmt: skip
    assert out.exists() and data.columns == ('load', 'temp') and model.input_shape == (None, 6, 2)
    printed = capsys.readouterr().out
    assert f'test RMSE {rmse:.4f} (persistence' in printed and 'linear AR' in printed
    for argv, message in ((['--columns', 'load,nope', '--target', 'load'], r"no column\(s\) \['nope'\]"),
                          (['--columns', 'load'], 'give --target')):  # fmt: skip
        with pytest.raises(UnsupportedError, match=message):
            train(parse(['--csv', str(small_csv(tmp_path)), *argv, '--window', '6', '--out', str(out)]))


def test_tune_yaml_takes_a_csv(tmp_path):
    import yaml

    from vhdlspartan.resource_model.tuning import config as tune_config

    cfg = {'builder': {'d_model': 8, 'num_heads': 1, 'ffn_dim': 16, 'num_layers': 1, 'skip': 'linear',
                       'readout': 'flatten', 'input_integer': 1, 'integer': 2},
           'train': {'epochs': 2}, 'output_dir': str(tmp_path / 'tune'),
           'data': {'path': str(small_csv(tmp_path)), 'columns': ['load', 'temp'], 'target': 'load', 'window': 6}}
    path = tmp_path / 'tune.yml'
    path.write_text(yaml.safe_dump(cfg))
    model, data = tune_config.prepare(tune_config.load(path))
    assert model.input_shape == (None, 6, 2) and data.target == 'load'
    assert data.scaled_rmse(model.predict(data.x_val, verbose=0), 'val') < baselines(data, 'val')['persistence']
    cfg['data']['columns'] = ['load', 'humidity']
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(UnsupportedError, match=r"no column\(s\) \['humidity'\]"):
        tune_config.prepare(tune_config.load(path))


def test_skip_integer_holds_the_least_squares_fit():
    """The skip's weights get the fewest integer bits that hold the series' LS fit: weather's (up to
    0.78) need 0, electricity's (up to 2.1) 2; skip='last' keeps the default for its weight 1."""
    from vhdlspartan.errors import UnsupportedError
    from vhdlspartan.models import SKIP_INTEGER
    from vhdlspartan.training import skip_integer

    assert skip_integer(windows('weather', 6)) == 0
    assert skip_integer(windows('electricity', 12)) == 2
    assert skip_integer(windows('weather', 6), 'last') == SKIP_INTEGER
    model = ts_transformer(6, 1, 8, 1, 16, 1, bits=8, integer=2, input_integer=1, skip='linear', skip_integer=0)
    assert model.get_layer('skip').kernel_quantizer_internal.integer == 0
    with pytest.raises(UnsupportedError, match="skip='last' needs skip_integer >= 1"):
        ts_transformer(6, 1, 8, 1, 16, 1, skip='last', skip_integer=0)
