"""Calibrate the resource model of shift lanes ('lane_shift') and the timing of an engine built of
them ('engine:shift') from small synthesized MLPs with power-of-2, ternary and binary weights.

    python -m vhdlspartan.resource_model.calibrate_shift_lanes   # synthesize, append, refit these two entries

Each design (two QDense layers, widths and lane counts varied) is converted and synthesized like a
sweep design; only its 'lane' and 'engine' records are appended to calibration_records.jsonl
(seeds 39200+). The last HELDOUT designs are marked 'kind_heldout' and left out of the fit; the
script prints the estimate against Yosys for them (the shift lanes and the whole design). Only the
'lane_shift' entry of coefficients.json and its '_timing' 'engine:shift' entry change. The
read-modify-write of both files holds /tmp/resource_model.lock.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .calibrate import RECORDS, RESULT_RESOURCES, current_records, load_designs, source_hash
from .calibrate_kinds import store_and_refit

SEED0 = 39200
HELDOUT = 3
# (weight quantizer, its arguments, input bits, lanes, n_in)
DESIGNS = (
    ('quantized_po2', (4, 1), 8, 2, 8),
    ('quantized_po2', (3,), 8, 3, 6),
    ('quantized_po2', (5, 4), 10, 1, 8),
    ('ternary', (), 8, 2, 8),
    ('binary', (), 8, 4, 6),
    ('quantized_po2', (4,), 6, 2, 12),
    ('ternary', (), 12, 3, 8),
    ('quantized_po2', (2,), 8, 2, 8),
    ('binary', (), 10, 1, 16),
    ('quantized_po2', (4, 1), 12, 4, 8),
    ('ternary', (), 7, 2, 8),  # held out from here
    ('quantized_po2', (3, 1), 9, 3, 8),
    ('binary', (), 8, 2, 12),
)


def shift_model(quantizer: str, args: tuple, in_bits: int, n_in: int, seed: int):
    import numpy as np
    import qkeras
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    def q():
        return getattr(qkeras, quantizer)(*args) if quantizer == 'quantized_po2' else getattr(qkeras, quantizer)(alpha=1)

    x = tf.keras.Input((n_in,), name='x')
    h = QActivation(quantized_bits(in_bits, 2), name='q_in')(x)
    b = quantized_bits(8, 2)
    h = QActivation(quantized_relu(8, 3), name='r1')(QDense(12, kernel_quantizer=q(), bias_quantizer=b, name='d1')(h))
    y = QActivation(quantized_bits(10, 4), name='out')(QDense(4, kernel_quantizer=q(), bias_quantizer=b, name='d2')(h))
    model = tf.keras.Model(x, y)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape) * 0.6 for w in model.get_weights()])
    return model


def synth_design(k: int, out_root: str) -> dict:
    """Design k of DESIGNS synthesized: its shift lanes' and engine's records, totals and estimate."""
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    import hls4ml

    from ..vhdl_backend.design import lower
    from ..vhdl_backend.synthesis import inclusive_cells, instance_modules, resources_of
    from .components import design_components

    quantizer, args, in_bits, lanes, n_in = DESIGNS[k]
    model = shift_model(quantizer, args, in_bits, n_in, SEED0 + k)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = f'fixed<{in_bits},3,RND_CONV,SAT>'
    cfg['Model'].update(Lanes=lanes, DSPLanes=0)
    out = Path(out_root) / f'shift{k}'
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(out))
    report = hm.build(synth=True)
    design = lower(hm)
    if not design.engine.shift:
        raise SystemExit(f'design {k}: no shift lanes ({DESIGNS[k]})')
    stat = json.loads((out / 'synth' / 'stat.json').read_text())
    cells = inclusive_cells(stat)
    engine_mod = instance_modules((out / 'synth' / 'top.v').read_text(), design.project)['engine']
    timing = report['synth']['timing']['per_unit'].get('engine', {})
    records = []
    for comp in design_components(design):
        p = comp.params
        if comp.kind == 'lane':  # GHDL names a lane module after its generics
            one = resources_of(cells[f'vs_mac_lane_{p["A_W"]}_{p["B_W"]}_{p["ACC_W"]}_{p["DSP"]}'])
            measured, extra = {r: one[r] * comp.count for r in RESULT_RESOURCES}, {}
        elif comp.kind == 'engine':  # its own cells, the lanes' left out
            own = stat['modules'][f'\\{engine_mod}']['num_cells_by_type']
            measured = resources_of({c: n for c, n in own.items() if c not in cells})
            extra = {'delay_ns': timing['delay_ns'], 'levels': timing['levels']} if timing else {}
        else:
            continue
        records.append({'kind': comp.kind, 'params': p, 'count': comp.count,
                        'cells': {r: measured[r] for r in RESULT_RESOURCES},
                        'source': source_hash(comp.kind, out / 'vhdl'), **extra})  # fmt: skip
    syn = report['synth']
    return {'seed': SEED0 + k, 'kind_only': 'lane,engine', 'records': records,
            'total': {r: syn[r] for r in RESULT_RESOURCES}, 'latches': syn['latches'],
            'timing_met': syn['timing']['meets'], 'worst_ns': syn['timing']['worst']['delay_ns'],
            **({'kind_heldout': 'lane_shift'} if k >= len(DESIGNS) - HELDOUT else {}),
            '_estimate_without_lanes': _estimate_without_shift_lanes(design)}  # fmt: skip


def _estimate_without_shift_lanes(design) -> dict:
    """The design's estimate (LUT, FF) less its shift lanes, so the held-out check can add the refitted lanes."""
    from .components import design_components
    from .estimate import component_cost

    total = dict.fromkeys(('LUT', 'FF'), 0.0)
    for comp in design_components(design):
        if comp.kind == 'lane' and comp.params['DSP'] == 2:
            continue
        cost = component_cost(comp.kind, comp.params, comp.count)
        for r in total:
            total[r] += cost[r]
    return total


