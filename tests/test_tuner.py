"""The resource-aware tuner: per-layer bits rebuild, search that fits a tight budget (checked by
the resource model and by Yosys), a clear error for an impossible budget, a study that resumes
after an interruption, YAML validation, and the no-training hls4ml pass."""

import math
import os
import time
from dataclasses import replace

import hls4ml
import numpy as np
import optuna
import pytest
import tensorflow as tf
import yaml

from vhdlspartan.datasets import windows
from vhdlspartan.errors import UnsupportedError
from vhdlspartan.models import ts_transformer
from vhdlspartan.resource_model.tuning import config as tune_config
from vhdlspartan.resource_model.tuning import tuner
from vhdlspartan.resource_model.tuning.bits import quantized_layers, with_bits
from vhdlspartan.resource_model.tuning.tuner import TuneError, TuneSpace, tune

SPACE = TuneSpace(bits=(4, 6, 8), lanes=(1, 2, 4), dsp_share=(1.0, 0.0))
# the tests that are not about integer bits keep them: the sensitivity tries 3x fewer models
KEEP = dict(drop_integer=(0,))


@pytest.fixture(scope='module')
def trained():
    data = windows('electricity', 6, limit=600)
    tf.keras.utils.set_random_seed(0)
    model = ts_transformer(6, 1, 8, 1, 16, 1, bits=8, norm='batch', integer=2)
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss='mse')
    model.fit(data.x_train, data.y_train, epochs=2, batch_size=64, verbose=0)
    return model, data


def _data(data):
    return data.x_train, data.y_train, data.x_val[:150], data.y_val[:150]


def test_with_bits_keeps_weights_and_changes_every_quantizer(trained):
    model, data = trained
    x = data.x_val[:64]
    np.testing.assert_array_equal(with_bits(model, {}).predict(x, verbose=0), model.predict(x, verbose=0))
    four = with_bits(model, {name: 4 for name in quantized_layers(model)})
    assert set(quantized_layers(four).values()) == {4}
    assert four.get_layer('att0').get_config()['table_size'] < model.get_layer('att0').get_config()['table_size']
    assert not np.array_equal(four.predict(x, verbose=0), model.predict(x, verbose=0))
    ffn = with_bits(model, {'ffn0_up': 5})
    assert quantized_layers(ffn)['ffn0_up'] == 5 and quantized_layers(ffn)['ffn0_down'] == 8
    with pytest.raises(UnsupportedError, match=r"layers \['nope'\] have no quantizers.*quantized layers"):
        with_bits(model, {'nope': 4})
    with pytest.raises(UnsupportedError, match='1 bits is outside'):
        with_bits(model, {'head': 1})


def test_with_bits_drops_integer_bits_of_activation_types_only(trained):
    model, data = trained
    layers = quantized_layers(model)
    low = with_bits(model, dict.fromkeys(layers, 4), dict.fromkeys(layers, 2))
    keep = with_bits(model, dict.fromkeys(layers, 4))
    assert (low.get_layer('q_in').quantizer.integer, keep.get_layer('q_in').quantizer.integer) == (0, 2)
    att, att_keep = low.get_layer('att0').get_config(), keep.get_layer('att0').get_config()
    assert {k: att[k] for k in ('input_integer', 'proj_integer', 'score_integer', 'context_integer')} == dict.fromkeys(
        ('input_integer', 'proj_integer', 'score_integer', 'context_integer'), 0)
    assert att['table_size'] != att_keep['table_size']  # the exp table follows the score type's new scale
    norm = low.get_layer('att0_norm').get_config()
    assert (norm['input_integer'], norm['output_integer'], norm['scale_integer'], norm['shift_integer']) == (0, 0, 2, 2)
    assert low.get_layer('posenc').get_config()['pe_integer'] == 0  # tables and weights keep theirs
    assert low.get_layer('embed').kernel_quantizer_internal.integer == 0
    # a drop larger than the integer bits stops at 0; drops of layers at their own width rebuild them too
    assert with_bits(model, {}, {'q_in': 5}).get_layer('q_in').quantizer.integer == 0
    with pytest.raises(UnsupportedError, match="integer bits to drop must be an integer >= 0, not -1"):
        with_bits(model, {}, {'q_in': -1})


