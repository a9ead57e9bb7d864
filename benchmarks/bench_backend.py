"""Prints: conversion + write time, emulation samples/s, GHDL simulated cycles/s, synthesis time,
for the demo's MLP forecaster shape (window 12, per-step Dense 8, Dense 16, Dense 1), 4 lanes."""

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'examples'))

import hls4ml  # noqa: E402
import numpy as np  # noqa: E402
from demo import build_model  # noqa: E402


def main():
    model = build_model()
    out = Path(tempfile.mkdtemp()) / 'bench'
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['window']['Precision']['result'] = 'fixed<8,1,RND_CONV,SAT>'
    cfg['Model'].update({'Lanes': 4, 'DSPLanes': 4})
    t0 = time.perf_counter()
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(out))
    hm.write()
    print(f'conversion + write: {time.perf_counter() - t0:.2f} s')
    hm.compile()
    x = np.random.default_rng(0).uniform(-1, 1, size=(20000, 12, 1))
    hm.predict(x[:100])
    t0 = time.perf_counter()
    hm.predict(x)
    print(f'emulation: {len(x) / (time.perf_counter() - t0):,.0f} samples/s (batch of {len(x)})')
    t0 = time.perf_counter()
    sim = hm.build(sim=True, x=x[:500])['sim']
    dt = time.perf_counter() - t0
    total_cycles = sim['samples'] * (sim['cycles'] + 12 + 2 * 1 + 3)  # + input writes and output reads
    print(f'GHDL: {sim["samples"]} inferences x {sim["cycles"]} cycles in {dt:.1f} s (analysis included): '
          f'{total_cycles / dt:,.0f} simulated cycles/s; bit-exact {sim["bit_exact"]}')
    t0 = time.perf_counter()
    syn = hm.build(synth=True)['synth']
    print(f'synthesis (GHDL + Yosys synth_xilinx): {time.perf_counter() - t0:.1f} s; '
          f'LUT {syn["LUT"]} FF {syn["FF"]} BRAM18 {syn["BRAM18"]} DSP {syn["DSP"]}')


if __name__ == '__main__':
    main()
