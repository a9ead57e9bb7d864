"""`vhdlspartan` command line: resource estimates and reports of hls4ml YAML configurations.

    vhdlspartan estimate config.yml           # per-layer table and utilization, no files written
    vhdlspartan report config.yml [--synth]   # the same, plus PNG plots in the project folder,
                                              # and with --synth a Yosys synthesis side by side
    vhdlspartan tune tune.yml [--trials N]    # precision / storage / lanes search (see
                                              # vhdlspartan.resource_model.tuning.config for the YAML keys)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .quiet import quiet_keras, quiet_tf_logs

quiet_tf_logs()  # before anything imports TensorFlow


def _convert(config_path):
    import hls4ml

    with quiet_keras():
        hm = hls4ml.converters.convert_from_config(config_path)
    if hm is None:
        raise SystemExit(f'{config_path}: no model found (give KerasModel: !keras_model path.h5)')
    if hm.config.backend.name != 'VHDLSpartan':
        raise SystemExit(f'{config_path}: Backend is {hm.config.backend.name}; set Backend: VHDLSpartan')
    return hm


def _show_tuner_notes():
    """The tuner's notes (who measures the sensitivities, who fine-tunes, who waits) on stderr."""
    log = logging.getLogger('vhdlspartan.tuning')
    if not log.handlers:
        note = logging.StreamHandler()
        note.setFormatter(logging.Formatter('vhdlspartan tune: %(message)s'))
        log.addHandler(note)
        log.setLevel(logging.INFO)
        log.propagate = False  # said once, whatever the root logger does


def _tune(args) -> int:
    from .resource_model.tuning import config as tune_config

    _show_tuner_notes()
    cfg = tune_config.load(args.config)
    if args.trials:
        cfg['trials'] = args.trials
    result, data = tune_config.run(cfg, progress=not args.quiet)
    if result is None:  # another worker of the shared study finishes it (the log said which)
        return 0
    print(result.summary())
    print(f'tuned model: test RMSE {data.scaled_rmse(result.model.predict(data.x_test, verbose=0)):.4f}')
    for what, path in result.files.items():
        print(f'{what}: {path}')
    return 0


def main(argv=None) -> int:
    from .errors import UnsupportedError
    from .resource_model.estimate import estimate
    from .resource_model.report import plots, table

    ap = argparse.ArgumentParser(prog='vhdlspartan', description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = ap.add_subparsers(dest='command', required=True)
    for name in ('estimate', 'report'):
        p = sub.add_parser(name)
        p.add_argument('config', help='hls4ml YAML configuration with Backend: VHDLSpartan')
        p.add_argument('--part', help='part to size against (default: the config\'s Part)')
        if name == 'report':
            p.add_argument('--synth', action='store_true', help='also synthesize with GHDL + Yosys')
    p = sub.add_parser('tune', help='search bits, storage and lanes that fit the part (YAML config)')
    p.add_argument('config', help='tune YAML (keys: see vhdlspartan.resource_model.tuning.config)')
    p.add_argument('--trials', type=int, help='override the number of trials')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    args = ap.parse_args(argv)
    if args.command == 'tune':
        try:
            return _tune(args)
        except UnsupportedError as e:
            print(f'vhdlspartan tune: {e}', file=sys.stderr)
            return 2
    hm = _convert(args.config)
    est = estimate(hm, args.part)
    synth = None
    if args.command == 'report':
        hm.write()
        if args.synth:
            synth = hm.build(synth=True)['synth']
    print(table(est, synth))
    if args.command == 'report':
        for path in plots(est, os.path.join(hm.config.get_output_dir(), 'report'), synth):
            print(f'plot: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