def test_sensitivity_keeps_the_integer_bits_that_lose_least(trained, capsys):
    model, data = trained
    groups = {g: layers for g, layers in tuner.default_groups(model).items() if g in ('input', 'attention', 'head')}
    x, y = data.x_val[:150], data.y_val[:150]
    base, table, drops = tuner.sensitivity(model, groups, (4,), x, y, drop_integer=(0, 2), progress=True)
    err = capsys.readouterr().err
    assert 'sensitivity' in err and '6/6' in err  # its progress bar: 3 groups x 1 width x 2 integer drops
    base0, table0, drops0 = tuner.sensitivity(model, groups, (4,), x, y)
    assert base == base0 and all(k == 0 for g in groups for k in drops0[g].values())
    for g, layers in groups.items():
        assert table[g][4] <= table0[g][4]
        m = with_bits(model, dict.fromkeys(layers, 4), dict.fromkeys(layers, drops[g][4]))
        assert math.isclose(table[g][4], tuner.mse(y, m.predict(x, verbose=0)) - base, rel_tol=1e-9, abs_tol=1e-12)
    # at 4 bits, 2 integer bits above the sign leave one fraction bit: the input does better without them
    assert drops['input'][4] == 2 and table['input'][4] < table0['input'][4]
    groups = tuner.default_groups(model)
    drops = {g: drops.get(g, {4: 0}) for g in groups}
    hw = tuner.HardwareModel(model, groups, 'xc7s15')
    four = tuner.Candidate(dict.fromkeys(groups, 4), 1, 1, 'auto')
    hw.cost(four)  # before the sensitivity (the budget check): nothing dropped
    hw.drop = drops
    assert hw.keras_model(four.bits).get_layer('q_in').quantizer.integer == 0
    hw.cost(four)
    assert len(hw._cache) == 2  # the cost of the design with the drops, not the cached one without


def _budget_margin(model, part='xc7s15'):
    """A margin that rules out the uniform 8-bit design at every lane count but not the 4-bit one."""
    hw = tuner.HardwareModel(model, tuner.default_groups(model), part)
    groups = list(hw.groups)
    util = {b: max(hw.cost(tuner.Candidate(dict.fromkeys(groups, b), 1, 0, 'auto')).utilization.values())
            for b in (4, 8)}  # fmt: skip
    assert util[4] < util[8]
    return 1 - (util[4] + util[8]) / 2


