"""`vhdlspartan tune tune.yml`: the tuner driven by a YAML file, validated before any work.

    part: xc7s15                       # default xc7s15
    model: trained.h5                  # a trained (QKeras / vhdlspartan) Keras model, or
    builder:                           # a vhdlspartan.models.ts_transformer, trained first
      {window: 12, n_features: 1, d_model: 16, num_heads: 1, ffn_dim: 64, num_layers: 1, bits: 8, norm: batch,
       readout: flatten, skip: linear, input_integer: 1, integer: 2}   # skip_integer: from the data's LS fit
    train: {epochs: 60, patience: 8, batch_size: 32, learning_rate: 0.001}   # vhdlspartan.training's recipe
    data: {series: electricity, window: 12, split: [0.7, 0.15, 0.15], limit: null}
                                       # or any CSV: {path: my.csv, columns: [a, b], target: a, window: 24}
    search: {bits: [4, 5, 6, 7, 8], lanes: [1, 2, 4, 8, 12, 16], dsp_share: [1.0, 0.5, 0.0], storage: [auto],
             softmax_dividers: [0],   # 0: min(lanes, 4) dividers per softmax
             drop_integer: [0, 1, 2]} # integer bits an activation type may trade for fraction bits
    latency_cycles: null               # or inferences_per_s (at clock_period)
    clock_period: 10                   # ns: the clock the design runs at (its ClockPeriod)
    margin: 0.0                        # keep this fraction of every resource free
    guard: null                        # headroom on LUT/FF estimates; null: their held-out error
    trials: 60
    finetune: {top: 3, uniform: 2, epochs: 2, batch_size: 64, learning_rate: 0.001}
                                       # uniform: also the widest fitting uniform designs
    study: {name: vhdlspartan-tune, storage: null,   # null: SQLite in output_dir; or a database URL
            heartbeat: 10}             # s between a worker's heartbeats; 3 missed: taken as killed
    output_dir: tune_out
    seed: 0
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .tuner import TuneError, check_margin

TOP_KEYS = {'part', 'model', 'builder', 'train', 'data', 'search', 'latency_cycles', 'inferences_per_s', 'clock_period', 'margin',
            'guard', 'trials', 'finetune', 'study', 'output_dir', 'seed'}  # fmt: skip
SECTION_KEYS = {
    'builder': {'window', 'n_features', 'd_model', 'num_heads', 'ffn_dim', 'num_layers', 'bits', 'norm', 'key_dim',
                'integer', 'input_integer', 'readout', 'skip', 'target', 'skip_integer'},
    'train': {'epochs', 'batch_size', 'learning_rate', 'patience'},
    'data': {'series', 'window', 'split', 'path', 'columns', 'target', 'limit'},
    'search': {'bits', 'lanes', 'dsp_share', 'storage', 'softmax_dividers', 'drop_integer'},
    'finetune': {'top', 'uniform', 'epochs', 'batch_size', 'learning_rate'},
    'study': {'name', 'storage', 'heartbeat'},
}  # fmt: skip
DEFAULTS = {'part': 'xc7s15', 'train': {'epochs': 60, 'batch_size': 32, 'learning_rate': 1e-3, 'patience': 8}, 'margin': 0.0,
            'trials': 60, 'finetune': {'top': 3, 'uniform': 2, 'epochs': 2, 'batch_size': 64, 'learning_rate': 1e-3},
            'study': {'name': 'vhdlspartan-tune', 'storage': None, 'heartbeat': 10}, 'output_dir': 'tune_out',
            'seed': 0, 'latency_cycles': None, 'inferences_per_s': None, 'clock_period': 10, 'search': {}, 'guard': None}  # fmt: skip


def _fail(where: str, msg: str):
    raise TuneError(f'{where}: {msg}')


def validate(cfg, where: str = 'tune config') -> dict:
    """The config with defaults filled in; a clear error names any bad key or value."""
    if not isinstance(cfg, dict):
        _fail(where, f'expected a mapping of keys {sorted(TOP_KEYS)}, got {type(cfg).__name__}')
    unknown = sorted(set(cfg) - TOP_KEYS)
    if unknown:
        _fail(where, f'unknown key(s) {unknown}; supported: {sorted(TOP_KEYS)}')
    if ('model' in cfg) == ('builder' in cfg):
        _fail(where, "give exactly one of 'model' (a saved Keras model) or 'builder' (ts_transformer arguments)")
    if 'data' not in cfg:
        _fail(where, "'data' is required (series: electricity|weather, or path/columns/target; window)")
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    for key, value in cfg.items():
        if key in SECTION_KEYS:
            if not isinstance(value, dict):
                _fail(where, f'{key!r} must be a mapping with keys {sorted(SECTION_KEYS[key])}')
            bad = sorted(set(value) - SECTION_KEYS[key])
            if bad:
                _fail(where, f'{key}: unknown key(s) {bad}; supported: {sorted(SECTION_KEYS[key])}')
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = value
    if 'model' in cfg and not Path(str(cfg['model'])).exists():
        _fail(where, f"model file {cfg['model']!r} does not exist")
    if not isinstance(out['trials'], int) or out['trials'] < 1:
        _fail(where, f"trials must be a positive integer, not {out['trials']!r}")
    check_margin(out['margin'], f'{where}: margin')
    if out['guard'] is not None:
        check_margin(out['guard'], f'{where}: guard')
    for key in ('latency_cycles', 'inferences_per_s'):
        if out[key] is not None and (not isinstance(out[key], (int, float)) or out[key] <= 0):
            _fail(where, f'{key} must be a positive number or null, not {out[key]!r}')
    if isinstance(out['clock_period'], bool) or not isinstance(out['clock_period'], (int, float)) or out['clock_period'] <= 0:
        _fail(where, f"clock_period must be a positive number of ns, not {out['clock_period']!r}")
    for key in ('top', 'uniform', 'epochs', 'batch_size'):
        least = 0 if key in ('uniform', 'epochs') else 1
        if not isinstance(out['finetune'][key], int) or out['finetune'][key] < least:
            _fail(where, f"finetune.{key} must be a {'non-negative' if least == 0 else 'positive'} integer")
    beat = out['study']['heartbeat']
    if isinstance(beat, bool) or not isinstance(beat, int) or beat < 1:
        _fail(where, f'study.heartbeat must be a whole number of seconds >= 1, not {beat!r}')
    from .shared import storage_url

    storage_url(out['study']['storage'])  # a missing database driver fails now, not after the training
    from ..devices import get_device

    get_device(str(out['part']))  # an unknown part names the known ones
    from .tuner import TuneSpace

    TuneSpace(**out['search'])  # validates the candidates
    return out


def load(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise TuneError(f'tune config {path} does not exist')
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise TuneError(f'tune config {path}: not valid YAML ({e})') from None
    return validate(cfg, str(path))


def prepare(cfg: dict):
    """(trained Keras model, Windows) of a validated config: loads or builds and trains the model."""
    from ...datasets import windows

    d = cfg['data']
    data = windows(d.get('series', 'electricity'), int(d.get('window', 12)), tuple(d.get('split', (0.7, 0.15, 0.15))),
                   d.get('path'), d.get('columns'), d.get('target'), d.get('limit'))  # fmt: skip
    if 'model' in cfg:
        from ... import load_model

        model = load_model(cfg['model'])
    else:
        import tensorflow as tf

        from ...models import ts_transformer

        b = cfg['builder']
        args = {'window': data.x_train.shape[1], 'n_features': data.x_train.shape[2], **b}
        if args['window'] != data.x_train.shape[1] or args['n_features'] != data.x_train.shape[2]:
            _fail('builder', f"window {args['window']} / n_features {args['n_features']} do not match the data "
                             f'windows {data.x_train.shape[1:]}')  # fmt: skip
        missing = sorted({'d_model', 'num_heads', 'ffn_dim', 'num_layers'} - set(args))
        if missing:
            _fail('builder', f'missing ts_transformer argument(s) {missing}')
        args.setdefault('target', data.columns.index(data.target))  # skip='last' forecasts the change of it
        from ...training import fit_forecaster, skip_integer

        args.setdefault('skip_integer', skip_integer(data, args.get('skip')))
        tf.keras.utils.set_random_seed(int(cfg['seed']))
        model = ts_transformer(**args)
        t = cfg['train']
        fit_forecaster(model, data, int(t['epochs']), int(t['patience']), int(t['batch_size']),
                       float(t['learning_rate']))  # fmt: skip
    return model, data


def run(cfg: dict, progress: bool = True):
    """Prepare the model and data, then tune. Returns (TuneResult, Windows); the result is None on
    a worker of a shared study that another worker finishes."""
    from .tuner import TuneSpace, tune

    model, data = prepare(cfg)
    f = cfg['finetune']
    result = tune(model, (data.x_train, data.y_train, data.x_val, data.y_val), part=str(cfg['part']),
                  space=TuneSpace(**cfg['search']), latency_cycles=cfg['latency_cycles'],
                  inferences_per_s=cfg['inferences_per_s'], clock_ns=float(cfg['clock_period']),
                  margin=float(cfg['margin']), trials=cfg['trials'],
                  finetune_top=f['top'], finetune_uniform=f['uniform'], finetune_epochs=f['epochs'],
                  batch_size=f['batch_size'], learning_rate=float(f['learning_rate']), storage=cfg['study']['storage'],
                  study_name=cfg['study']['name'], heartbeat=cfg['study']['heartbeat'], out_dir=cfg['output_dir'],
                  seed=int(cfg['seed']),
                  progress=progress, guard=cfg['guard'])  # fmt: skip
    if result is not None:
        from ...datasets import baselines

        result.baselines = baselines(data, 'val')  # the summary prints the tuned model's RMSE against them
    return result, data
