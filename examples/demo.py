"""Main demo, the whole flow on real data: train the integer-only Transformer forecaster on the
electricity series, tune its bits / storage / lanes for the XC7S15 (examples/tune.yml), convert
the tuned model with hls4ml (the tuner's YAML), check predict == Keras, simulate the VHDL in
GHDL (bit for bit), synthesize with Yosys, and print the report with paths to the plots.

Run with `make demo` (a few minutes on 2 cores). Output: demo_out/.
"""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import hls4ml  # noqa: E402
import numpy as np  # noqa: E402
from train_forecaster import parse, train  # noqa: E402

from vhdlspartan.quiet import quiet_keras  # noqa: E402
from vhdlspartan.datasets import against_baselines, baselines  # noqa: E402
from vhdlspartan.resource_model.tuning import config as tune_config  # noqa: E402
from vhdlspartan.resource_model.estimate import estimate  # noqa: E402
from vhdlspartan.resource_model.report import plots, table  # noqa: E402

OUT = Path('demo_out')


def step(title):
    print(f'\n== {title}', flush=True)
    return time.time()


def main():
    t = step('1. train ts_transformer(window 12, d_model 8, FFN 32, 8 bits, linear skip) on the electricity series')
    OUT.mkdir(exist_ok=True)
    model, data, rmse = train(parse(['--window', '12', '--d-model', '8', '--ffn', '32', '--bits', '8', '--epochs', '20',
                                     '--limit', '1500', '--out', str(OUT / 'forecaster.h5')]))  # fmt: skip
    print(f'({time.time() - t:.0f} s)')

    t = step('2. tune bits, storage and lanes (examples/tune.yml)')
    cfg = tune_config.load(HERE / 'tune.yml')
    result, _ = tune_config.run(cfg, progress=sys.stdout.isatty())
    print(result.summary())
    print(f'({time.time() - t:.0f} s)')

    t = step('3. convert the tuned model with hls4ml (its YAML), compare with Keras')
    with quiet_keras():  # loading the tuned model: the known Keras/QKeras warnings
        hm = hls4ml.converters.convert_from_config(str(result.files['config']))
    hm.compile()
    y_keras = result.model.predict(data.x_test, verbose=0).reshape(-1)
    y_hls = hm.predict(data.x_test).reshape(-1)
    base = baselines(data)
    print(f'predict == Keras on {np.sum(y_hls == y_keras)}/{len(y_hls)} test windows; test RMSE of the tuned design '
          f'{against_baselines(data.scaled_rmse(y_hls), base)}; trained 8-bit model {against_baselines(rmse, base)}')

    t = step('4. simulate the VHDL in GHDL')
    sim = hm.build(sim=True, x=data.x_test[:40])['sim']
    clock_ns = hm.config.get_config_value('ClockPeriod')
    print(f'GHDL: {sim["samples"]} windows, bit-exact: {sim["bit_exact"]} ({sim["mismatches"]} mismatches), '
          f'{sim["cycles"]} cycles per inference (schedule: {sim["cycles_expected"]}; {hm._vhdlspartan_design.macs():,} '
          f'MACs) = {sim["cycles"] * clock_ns / 1000:.2f} us at {1000 / clock_ns:.0f} MHz ({time.time() - t:.0f} s)')

    t = step('5. synthesize with GHDL + Yosys synth_xilinx')
    syn = hm.build(synth=True)['synth']
    est = estimate(hm)
    print(table(est, syn))
    timing = syn['timing']
    print(f'latches: {syn["latches"]}; timing by the estimate: {timing["delay_ns"]:.2f} ns, {timing["max_levels"]} '
          f'LUT levels at most -> Fmax {timing["fmax_mhz"]:.0f} MHz ({sim["cycles"] / timing["fmax_mhz"]:.2f} us '
          f'per inference there) ({time.time() - t:.0f} s)')
    paths = plots(est, Path(hm.config.get_output_dir()) / 'report', syn)
    print('\nplots and files:')
    for p in [result.files['plot'], *paths]:
        print(f'  {p}')
    print(f'  {result.files["trials"]} (every trial), {result.files["config"]} (hls4ml YAML), '
          f'{hm.config.get_output_dir()}/vhdl (VHDL)')
    ok = sim['bit_exact'] and syn['latches'] == 0 and timing['meets'] and np.array_equal(y_hls, y_keras)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