@pytest.mark.slow
@pytest.mark.parametrize('synth', [False, pytest.param(True, marks=pytest.mark.long)])  # Yosys: make test-long
def test_tuner_fits_a_tight_budget_by_estimate_and_by_synthesis(trained, tmp_path, synth):
    model, data = trained
    margin = _budget_margin(model)
    space = replace(SPACE, drop_integer=(0, 2))
    result = tune(model, _data(data), part='xc7s15', space=space, margin=margin, trials=10, finetune_top=2,
                  finetune_epochs=1, out_dir=tmp_path / 'tune', progress=False)  # fmt: skip
    limit = 1 - margin
    assert result.cost.fits and max(result.cost.utilization.values()) <= limit
    assert any(b < 8 for b in result.bits.values())  # uniform 8 bits cannot fit this budget
    # the integer bits the sensitivity chose for the chosen widths are in the tuned model
    assert result.integer_drop == {g: result.drop_table[g][b] for g, b in result.bits.items()}
    assert result.model.get_layer('q_in').quantizer.integer == max(0, 2 - result.integer_drop['input'])
    assert all(max(r['LUT'] / 8000, r['BRAM18'] / 20, r['DSP'] / 20, r['FF'] / 16000) <= limit + 1e-9
               for r in result.rows)  # fmt: skip
    assert result.front_lut and all(a['predicted_loss'] > b['predicted_loss']
                                    for a, b in zip(result.front_lut, result.front_lut[1:]))  # fmt: skip
    for key in ('config', 'model', 'trials', 'plot'):
        assert result.files[key].exists()
    # the chosen configuration converts, is bit-exact against the tuned Keras model, and Yosys agrees it fits
    hm = hls4ml.converters.convert_from_keras_model(result.model, hls_config=result.config, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'), part='xc7s15')  # fmt: skip
    hm.compile()
    x = data.x_test[:100]
    np.testing.assert_array_equal(hm.predict(x).reshape(-1), result.model.predict(x, verbose=0).reshape(-1))
    if not synth:  # the estimate's own agreement with Yosys: tests/test_resource_model.py
        return
    syn = hm.build(synth=True)['synth']
    capacity = {'LUT': 8000, 'FF': 16000, 'BRAM18': 20, 'DSP': 20}
    used = {r: syn[r] / capacity[r] for r in capacity}
    assert max(used.values()) <= limit * 1.05, (used, limit)  # resource model error allowance: 5% of the budget
    assert syn['latches'] == 0


def test_impossible_budget_names_the_binding_resource(trained, tmp_path):
    model, data = trained
    with pytest.raises(TuneError, match=r'no configuration fits xc7s15 with margin 99%: the smallest design '
                                        r'\(every group at 4 bits, 1 lane.*needs LUT \d+.*binding resource \w+') as e:
        tune(model, _data(data), part='xc7s15', space=SPACE, margin=0.99, trials=2, out_dir=tmp_path, progress=False)
    assert e.value.kind == 'budget'
    assert not (tmp_path / 'study.db').exists()  # nothing half-done


def test_study_resumes_after_interruption_without_losing_trials(trained, tmp_path, monkeypatch):
    model, data = trained
    space = replace(SPACE, **KEEP)
    kwargs = dict(part='xc7s15', space=space, finetune_top=1, finetune_epochs=0, out_dir=tmp_path, progress=False)
    tune(model, _data(data), trials=3, **kwargs)
    storage = f'sqlite:///{tmp_path / "study.db"}'
    first = {t.number: t.values for t in optuna.load_study(study_name='vhdlspartan-tune', storage=storage).trials}
    assert len(first) == 3

    calls = {'cost': 0, 'sensitivity': 0}
    real_cost, real_sens = tuner.HardwareModel.cost, tuner.sensitivity

    def interrupted_cost(self, cand):
        calls['cost'] += 1
        if calls['cost'] == 3:  # the budget check takes one call; the second new trial is interrupted
            raise KeyboardInterrupt
        return real_cost(self, cand)

    monkeypatch.setattr(tuner.HardwareModel, 'cost', interrupted_cost)
    with pytest.raises(KeyboardInterrupt):
        tune(model, _data(data), trials=8, **kwargs)
    monkeypatch.setattr(tuner.HardwareModel, 'cost', real_cost)
    monkeypatch.setattr(tuner, 'sensitivity', lambda *a, **k: calls.__setitem__('sensitivity', 1) or real_sens(*a, **k))
    study = optuna.load_study(study_name='vhdlspartan-tune', storage=storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 4 and all(first[t.number] == t.values for t in done if t.number in first)
    result = tune(model, _data(data), trials=6, **kwargs)
    study = optuna.load_study(study_name='vhdlspartan-tune', storage=storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 6 and calls['sensitivity'] == 0  # resumed: sensitivities came from the study
    assert len(result.rows) <= 6
    # the same run again where it wrote its outputs (make demo twice): finished again, from the same trials
    again = tune(model, _data(data), trials=6, **kwargs)
    assert again is not None and again.rows == result.rows and calls['sensitivity'] == 0


def _yaml(tmp_path, cfg):
    path = tmp_path / 'tune.yml'
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize('cfg, message', [
    ({'builder': {'d_model': 8}, 'data': {'series': 'electricity'}, 'trails': 3}, r"unknown key\(s\) \['trails'\]"),
    ({'data': {'series': 'electricity'}}, "exactly one of 'model'"),
    ({'builder': {}, 'model': 'm.h5', 'data': {}}, "exactly one of 'model'"),
    ({'builder': {}, 'data': {'series': 'electricity'}, 'margin': 1.5}, r'margin must be a fraction in \[0, 1\)'),
    ({'builder': {}, 'data': {'series': 'electricity'}, 'part': 'xc7k325t'}, "part 'xc7k325t' is not supported; known"),
    ({'builder': {}, 'data': {'series': 'electricity'}, 'search': {'storage': ['flash']}}, r"storage \['flash'\]"),
    ({'builder': {}, 'data': {'series': 'electricity'}, 'search': {'lanes': [0, 4]}}, 'candidate lanes'),
    ({'builder': {}, 'data': {'series': 'electricity'}, 'search': {'drop_integer': [0, -1]}},
     r'candidate drop_integer \(-1, 0\): use integers >= 0'),
    ({'builder': {}, 'data': {'series': 'electricity'}, 'finetune': {'topk': 2}}, r"finetune: unknown key\(s\) \['topk'\]"),
    ({'builder': {}, 'data': {'series': 'electricity'}, 'finetune': {'uniform': -1}},
     'finetune.uniform must be a non-negative integer'),
    ({'builder': {}, 'data': {'series': 'electricity'}, 'trials': 0}, 'trials must be a positive integer'),
    ({'builder': {}, 'data': {'series': 'electricity'}, 'clock_period': 0}, 'clock_period must be a positive number'),
    ({'model': 'missing.h5', 'data': {'series': 'electricity'}}, "model file 'missing.h5' does not exist"),
    ({'builder': {}, 'data': {'series': 'electricity'}, 'study': {'heartbeat': 0}},
     'study.heartbeat must be a whole number of seconds >= 1, not 0'),
    ({'builder': {}, 'data': {'series': 'electricity'}, 'study': {'storage': 'postgresql+psycopg2://u@db/tune'}},
     r'study storage postgresql\+psycopg2://u@db/tune: its database driver psycopg2 is not installed: pip install'),
])  # fmt: skip
def test_tune_yaml_is_validated(tmp_path, cfg, message):
    with pytest.raises(UnsupportedError, match=message):
        tune_config.load(_yaml(tmp_path, cfg))


def test_tune_cli_reports_a_bad_yaml_and_exits_2(tmp_path, capsys):
    from vhdlspartan.cli import main

    path = _yaml(tmp_path, {'builder': {}, 'data': {'series': 'nowhere'}, 'trials': 2})
    cfg = tune_config.load(path)  # valid keys; the series name is checked when data is read
    with pytest.raises(UnsupportedError, match="series 'nowhere' is not known; use one of"):
        tune_config.prepare(cfg)
    assert main(['tune', str(_yaml(tmp_path, {'data': {}, 'builder': {}, 'colour': 1}))]) == 2
    assert "unknown key(s) ['colour']" in capsys.readouterr().err


def _mlp(width):
    x = tf.keras.Input((16,))
    h = tf.keras.layers.Dense(width, activation='relu')(x)
    h = tf.keras.layers.Dense(width, activation='relu')(h)
    model = tf.keras.Model(x, tf.keras.layers.Dense(1)(h))
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=w.shape) * 0.3 for w in model.get_weights()])
    return model


