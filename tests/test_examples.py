"""examples/check_design.py, the script the walkthrough uses to build a tuned config for real:
on a mixed-precision forecaster it reports predict == Keras, GHDL bit-exact at the schedule's
cycles and a Yosys synthesis that fits, and exits 0; on a config whose arithmetic differs from
the Keras model's it exits 1."""

import importlib.util
import re
from pathlib import Path

import pytest
import tensorflow as tf
import yaml

from vhdlspartan.datasets import windows
from vhdlspartan.models import hls_config, ts_transformer

EXAMPLES = Path(__file__).resolve().parents[1] / 'examples'


def _check_design():
    spec = importlib.util.spec_from_file_location('check_design', EXAMPLES / 'check_design.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config(tmp_path, model, hls):
    model_path = tmp_path / 'model.h5'
    model.save(model_path)
    project = {'OutputDir': str(tmp_path / 'prj'), 'ProjectName': 'forecaster', 'Backend': 'VHDLSpartan',
               'Part': 'xc7s15', 'ClockPeriod': 10, 'IOType': 'io_parallel', 'HLSConfig': hls}  # fmt: skip
    path = tmp_path / 'hls4ml_config.yml'
    path.write_text(f'KerasModel: !keras_model {model_path}\n' + yaml.safe_dump(project, sort_keys=False))
    return path


@pytest.fixture(scope='module')
def forecaster():
    data = windows('weather', 6)
    tf.keras.utils.set_random_seed(0)
    bits = dict(input=6, embed=5, posenc=6, attention=4, norm=6, ffn=4, pool=6, head=8)
    model = ts_transformer(6, data.x_train.shape[2], 8, 1, 16, 1, bits=bits, norm='batch', integer=2)
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss='mse')
    model.fit(data.x_train, data.y_train, epochs=1, batch_size=64, verbose=0)
    return model


@pytest.mark.slow
def test_check_design_builds_a_forecaster_and_passes(tmp_path, forecaster, capsys):
    path = _config(tmp_path, forecaster, hls_config(forecaster, lanes=2, integer=2))
    assert _check_design().main([str(path), '--series', 'weather', '--window', '6', '--sim', '2']) == 0
    out = capsys.readouterr().out
    same, total = map(int, re.search(r'predict == Keras on (\d+)/(\d+) test windows', out).groups())
    assert same == total > 100
    cycles, schedule = map(int, re.search(r'bit-exact True \(0 mismatches\), (\d+) cycles \(schedule (\d+)\)', out).groups())
    assert cycles == schedule > 0
    assert 'total (synthesis)' in out and 'latches: 0; over the part: nothing' in out


def test_check_design_fails_when_the_config_departs_from_keras(tmp_path, forecaster, capsys):
    hls = hls_config(forecaster, lanes=2, integer=2)
    hls['LayerName']['head']['Precision']['result'] = 'fixed<4,1,TRN,WRAP>'  # not what the Keras head computes
    path = _config(tmp_path, forecaster, hls)
    assert _check_design().main([str(path), '--series', 'weather', '--window', '6', '--sim', '1', '--no-synth']) == 1
    same, total = map(int, re.search(r'predict == Keras on (\d+)/(\d+)', capsys.readouterr().out).groups())
    assert same < total
