"""Check one hls4ml config written by the tuner (or by hand) end to end on real data: convert it,
compare predict with the Keras model on the test split, simulate the VHDL in GHDL (bit for bit,
cycles against the schedule), synthesize with GHDL + Yosys and print the synthesis beside the
resource model's estimate and the part's capacity. Exits 1 when anything disagrees or overflows.

    python examples/check_design.py reference_models/tuned_w24_d64_c125958/hls4ml_config.yml \
        --series weather --window 24 [--sim 5] [--no-synth]
"""

import argparse
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('config', help="an hls4ml YAML config (KerasModel: !keras_model ...), e.g. the tuner's")
    ap.add_argument('--series', default='weather', help='data set of vhdlspartan.datasets (weather, electricity)')
    ap.add_argument('--csv', help='or any CSV (with --columns and --target, as train_forecaster.py takes them)')
    ap.add_argument('--columns')
    ap.add_argument('--target')
    ap.add_argument('--window', type=int, required=True)
    ap.add_argument('--sim', type=int, default=5, help='test windows simulated in GHDL')
    ap.add_argument('--no-synth', action='store_true', help='skip the synthesis (a quick arithmetic check)')
    args = ap.parse_args(argv)

    import hls4ml
    import numpy as np

    from vhdlspartan.datasets import against_baselines, baselines, windows
    from vhdlspartan.resource_model.estimate import estimate
    from vhdlspartan.resource_model.report import table
    from vhdlspartan.vhdl_backend.timing import BUDGET_LEVELS

    if args.csv:
        columns = args.columns.split(',') if args.columns else [args.target]
        data = windows(path=args.csv, columns=columns, target=args.target, window=args.window)
    else:
        data = windows(args.series, args.window)
    config = hls4ml.converters.parse_yaml_config(args.config)  # loads the model of `!keras_model`
    keras_model = config['KerasModel']
    hm = hls4ml.converters.convert_from_config(config)
    hm.compile()
    y_keras = keras_model.predict(data.x_test, verbose=0).reshape(-1)
    y_hls = hm.predict(data.x_test).reshape(-1)
    same = int(np.sum(y_hls == y_keras))
    print(f'predict == Keras on {same}/{len(y_hls)} test windows; test RMSE '
          f'{against_baselines(data.scaled_rmse(y_hls), baselines(data))}')

    sim = hm.build(sim=True, x=data.x_test[: args.sim])['sim']
    print(f'GHDL: {sim["samples"]} windows, bit-exact {sim["bit_exact"]} ({sim["mismatches"]} mismatches), '
          f'{sim["cycles"]} cycles (schedule {sim["cycles_expected"]}) for {hm._vhdlspartan_design.macs():,} MACs')

    ok = same == len(y_hls) and sim['bit_exact'] and sim['cycles'] == sim['cycles_expected']
    if args.no_synth:
        return 0 if ok else 1
    syn = hm.build(synth=True)['synth']
    est = estimate(hm)
    print(table(est, syn))
    over = [r for r, cap in est.capacity.items() if r in syn and syn[r] > cap]
    print(f'latches: {syn["latches"]}; over the part: {over or "nothing"}; timing budget '
          f'({syn["timing"]["budget_ns"]:.2f} ns, {BUDGET_LEVELS} LUT levels): {"met" if syn["timing"]["meets"] else "NOT met"}')
    return 0 if ok and syn['latches'] == 0 and not over and syn['timing']['meets'] else 1


if __name__ == '__main__':
    sys.exit(main())
