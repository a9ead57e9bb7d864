"""Prints, for the reference Transformer encoder (vhdlspartan.models.ts_transformer) at several lane
counts: conversion time, emulation inferences/s, the schedule's cycles and MACs, the per-layer cycle
breakdown, Keras-vs-emulation agreement, GHDL simulated cycles (bit-exactness) and Yosys cell counts
next to the resource model's estimate and the XC7S15's capacity.

    .venv/bin/python benchmarks/bench_transformer.py [--norm batch|layer] [--layers N] [--lanes 1,4,16]
                                                      [--sim-samples 3] [--no-synth]
"""

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import hls4ml  # noqa: E402
import numpy as np  # noqa: E402

from vhdlspartan.layers import QFoldedBatchNorm  # noqa: E402
from vhdlspartan.models import hls_config, ts_transformer  # noqa: E402
from vhdlspartan.vhdl_backend.simulation import random_inputs  # noqa: E402

PART = 'xc7s15ftgb196-2'
CAPACITY = {'LUT': 8000, 'FF': 16000, 'BRAM18': 20, 'DSP': 20}  # XC7S15
SYNTH_KEYS = ('LUT', 'LUTRAM', 'FF', 'BRAM18', 'DSP', 'CARRY4', 'latches')
EMULATION_SAMPLES = 2000
KERAS_SAMPLES = 200


def randomize(model, seed=0, scale=0.3):
    """Normal random weights; a folded BatchNorm's moving variance (its last weight) stays positive."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        new = [rng.normal(size=w.shape) * scale for w in weights]
        if isinstance(layer, QFoldedBatchNorm):
            new[-1] = np.abs(new[-1]) + 0.5
        layer.set_weights(new)
    return model


def inputs(design, n, seed):
    """Inputs on the design's input grid (edges included), as floats shaped like the model's input."""
    q = random_inputs(design, n, np.random.default_rng(seed))
    return design.input.type.to_float(q).reshape((n, *design.input_shape))


def per_layer_cycles(design):
    cycles, units = defaultdict(int), defaultdict(list)
    for unit in design.units:
        layer = getattr(unit, 'layer_name', None) or unit.name
        cycles[layer] += unit.cycles()
        units[layer].append(f'{unit.name}:{unit.cycles()}')
    return sorted(cycles.items(), key=lambda kv: -kv[1]), units


def bench(args, model, lanes, root):
    print(f'\n=== lanes {lanes} ===')
    t0 = time.perf_counter()
    hm = hls4ml.converters.convert_from_keras_model(
        model, hls_config=hls_config(model, lanes=lanes), backend='VHDLSpartan',
        output_dir=str(root / f'lanes{lanes}'), part=PART,
    )  # fmt: skip
    hm.compile()
    print(f'conversion + compile: {time.perf_counter() - t0:.2f} s')
    design = hm._vhdlspartan_design

    x = inputs(design, EMULATION_SAMPLES, seed=lanes)
    hm.predict(x[:50])  # warm-up
    t0 = time.perf_counter()
    hm.predict(x)
    dt = time.perf_counter() - t0
    print(f'emulation: {len(x) / dt:,.0f} inferences/s (batch of {len(x)}, {dt:.2f} s)')

    xk = inputs(design, KERAS_SAMPLES, seed=1000 + lanes)
    y_keras = np.asarray(model(xk)).reshape(len(xk), -1)
    y_hls = np.asarray(hm.predict(xk)).reshape(len(xk), -1)
    mismatches = int(np.sum(y_keras != y_hls))
    print(f'Keras vs predict on {len(xk)} inputs: {mismatches} mismatching outputs of {y_keras.size}'
          f' (max |diff| {np.max(np.abs(y_keras - y_hls)):.3g})')

    cycles, macs = design.cycles(), design.macs()
    print(f'schedule: {cycles:,} cycles/inference; {macs:,} MACs; MACs/cycle {macs / cycles:.2f}'
          f' ({macs / cycles / lanes:.0%} of {lanes} lanes)')
    ranked, units = per_layer_cycles(design)
    print('cycles by layer (top 5):')
    for layer, c in ranked[:5]:
        print(f'  {layer:<14} {c:>8,} ({c / cycles:5.1%})  [{", ".join(units[layer])}]')

    result = {'lanes': lanes, 'cycles': cycles, 'macs': macs}
    if args.sim_samples > 0:
        t0 = time.perf_counter()
        sim = hm.build(sim=True, x=inputs(design, args.sim_samples, seed=2000 + lanes))['sim']
        dt = time.perf_counter() - t0
        agree = sim['cycles'] == sim['cycles_min'] == cycles
        print(f'GHDL: {sim["samples"]} inferences in {dt:.1f} s: cycles {sim["cycles_min"]}..{sim["cycles"]}'
              f' (schedule {sim["cycles_expected"]}; {"equal" if agree else "DIFFERENT"});'
              f' bit-exact {sim["bit_exact"]} ({sim["mismatches"]} mismatching)')
        result.update(sim_cycles=sim['cycles'], bit_exact=sim['bit_exact'])

    if not args.no_synth:
        t0 = time.perf_counter()
        syn = hm.build(synth=True)['synth']
        print(f'synthesis (GHDL + Yosys synth_xilinx): {time.perf_counter() - t0:.1f} s')
        est = syn.get('estimate') or {}
        print(f'  {"":<8} {"yosys":>7} {"model":>8} {"XC7S15 use":>11}')
        for key in SYNTH_KEYS:
            model_val = f'{est[key]:8.0f}' if key in est else f'{"-":>8}'
            util = f'{syn[key] / CAPACITY[key]:11.1%}' if key in CAPACITY else ''
            print(f'  {key:<8} {syn[key]:>7} {model_val} {util}')
        result.update({k: syn[k] for k in SYNTH_KEYS})
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--norm', choices=('batch', 'layer'), default='batch')
    p.add_argument('--layers', type=int, default=1)
    p.add_argument('--lanes', default='1,4,16', help='comma-separated lane counts')
    p.add_argument('--sim-samples', type=int, default=3, help='inputs simulated in GHDL (0: no simulation)')
    p.add_argument('--no-synth', action='store_true')
    args = p.parse_args()
    lanes_list = [int(v) for v in args.lanes.split(',') if v.strip()]

    model = ts_transformer(window=12, n_features=1, d_model=32, num_heads=1, ffn_dim=128, num_layers=args.layers,
                           bits=8, norm=args.norm)  # fmt: skip
    randomize(model)
    print(f'ts_transformer(window=12, n_features=1, d_model=32, num_heads=1, ffn_dim=128, num_layers={args.layers},'
          f' bits=8, norm={args.norm!r}): {model.count_params():,} parameters; part {PART}')
    root = Path(tempfile.mkdtemp(prefix='bench_transformer_'))
    print(f'projects in {root}')

    t_all = time.perf_counter()
    results = [bench(args, model, lanes, root) for lanes in lanes_list]

    print('\n=== summary ===')
    cols = ['lanes', 'cycles', 'macs', 'sim_cycles', 'bit_exact', *(() if args.no_synth else SYNTH_KEYS)]
    print('  '.join(f'{c:>10}' for c in cols))
    for r in results:
        print('  '.join(f'{str(r.get(c, "-")):>10}' for c in cols))
    print(f'total: {time.perf_counter() - t_all:.1f} s')


if __name__ == '__main__':
    main()
