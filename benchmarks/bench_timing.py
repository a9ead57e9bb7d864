"""Timing by the estimate (vhdl_backend/timing.py) of generated designs: worst path, LUT levels,
estimated Fmax and microseconds per inference at that clock, cycles, Yosys LUT/FF/BRAM18/DSP, the
worst path of each unit, and the estimator's own run time.

    .venv/bin/python benchmarks/bench_timing.py                      # every design below
    .venv/bin/python benchmarks/bench_timing.py --design reference --units 20
    .venv/bin/python benchmarks/bench_timing.py --config demo_out/tune/hls4ml_config.yml

Designs: the reference encoder (window 12, d_model 32, FFN 128, 8 bits) at 16 DSP lanes, the same
with LUT lanes at 4 and 16 lanes, a layer-norm encoder, 4- and 12-bit encoders and an MLP.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, str(Path(__file__).resolve().parent))

import hls4ml  # noqa: E402
from bench_transformer import randomize  # noqa: E402

from vhdlspartan.models import hls_config, ts_transformer  # noqa: E402
from vhdlspartan.vhdl_backend import timing  # noqa: E402

PART = 'xc7s15ftgb196-2'


def encoder(window=12, d_model=32, ffn=128, bits=8, norm='batch', heads=1):
    return randomize(ts_transformer(window=window, n_features=1, d_model=d_model, num_heads=heads, ffn_dim=ffn,
                                    num_layers=1, bits=bits, norm=norm))  # fmt: skip


DESIGNS = {  # name: (model factory, lanes, DSP lanes or None for all)
    'reference': (lambda: encoder(), 16, None),
    'reference-lut4': (lambda: encoder(), 4, 0),
    'reference-lut16': (lambda: encoder(d_model=16, ffn=64), 16, 0),
    'layernorm': (lambda: encoder(window=6, d_model=16, ffn=32, norm='layer', heads=2), 4, None),
    'bits4': (lambda: encoder(window=6, d_model=16, ffn=64, bits=4), 8, None),
    'bits12': (lambda: encoder(window=6, d_model=16, ffn=32, bits=12), 2, 1),
    'lanes1': (lambda: encoder(window=6, d_model=8, ffn=16), 1, None),
}


def convert(name, root):
    factory, lanes, dsp = DESIGNS[name]
    model = factory()
    cfg = hls_config(model, lanes=lanes)
    if dsp is not None:
        cfg['Model']['DSPLanes'] = dsp
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(root / name), part=PART)  # fmt: skip
    hm.compile()
    return hm


def measure(label, hm, units):
    design = hm._vhdlspartan_design
    t0 = time.perf_counter()
    syn = hm.build(synth=True)['synth']
    t_synth = time.perf_counter() - t0
    netlist = json.loads((Path(hm.config.get_output_dir()) / 'synth' / 'netlist.json').read_text())
    t0 = time.perf_counter()
    t = timing.analyze(netlist, design.project)
    t_walk = time.perf_counter() - t0
    cycles = design.cycles()
    fmax = t['fmax_mhz']
    print(f'\n=== {label}: {cycles:,} cycles, {design.macs():,} MACs; Yosys LUT {syn["LUT"]:,} FF {syn["FF"]:,} '
          f'BRAM18 {syn["BRAM18"]} DSP {syn["DSP"]} latches {syn["latches"]} (synthesis {t_synth:.0f} s)')
    print(timing.format_report(t, units))
    print(f'  -> {cycles / fmax:.2f} us per inference at the estimated Fmax ({fmax:.0f} MHz), '
          f'{cycles / 150:.2f} us at 150 MHz, {cycles / 100:.2f} us at 100 MHz')
    print(f'  estimator: {t_walk:.2f} s for {t["paths"]:,} path ends')
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--design', action='append', choices=sorted(DESIGNS), help='default: all')
    ap.add_argument('--config', help='an hls4ml YAML config (for example the tuner\'s) to measure instead')
    ap.add_argument('--units', type=int, default=8, help='how many units to list, worst first')
    ap.add_argument('--out', help='project folder (default: a temporary one)')
    args = ap.parse_args()
    root = Path(args.out or tempfile.mkdtemp(prefix='bench_timing_'))
    if args.config:
        hm = hls4ml.converters.convert_from_config(args.config)
        hm.compile()
        measure(args.config, hm, args.units)
        return
    failed = []
    for name in args.design or list(DESIGNS):
        t = measure(name, convert(name, root), args.units)
        if not t['meets']:
            failed.append(name)
    print(f'\nmissing the budget ({timing.BUDGET_NS:.2f} ns, {timing.BUDGET_LEVELS} levels): {failed or "none"}')


if __name__ == '__main__':
    main()
