"""Calibrate the resource and timing model of vs_table_map and vs_pwl (table and piecewise-linear
activations) from a handful of small synthesized designs (the random sweep of calibrate.py draws
no such activation).

    python -m vhdlspartan.resource_model.calibrate_activations   # synthesize, append, refit these two kinds only

Each design is a chain of LeakyReLU, PReLU, ELU, tanh, sigmoid and hard_sigmoid (random element
count, alphas, TableSize and result precisions), then QKeras quantized_tanh(use_real_tanh) and
quantized_sigmoid on a quantized input: four vs_table_map and four vs_pwl instances. Only their
records are appended to calibration_records.jsonl (seeds 38000+, below the sweep's, so that
`calibrate --heldout` keeps picking the sweep's newest); then only the 'vs_table_map' and
'vs_pwl' entries of coefficients.json (coefficients and '_timing') are refitted from every
current record of these kinds. The read-modify-write of both files holds /tmp/resource_model.lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
from pathlib import Path

from .calibrate import RECORDS, RESULT_RESOURCES, current_records, load_designs, source_hash

KINDS = ('vs_table_map', 'vs_pwl')
SEED0 = 38000
DESIGNS = 5
LOCK = Path('/tmp/resource_model.lock')
FLOAT_LAYERS = ('leaky', 'prelu', 'elu', 'tanh', 'sig', 'hsig')


def activation_model(seed: int):
    """(model, hls4ml config) of calibration design `seed`."""
    import hls4ml
    import numpy as np
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits, quantized_sigmoid, quantized_tanh

    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 17))
    L = tf.keras.layers
    x = tf.keras.Input((n,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    h = L.LeakyReLU(float(rng.uniform(0.01, 0.4)), name='leaky')(h)
    h = L.PReLU(name='prelu')(h)
    h = L.ELU(float(rng.uniform(0.3, 1.5)), name='elu')(h)
    h = L.Activation('tanh', name='tanh')(h)
    h = L.Activation('sigmoid', name='sig')(h)
    h = L.Activation('hard_sigmoid', name='hsig')(h)
    h = QActivation(quantized_bits(int(rng.integers(6, 11)), 2), name='q_mid')(h)
    h = QActivation(quantized_tanh(int(rng.integers(4, 9)), use_real_tanh=True), name='rtanh')(h)
    h = QActivation(quantized_sigmoid(int(rng.integers(4, 9)), symmetric=bool(rng.integers(2))), name='qsig')(h)
    model = tf.keras.Model(x, h)
    model.get_layer('prelu').set_weights([rng.uniform(-0.6, 0.6, size=n)])
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = 'fixed<8,3,RND_CONV,SAT>'
    for name in FLOAT_LAYERS:
        w = int(rng.integers(6, 19))
        i = int(rng.integers(2, min(w, 7)))
        rnd, sat = ('RND', 'TRN')[int(rng.integers(2))], ('SAT', 'WRAP')[int(rng.integers(2))]
        cfg['LayerName'][name]['Precision']['result'] = f'fixed<{w},{i},{rnd},{sat}>'
        if name in ('elu', 'tanh', 'sig'):
            cfg['LayerName'][name]['TableSize'] = int(2 ** rng.integers(6, 12))
    return model, cfg


def synth_activation_design(k: int, out_root: str) -> dict:
    """Design k synthesized: its vs_table_map and vs_pwl records."""
    import hls4ml

    from ..vhdl_backend.design import lower
    from ..vhdl_backend.synthesis import inclusive_cells, instance_modules, resources_of
    from .components import design_components

    model, cfg = activation_model(SEED0 + k)
    out = Path(out_root) / f'act{k}'
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(out))
    report = hm.build(synth=True)
    design = lower(hm)
    stat = json.loads((out / 'synth' / 'stat.json').read_text())
    cells = inclusive_cells(stat)
    mods = instance_modules((out / 'synth' / 'top.v').read_text(), design.project)
    per_unit = report['synth']['timing']['per_unit']
    records = []
    for comp in design_components(design):
        if comp.kind not in KINDS:
            continue
        measured = resources_of(cells[mods[comp.label]])
        timing = per_unit.get(comp.label, {})
        records.append({'kind': comp.kind, 'params': comp.params, 'count': 1,
                        'cells': {r: measured[r] for r in RESULT_RESOURCES},
                        'source': source_hash(comp.kind, out / 'vhdl'),
                        **({'delay_ns': timing['delay_ns'], 'levels': timing['levels']} if timing else {})})  # fmt: skip
    return {'seed': SEED0 + k, 'kind_only': ','.join(KINDS), 'records': records,
            'total': {r: report['synth'][r] for r in RESULT_RESOURCES}, 'latches': report['synth']['latches'],
            'timing_met': report['synth']['timing']['meets']}  # fmt: skip


def refit(records_path: Path = RECORDS, coefficients_path: Path | None = None) -> dict:
    """Refit the entries of KINDS in coefficients.json from their current records."""
    from .estimate import COEFFICIENTS, fit, fit_timing

    path = coefficients_path or COEFFICIENTS
    current = current_records(load_designs(records_path))
    coeffs = json.loads(path.read_text())
    fitted = {}
    for kind in KINDS:
        records = [r for r in current if r['kind'] == kind]
        if not records:
            raise SystemExit(f'no current {kind} records in {records_path}')
        coeffs[kind] = fit(records)[kind]
        coeffs.setdefault('_timing', {})[kind] = fit_timing(records)[kind]
        fitted[kind] = {'coefficients': coeffs[kind], '_timing': coeffs['_timing'][kind]}
    path.write_text(json.dumps(coeffs, indent=1, sort_keys=True) + '\n')
    return fitted


def main(argv=None):
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    n = int(argv[0]) if argv else DESIGNS
    with tempfile.TemporaryDirectory() as tmp:
        designs = [synth_activation_design(k, tmp) for k in range(n)]
    LOCK.touch(exist_ok=True)
    with open(LOCK) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        seeds = {d['seed'] for d in designs}
        kept = [d for d in load_designs(RECORDS) if d['seed'] not in seeds]  # a rerun replaces its designs
        RECORDS.write_text(''.join(json.dumps(d) + '\n' for d in kept + designs))
        fitted = refit()
    for d in designs:
        print(d['seed'], 'latches', d['latches'], 'timing met', d['timing_met'], d['total'])
        for rec in d['records']:
            print(' ', rec['kind'], rec['cells'], rec.get('delay_ns'), rec.get('levels'))
    print(json.dumps(fitted, indent=1), file=sys.stdout)


if __name__ == '__main__':
    main(sys.argv[1:])