def refit(coefficients_path: Path | None = None) -> dict:
    """Refit 'lane_shift' and the '_timing' 'engine:shift' entry from their current records."""
    from .estimate import COEFFICIENTS, fit, fit_timing

    path = coefficients_path or COEFFICIENTS
    designs = [d for d in load_designs(RECORDS) if not d.get('kind_heldout')]
    current = current_records(designs)
    lanes = [r for r in current if r['kind'] == 'lane' and r['params']['DSP'] == 2]
    engines = [r for r in current if r['kind'] == 'engine' and r['params'].get('SHIFT')]
    if not lanes or not engines:
        raise SystemExit(f'no current shift-lane records in {RECORDS}')
    coeffs = json.loads(path.read_text())
    coeffs['lane_shift'] = fit(lanes)['lane_shift']
    coeffs['_timing']['engine:shift'] = fit_timing(engines)['engine:shift']
    path.write_text(json.dumps(coeffs, indent=1, sort_keys=True) + '\n')
    return {'lane_shift': coeffs['lane_shift'], 'engine:shift': coeffs['_timing']['engine:shift']}


def heldout_lines(designs: list) -> list:
    """Estimate against Yosys on the held-out designs: the shift lanes alone and the whole design."""
    from .estimate import component_cost

    lines = []
    for d in designs:
        if not d.get('kind_heldout'):
            continue
        lane = next(r for r in d['records'] if r['kind'] == 'lane')
        est = component_cost('lane', lane['params'], lane['count'])
        whole = {r: d['_estimate_without_lanes'][r] + est[r] for r in ('LUT', 'FF')}
        parts = []
        for r in ('LUT', 'FF'):
            parts.append(f'{r} lanes {est[r]:.0f}/{lane["cells"][r]} ({100 * (est[r] / lane["cells"][r] - 1):+.1f}%), '
                         f'design {whole[r]:.0f}/{d["total"][r]} ({100 * (whole[r] / d["total"][r] - 1):+.1f}%)')  # fmt: skip
        lines.append(f'{d["seed"]} {lane["params"]} x{lane["count"]}: ' + '; '.join(parts))
    return lines


def main(argv=None):
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(2) as pool:
        designs = list(pool.map(synth_design, range(len(DESIGNS)), [tmp] * len(DESIGNS)))
    fitted = store_and_refit(designs, refit)
    for d in designs:
        print(d['seed'], d['total'], 'latches', d['latches'], 'timing met', d['timing_met'], d['worst_ns'])
        for rec in d['records']:
            print(' ', rec['kind'], rec['params'], rec['count'], rec['cells'], rec.get('delay_ns'), rec.get('levels'))
    print(json.dumps(fitted, indent=1))
    print('\n'.join(heldout_lines(designs)), file=sys.stdout)


if __name__ == '__main__':
    main()