def _convert(model, tmp_path, fit, part='xc7s6'):
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['Model'].update(Precision='fixed<10,4>', FitToPart=fit)
    for layer_cfg in cfg['LayerName'].values():
        layer_cfg.setdefault('Precision', {}).update({'weight': 'fixed<10,2>', 'bias': 'fixed<10,2>'})
    return hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                      output_dir=str(tmp_path), part=part)  # fmt: skip


def test_fit_to_part_pass_picks_lanes_and_narrows_weights(tmp_path):
    from vhdlspartan.resource_model.estimate import estimate

    model = _mlp(160)  # 10-bit weights of 28k parameters do not fit the xc7s6 at any lane count
    hm = _convert(model, tmp_path / 'a', {'margin': 0.05})
    result = hm.config.config['FitToPart']['result']
    est = estimate(hm, 'xc7s6')
    assert max(est.utilization[r] for r in tuner.CHECKED) <= 0.95 and est.cycles == result['cycles']
    assert result['weight_bits'] and all(4 <= b < 10 for b in result['weight_bits'].values())
    assert hm.config.config['HLSConfig']['Model']['Lanes'] == result['lanes'] >= 1
    hm.compile()
    y = hm.predict(np.random.default_rng(0).normal(size=(20, 16)))
    assert np.all(np.isfinite(y))
    small = _convert(_mlp(8), tmp_path / 'b', True)  # fits as it is: lanes only, weights untouched
    assert small.config.config['FitToPart']['result']['weight_bits'] == {}
    assert small.config.config['FitToPart']['result']['lanes'] == 8  # the fewest lanes at the fewest cycles


def test_fit_to_part_pass_refuses_an_impossible_part(tmp_path):
    with pytest.raises(UnsupportedError, match=r'FitToPart: nothing fits xc7s6 with margin 90%.*binding resource'):
        _convert(_mlp(160), tmp_path, {'margin': 0.9, 'min_weight_bits': 8})
    assert not os.path.exists(tmp_path / 'vhdl')


