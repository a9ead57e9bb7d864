"""Calibrate the resource and timing entries of a few component kinds from a handful of small
synthesized designs, for kinds the random sweep of calibrate.py does not draw (the
calibrate_argmax, calibrate_activations and calibrate_merge_pool scripts).

A design keeps only the records of its kinds; they go to calibration_records.jsonl under seeds
below the sweep's (so that `calibrate --heldout` keeps picking the sweep's newest), a rerun
replacing its own seeds. Then only these kinds' entries of coefficients.json (coefficients and
'_timing') are refitted from every current record of them; every other entry stays as it is.
The read-modify-write of both files holds /tmp/resource_model.lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
from pathlib import Path

from .calibrate import RECORDS, RESULT_RESOURCES, current_records, load_designs, source_hash

LOCK = Path('/tmp/resource_model.lock')


def synth_kind_records(model, cfg: dict, out: Path, seed: int, kinds: tuple) -> dict:
    """Convert and synthesize `model` with `cfg` into `out`: the records of its `kinds` components
    (cells of the instance and below, worst path and LUT levels), and the design's totals."""
    import hls4ml

    from ..vhdl_backend.design import lower
    from ..vhdl_backend.synthesis import inclusive_cells, instance_modules, resources_of
    from .components import design_components

    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(out))
    report = hm.build(synth=True)
    design = lower(hm)
    cells = inclusive_cells(json.loads((out / 'synth' / 'stat.json').read_text()))
    mods = instance_modules((out / 'synth' / 'top.v').read_text(), design.project)
    per_unit = report['synth']['timing']['per_unit']
    records = []
    for comp in design_components(design):
        if comp.kind not in kinds:
            continue
        measured = resources_of(cells[mods[comp.label]])
        timing = per_unit.get(comp.label, {})
        records.append({'kind': comp.kind, 'params': comp.params, 'count': 1,
                        'cells': {r: measured[r] for r in RESULT_RESOURCES},
                        'source': source_hash(comp.kind, out / 'vhdl'),
                        **({'delay_ns': timing['delay_ns'], 'levels': timing['levels']} if timing else {})})  # fmt: skip
    return {'seed': seed, 'kind_only': ','.join(kinds), 'records': records,
            'total': {r: report['synth'][r] for r in RESULT_RESOURCES}, 'latches': report['synth']['latches'],
            'timing_met': report['synth']['timing']['meets']}  # fmt: skip


def refit(kinds: tuple, records_path: Path = RECORDS, coefficients_path: Path | None = None) -> dict:
    """Refit the entries of `kinds` in coefficients.json from their current records."""
    from .estimate import COEFFICIENTS, fit, fit_timing

    path = coefficients_path or COEFFICIENTS
    current = current_records(load_designs(records_path))
    coeffs = json.loads(path.read_text())
    fitted = {}
    for kind in kinds:
        records = [r for r in current if r['kind'] == kind]
        if not records:
            raise SystemExit(f'no current {kind} records in {records_path}')
        coeffs[kind] = fit(records)[kind]
        coeffs.setdefault('_timing', {})[kind] = fit_timing(records)[kind]
        fitted[kind] = {'coefficients': coeffs[kind], '_timing': coeffs['_timing'][kind]}
    path.write_text(json.dumps(coeffs, indent=1, sort_keys=True) + '\n')
    return fitted


def store_and_refit(designs: list, refit_kinds):
    """Store the design records (a rerun replaces the designs of its seeds) and refit, under the
    records' lock (other sweeps may write at the same time); returns what refit_kinds() returns."""
    LOCK.touch(exist_ok=True)
    with open(LOCK) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        seeds = {d['seed'] for d in designs}
        kept = [d for d in load_designs(RECORDS) if d['seed'] not in seeds]
        RECORDS.write_text(''.join(json.dumps(d) + '\n' for d in kept + designs))
        return refit_kinds()


def calibrate(synth_design, n: int, kinds: tuple) -> None:
    """Synthesize designs 0..n-1 (synth_design(k, out_root) -> a design record), store them, refit
    `kinds`, and print what was measured."""
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    with tempfile.TemporaryDirectory() as tmp:
        designs = [synth_design(k, tmp) for k in range(n)]
    fitted = store_and_refit(designs, lambda: refit(kinds))
    for d in designs:
        print(d['seed'], d['total'], 'latches', d['latches'], 'timing met', d['timing_met'])
        for rec in d['records']:
            print(' ', rec['kind'], rec['params'], rec['cells'], rec.get('delay_ns'), rec.get('levels'))
    print(json.dumps(fitted, indent=1), file=sys.stdout)
