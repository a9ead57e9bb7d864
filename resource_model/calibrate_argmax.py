"""Calibrate the resource and timing model of one component kind, vs_argmax, from a handful of
small synthesized designs (the random sweep of calibrate.py draws none: its models have no
softmax layer of hls4ml's own).

    python -m vhdlspartan.resource_model.calibrate_argmax   # synthesize, append, refit vs_argmax only

Each design (QDense -> softmax with Implementation argmax, rows, classes and widths varied) is
converted and synthesized like a sweep design; only its vs_argmax record is appended to
calibration_records.jsonl (seeds 39000+, below the sweep's, so that `calibrate --heldout` keeps
picking the sweep's newest). Then only the 'vs_argmax' entries of coefficients.json (its
coefficients and its '_timing' figure) are refitted from every current vs_argmax record; every
other entry is left as it is. The read-modify-write of both files holds /tmp/resource_model.lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
from pathlib import Path

from .calibrate import RECORDS, RESULT_RESOURCES, current_records, load_designs, source_hash

KIND = 'vs_argmax'
SEED0 = 39000
LOCK = Path('/tmp/resource_model.lock')
# (time steps (1: 2-D), classes, Dense result precision, softmax result precision)
DESIGNS = (
    (1, 10, 'fixed<12,6,RND_CONV,SAT>', None),
    (1, 3, 'fixed<6,3,RND_CONV,SAT>', 'ufixed<8,1,RND_CONV,SAT>'),
    (1, 24, 'fixed<16,8,RND_CONV,SAT>', None),
    (4, 5, 'fixed<10,4,RND_CONV,SAT>', 'ufixed<2,1,RND_CONV,SAT>'),
    (6, 16, 'fixed<20,8,RND_CONV,SAT>', None),
    (1, 40, 'ufixed<9,4,RND_CONV,SAT>', 'fixed<4,2,RND_CONV,SAT>'),
)


def argmax_model(steps: int, classes: int, seed: int):
    import numpy as np
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    x = tf.keras.Input((steps, 4) if steps > 1 else (6,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    q = quantized_bits(6, 0, alpha=1)
    h = QDense(classes, kernel_quantizer=q, bias_quantizer=q, name='logits')(h)
    model = tf.keras.Model(x, tf.keras.layers.Activation('softmax', name='classify')(h))
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(size=w.shape) * 0.5 for w in layer.get_weights()])
    return model


def synth_argmax_design(k: int, out_root: str, spec: tuple | None = None) -> dict:
    """Design k of DESIGNS (or `spec`, a tuple like theirs) synthesized: its vs_argmax record."""
    import hls4ml

    from ..vhdl_backend.design import lower
    from ..vhdl_backend.synthesis import inclusive_cells, instance_modules, resources_of
    from .components import design_components

    steps, classes, logits_t, result_t = spec or DESIGNS[k]
    model = argmax_model(steps, classes, SEED0 + k)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = 'fixed<8,3,RND_CONV,SAT>'
    for name in ('logits', 'logits_linear'):  # hls4ml's linear activation after the QDense casts again
        cfg['LayerName'][name]['Precision']['result'] = logits_t
    cfg['LayerName']['classify']['Implementation'] = 'argmax'
    if result_t:
        cfg['LayerName']['classify']['Precision']['result'] = result_t
    out = Path(out_root) / f'argmax{k}'
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(out))
    report = hm.build(synth=True)
    design = lower(hm)
    stat = json.loads((out / 'synth' / 'stat.json').read_text())
    cells = inclusive_cells(stat)
    mods = instance_modules((out / 'synth' / 'top.v').read_text(), design.project)
    per_unit = report['synth']['timing']['per_unit']
    records = []
    for comp in design_components(design):
        if comp.kind != KIND:
            continue
        measured = resources_of(cells[mods[comp.label]])
        timing = per_unit.get(comp.label, {})
        records.append({'kind': KIND, 'params': comp.params, 'count': 1,
                        'cells': {r: measured[r] for r in RESULT_RESOURCES},
                        'source': source_hash(KIND, out / 'vhdl'),
                        **({'delay_ns': timing['delay_ns'], 'levels': timing['levels']} if timing else {})})  # fmt: skip
    return {'seed': SEED0 + k, 'kind_only': KIND, 'records': records,
            'total': {r: report['synth'][r] for r in RESULT_RESOURCES}, 'latches': report['synth']['latches']}  # fmt: skip


def refit(records_path: Path = RECORDS, coefficients_path: Path | None = None) -> dict:
    """Refit the vs_argmax entries of coefficients.json from the current vs_argmax records."""
    from .estimate import COEFFICIENTS, fit, fit_timing

    path = coefficients_path or COEFFICIENTS
    records = [r for r in current_records(load_designs(records_path)) if r['kind'] == KIND]
    if not records:
        raise SystemExit(f'no current {KIND} records in {records_path}')
    coeffs = json.loads(path.read_text())
    coeffs[KIND] = fit(records)[KIND]
    coeffs.setdefault('_timing', {})[KIND] = fit_timing(records)[KIND]
    path.write_text(json.dumps(coeffs, indent=1, sort_keys=True) + '\n')
    return {KIND: coeffs[KIND], '_timing': coeffs['_timing'][KIND]}


def main(argv=None):
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    with tempfile.TemporaryDirectory() as tmp:
        designs = [synth_argmax_design(k, tmp) for k in range(len(DESIGNS))]
    LOCK.touch(exist_ok=True)
    with open(LOCK) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        seeds = {d['seed'] for d in designs}
        kept = [d for d in load_designs(RECORDS) if d['seed'] not in seeds]  # a rerun replaces its designs
        RECORDS.write_text(''.join(json.dumps(d) + '\n' for d in kept + designs))
        fitted = refit()
    for d in designs:
        for rec in d['records']:
            print(d['seed'], rec['params'], rec['cells'], rec.get('delay_ns'), rec.get('levels'))
    print(json.dumps(fitted, indent=1), file=sys.stdout)


if __name__ == '__main__':
    main()