def test_softmax_dividers_are_a_tuning_knob(trained):
    """A candidate's softmax_dividers reach the hls4ml config (SoftmaxDividers at the attention
    layer) and the estimate: more dividers, fewer cycles and more LUTs; 0 keeps the default."""
    model, _ = trained
    hw = tuner.HardwareModel(model, tuner.default_groups(model), 'xc7s15')
    bits = dict.fromkeys(hw.groups, 8)
    default, more = (hw.cost(tuner.Candidate(bits, 4, 4, 'auto', n)) for n in (0, 6))
    assert more.cycles < default.cycles and more.totals['LUT'] > default.totals['LUT']
    assert hw.cost(tuner.Candidate(bits, 4, 4, 'auto', 4)).cycles == default.cycles  # default: min(lanes, 4)
    cfg = hw.hls_config(model, tuner.Candidate(bits, 4, 4, 'auto', 6))
    assert cfg['LayerName']['att0']['SoftmaxDividers'] == 6
    assert 'SoftmaxDividers' not in hw.hls_config(model, tuner.Candidate(bits, 4, 4, 'auto')).get('LayerName', {}).get('att0', {})
    with pytest.raises(TuneError, match=r'softmax_dividers \(-1,\).*integers >= 0'):
        TuneSpace(softmax_dividers=(-1,))


