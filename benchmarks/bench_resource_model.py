"""Resource model accuracy and speed, printed as numbers.

Draws random designs the calibration never saw (fresh seeds), synthesizes each with GHDL +
Yosys and simulates it in GHDL, and compares with the analytical estimate: mean absolute
percentage error of LUT and FF, share of designs with BRAM18 and DSP exact, latency cycles
exact. Then times whole-model estimates.

    python benchmarks/bench_resource_model.py [--designs 30] [--seed 7000] [--save designs.jsonl]
"""

import argparse
import os
import time
from pathlib import Path


os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


def accuracy(n, seed, save=None):
    from vhdlspartan.resource_model.calibrate import accuracy_lines, sweep

    designs = sweep(n, seed, 2, save, simulate=True)
    print(f'{len(designs)} fresh random designs (seeds {seed}..{seed + n - 1}), estimate against Yosys synthesis:')
    for line in accuracy_lines([(d['estimate'], d['total']) for d in designs]):
        print(f'  {line}')
    cycles_exact = sum(d['cycles_simulated'] == d['cycles_estimated'] for d in designs)
    print(f'  latency: estimate == GHDL-measured cycles in {cycles_exact}/{len(designs)} designs')


def speed():
    """Whole-model estimates per second for the reference Transformer (lowering done once)."""
    import tempfile

    import hls4ml

    from vhdlspartan.models import hls_config, ts_transformer
    from vhdlspartan.resource_model.estimate import clear_cost_memo, estimate_design

    model = ts_transformer(12, 1, 32, 1, 128, 1, bits=8)
    with tempfile.TemporaryDirectory() as tmp:
        hm = hls4ml.converters.convert_from_keras_model(model, hls_config=hls_config(model, lanes=16),
                                                        backend='VHDLSpartan', output_dir=tmp, part='xc7s15')  # fmt: skip
    hm.compile()
    design = hm._vhdlspartan_design
    estimate_design(design)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2:
        estimate_design(design)
        n += 1
    warm = n / (time.perf_counter() - t0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2:
        clear_cost_memo()  # every component costed afresh, as for a design never seen
        estimate_design(design)
        n += 1
    cold = n / (time.perf_counter() - t0)
    print(f'speed: {cold:,.0f} whole-model estimates/s with every component costed afresh, {warm:,.0f}/s with '
          f'component costs memoized (reference Transformer: window 12, d_model 32, FFN 128, 8 bits, 16 lanes; '
          f'{len(design.units)} units, {design.macs():,} MACs)')


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--designs', type=int, default=30)
    ap.add_argument('--seed', type=int, default=7000)
    ap.add_argument('--save', type=Path, help='append each design (components, cells, estimate) to this JSON-lines file')
    args = ap.parse_args()
    speed()
    accuracy(args.designs, args.seed, args.save)