def test_tune_yaml_passes_finetune_uniform_to_tune(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(tune_config, 'prepare', lambda cfg: (None, _FakeWindows()))
    monkeypatch.setattr(tuner, 'tune', lambda *a, **k: seen.append((k['finetune_uniform'], k['clock_ns'])))
    base = {'builder': {}, 'data': {'series': 'electricity'}}
    tune_config.run(tune_config.load(_yaml(tmp_path, base)), progress=False)
    tune_config.run(tune_config.load(_yaml(tmp_path, {**base, 'finetune': {'uniform': 0}, 'clock_period': 6.67})),
                    progress=False)  # fmt: skip
    assert seen == [(2, 10.0), (0, 6.67)]  # defaults: 2 uniform designs, 10 ns


class _FakeWindows:
    x_train = y_train = x_val = y_val = None


def _latency_space():
    """Lanes up to 4, where the default softmax dividers (min(lanes, 4) = 4) beat an explicit 2."""
    return TuneSpace(bits=(4, 8), lanes=(1, 4), dsp_share=(1.0,), softmax_dividers=(0, 2), **KEEP)


def test_latency_check_tries_every_softmax_divider_option(trained):
    """The fastest candidate is not the one with the most explicit dividers: 0 (the default) can be
    faster, so a target between the two options' cycles is within reach."""
    model, _ = trained
    hw = tuner.HardwareModel(model, tuner.default_groups(model), 'xc7s15')
    space = _latency_space()
    default, two = (hw.cost(tuner.Candidate(dict.fromkeys(hw.groups, 4), 4, 4, 'auto', n)).cycles for n in (0, 2))
    assert default < two
    tuner._check_budget(hw, hw.groups, space, (default + two) / 2)  # within reach: no error
    with pytest.raises(TuneError, match=rf'latency target {default - 1} cycles is out of reach: the fastest '
                                        rf'candidate \(4 lanes\) takes {default} cycles') as e:
        tuner._check_budget(hw, hw.groups, space, default - 1)
    assert e.value.kind == 'latency'


def test_tune_errors_have_a_kind(trained):
    model, data = trained
    hw = tuner.HardwareModel(model, tuner.default_groups(model), 'xc7s15')
    space = _latency_space()
    fastest = hw.cost(tuner.Candidate(dict.fromkeys(hw.groups, 4), 4, 4, 'auto', 0)).cycles
    kw = dict(part='xc7s15', space=space, finetune_epochs=0, progress=False)
    with pytest.raises(TuneError, match='out of reach') as e:
        tune(model, _data(data), latency_cycles=fastest - 1, trials=1, **kw)
    assert e.value.kind == 'latency'
    # only the fastest 4-bit design meets this target; the one trial (uniform 8 bits, enqueued first) does
    # not, so the tuner falls back on the uniform designs and finds it
    result = tune(model, _data(data), latency_cycles=fastest, trials=1, **kw)
    assert set(result.bits.values()) == {4} and result.cost.cycles <= fastest and result.rows
    assert all(r['uniform'] for r in result.finetuned)
    # and with a margin that rules out 4 lanes even at 4 bits, nothing meets it
    def use(lanes):
        return max(hw.cost(tuner.Candidate(dict.fromkeys(hw.groups, 4), lanes, lanes, 'auto')).utilization.values())

    assert use(2) < use(4)
    with pytest.raises(TuneError, match=r'none of \d+ trials fits .* nor does any uniform design') as e:
        tune(model, _data(data), latency_cycles=fastest, trials=1, margin=1 - (use(2) + use(4)) / 2, **kw)
    assert e.value.kind == 'no_feasible_trial'
    with pytest.raises(TuneError, match='has no quantized layers') as e:
        tune(_mlp(8), _data(data), trials=1, **kw)
    assert e.value.kind == 'no_groups'
    with pytest.raises(TuneError, match='finetune_uniform must be a non-negative integer') as e:
        tune(model, _data(data), trials=1, finetune_uniform=-1, **kw)
    assert e.value.kind == 'config' and isinstance(e.value, UnsupportedError)
    with pytest.raises(TuneError, match='candidate bits') as e:
        TuneSpace(bits=(1,))
    assert e.value.kind == 'config'
    import pickle

    copy = pickle.loads(pickle.dumps(TuneError('late', kind='latency')))
    assert (str(copy), copy.kind) == ('late', 'latency')
    with pytest.raises(ValueError, match="kind 'slow'"):
        TuneError('x', kind='slow')


class _FakeHardware:
    """Every group at b bits on n lanes uses b * n / 48 of the part and takes 1000 // n cycles,
    less the explicit softmax dividers."""

    groups = {'a': ['a'], 'b': ['b']}

    def __init__(self):
        self.seen = []

    def cost(self, cand):
        self.seen.append((max(cand.bits.values()), cand.lanes))
        use = max(cand.bits.values()) * cand.lanes / 48
        totals = {'LUT': round(use * 8000), 'LUTRAM': 0, 'FF': 0, 'BRAM18': 0, 'DSP': cand.dsp_lanes}
        return tuner.HardwareCost(totals, {'LUT': use}, 1000 // cand.lanes - cand.softmax_dividers, 0, 'LUT',
                                  use <= 1, '', 0.0)  # fmt: skip


def test_uniform_rows_take_the_widest_fitting_uniform_designs_at_their_fastest():
    hw = _FakeHardware()
    space = TuneSpace(bits=(4, 6, 8), lanes=(1, 2, 4, 8), dsp_share=(1.0,), softmax_dividers=(0, 2))
    pred = lambda bits: float(sum(bits.values()))  # noqa: E731

    def row(bits, lanes, number, divs=0):
        cand = tuner.Candidate(bits, lanes, lanes, 'auto', divs)
        return tuner._row(cand, hw.cost(cand), pred(bits), number)

    u8 = {'a': 8, 'b': 8}
    rows = [row({'a': 8, 'b': 4}, 8, 0), row(u8, 2, 1), row(u8, 4, 2)]
    picked = tuner._uniform_rows(hw, rows, space, math.inf, pred, set(), 2)
    got = [(r['bits']['a'], r['trial'], r['lanes'], r['softmax_dividers']) for r in picked]
    # 8 bits: faster with 2 dividers than its trials, so evaluated here; 6 bits: no trial at all
    assert got == [(8, -1, 4, 2), (6, -1, 8, 2)]
    assert all(r['uniform'] for r in picked) and picked[1]['predicted_loss'] == 12.0 and picked[1]['cycles'] == 123
    picked = tuner._uniform_rows(hw, rows + [row(u8, 4, 3, divs=2)], space, math.inf, pred, set(), 1)
    assert [(r['trial'], r['lanes'], r['softmax_dividers']) for r in picked] == [(3, 4, 2)]  # a trial as fast
    # uniform 8 bits already fine-tuned (among the best by predicted loss): the next two widths instead
    picked = tuner._uniform_rows(hw, rows, space, math.inf, pred, {tuple(sorted(u8.items()))}, 2)
    assert [(r['bits']['a'], r['trial'], r['lanes']) for r in picked] == [(6, -1, 8), (4, -1, 8)]
    assert tuner._uniform_rows(hw, rows, space, math.inf, pred, set(), 0) == []
    # a latency target: 8 bits fits at 4 lanes but takes 248 cycles, and fewer lanes are slower
    hw.seen.clear()
    picked = tuner._uniform_rows(hw, [], space, 130, pred, set(), 3)
    assert [(r['bits']['a'], r['lanes'], r['cycles']) for r in picked] == [(6, 8, 123), (4, 8, 123)]
    assert (8, 2) not in hw.seen and (8, 1) not in hw.seen


def _uniform_margin(hw, space):
    """A margin that rules out uniform 8 bits at the most lanes (the study's first trial) but not at
    2 lanes, and keeps uniform 4 bits at the most lanes."""
    def use(b, lanes):
        return max(hw.cost(tuner.Candidate(dict.fromkeys(hw.groups, b), lanes, lanes, 'auto')).utilization.values())

    top = max(space.lanes)
    assert use(4, top) < use(8, 2) < use(8, top)
    return 1 - (use(8, 2) + use(8, top)) / 2


def test_tuner_finetunes_the_fitting_uniform_designs_too(trained, monkeypatch):
    """The predicted loss ranks every uniform design last (a sum of one group at a time can), yet
    the widest uniform designs that fit are fine-tuned as well: uniform 4 bits from its trial,
    uniform 8 bits (no trial of it fits) evaluated at fewer lanes."""
    model, data = trained
    space = TuneSpace(bits=(4, 8), lanes=(1, 2, 4), dsp_share=(1.0,), **KEEP)
    margin = _uniform_margin(tuner.HardwareModel(model, tuner.default_groups(model), 'xc7s15'), space)
    monkeypatch.setattr(tuner, 'predicted_loss', lambda base, table, bits: base + float(len(set(bits.values())) == 1))
    result = tune(model, _data(data), part='xc7s15', space=space, margin=margin, trials=6, finetune_top=1,
                  finetune_epochs=0, progress=False)  # fmt: skip
    uniform = {r['bits']['head']: r for r in result.finetuned if r['uniform']}
    assert len(result.finetuned) == 3 and sorted(uniform) == [4, 8]
    top = result.finetuned[0]
    assert not top['uniform'] and len(set(top['bits'].values())) == 2  # the best by predicted loss is mixed
    assert all(set(r['bits'].values()) == {b} for b, r in uniform.items())
    assert uniform[4]['trial'] >= 0 and uniform[4]['lanes'] == 4  # the enqueued trial, at its fewest cycles
    if not any(set(r['bits'].values()) == {8} for r in result.rows):
        assert uniform[8]['trial'] == -1
    assert uniform[8]['lanes'] == 2  # does not fit at 4 lanes
    hw = tuner.HardwareModel(model, tuner.default_groups(model), 'xc7s15', margin)
    hw.drop = result.drop_table  # the integer bits the tuner's sensitivity chose
    cost = hw.cost(tuner.Candidate(uniform[8]['bits'], 2, 2, 'auto'))
    assert cost.fits and cost.cycles == uniform[8]['cycles']
    assert result.val_loss == min(r['val_loss'] for r in result.finetuned)
    assert 'fine-tuned 3 candidates (2 of them fitting uniform designs)' in result.summary()


def test_finetune_keeps_the_epoch_with_the_lowest_validation_loss(trained):
    """A learning rate that wrecks the model: fine-tuning must hand back the weights it started
    with (epoch 0 has the lowest validation loss), not the last epoch's."""
    model, data = trained
    km = with_bits(model, quantized_layers(model))  # a copy at the same widths
    x_tr, y_tr, x_val, y_val = _data(data)
    before = tuner.mse(y_val, km.predict(x_val, verbose=0))
    weights = km.get_weights()
    val = tuner.finetune(km, x_tr, y_tr, x_val, y_val, 2, 64, 50.0, tuner.mse, 0)
    assert val == before
    assert all(np.array_equal(a, b) for a, b in zip(weights, km.get_weights()))
    # a sane learning rate improves on it, and the model holds the weights of the loss returned
    val = tuner.finetune(km, x_tr, y_tr, x_val, y_val, 2, 64, 1e-3, tuner.mse, 0)
    assert val < before and val == tuner.mse(y_val, km.predict(x_val, verbose=0))


def test_guard_keeps_headroom_for_the_estimates_error(trained):
    """A design whose LUT estimate is 2% under the budget fits with no guard and not with a 5%
    one; the default guard is the fit's held-out LUT error, as calibrate recorded it."""
    from vhdlspartan.resource_model.estimate import estimate_guard

    model, _ = trained
    cand = tuner.Candidate(dict.fromkeys(tuner.default_groups(model), 6), 2, 2, 'auto')
    lut = tuner.HardwareModel(model, tuner.default_groups(model), 'xc7s15', guard=0).cost(cand).utilization['LUT']
    margin = 1 - lut * 1.02
    assert max(tuner.HardwareModel(model, tuner.default_groups(model), 'xc7s15', margin, guard=0).cost(cand)
               .utilization.values()) == lut  # LUT binds
    assert tuner.HardwareModel(model, tuner.default_groups(model), 'xc7s15', margin, guard=0).cost(cand).fits
    guarded = tuner.HardwareModel(model, tuner.default_groups(model), 'xc7s15', margin, guard=0.05)
    assert not guarded.cost(cand).fits and guarded.over_budget(guarded.cost(cand)) > 0
    default = tuner.HardwareModel(model, tuner.default_groups(model), 'xc7s15').guard
    assert default == estimate_guard() and 0 < default['LUT'] < 0.2


def test_claims_go_to_one_worker_and_are_taken_over_from_a_silent_one(tmp_path):
    """The claims that make a shared study measure and fine-tune once, on a real SQLite file:
    one insert wins; a holder whose heartbeat moves is reported alive; one whose beat stands still
    for the grace period (a killed worker) is taken over; finished work is reported done."""
    from vhdlspartan.resource_model.tuning.shared import Claims

    url = f'sqlite:///{tmp_path / "claims.db"}'
    first, second = Claims(url, 'study', 0.2, 0.6), Claims(url, 'study', 0.2, 0.6)
    first.me, second.me = 'host:1', 'host:2'
    assert first.acquire('finish:8', 'fine-tuning', wait=False, note='/out/1') is None  # first.me holds it
    t0 = time.monotonic()
    taken = second.acquire('finish:8', 'fine-tuning', wait=False)  # first never beats: as if killed
    assert taken is None and time.monotonic() - t0 >= 0.6  # after the grace period, not before
    with second.hold('finish:8'):
        other = Claims(url, 'study', 0.2, 0.6)
        other.me = 'host:3'
        alive = other.acquire('finish:8', 'fine-tuning', wait=False)
        assert (alive.worker, alive.done) == ('host:2', False)  # beating: left to it
    done = other.acquire('finish:8', 'fine-tuning', wait=False)
    assert (done.worker, done.done) == ('host:2', True)
    assert Claims(url, 'other study', 0.2, 0.6).acquire('finish:8', 'fine-tuning', wait=False) is None
    assert first.acquire('sensitivity:x', 'measuring', wait=True) is None
    with pytest.raises(RuntimeError):
        with first.hold('sensitivity:x'):
            raise RuntimeError('the measurement failed')
    t0 = time.monotonic()  # a holder that fails releases the work: the next worker takes it at once
    assert second.acquire('sensitivity:x', 'measuring', wait=True) is None and time.monotonic() - t0 < 0.6


def test_quiet_keras_drops_the_known_save_warnings_only(tmp_path):
    import warnings

    from vhdlspartan.quiet import quiet_keras

    model = ts_transformer(6, 1, 8, 1, 16, 1, bits=4, norm='batch')
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        model.save(tmp_path / 'loud.h5')
        with quiet_keras():
            model.save(tmp_path / 'quiet.h5')
            warnings.warn('a warning of somebody else', UserWarning)
    texts = [str(w.message) for w in seen]
    assert sum('keras.constraints.serialize()' in t for t in texts) >= 1  # outside: Keras warns
    loud = len([t for t in texts if 'keras.constraints.serialize()' in t or 'HDF5 file' in t])
    assert texts.count('a warning of somebody else') == 1
    # every known warning came from the first save: the quiet one added none
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter('always')
        model.save(tmp_path / 'loud2.h5')
    assert loud == len([w for w in again if 'keras.constraints.serialize()' in str(w.message)
                        or 'HDF5 file' in str(w.message)])  # fmt: skip
