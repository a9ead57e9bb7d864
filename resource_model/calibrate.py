"""Calibrate the resource model against real synthesis (GHDL + Yosys), or Vivado reports.

    python -m vhdlspartan.resource_model.calibrate --designs 80   # sweep 80 more designs + refit coefficients.json
    python -m vhdlspartan.resource_model.calibrate --designs 0    # refit from the recorded designs only
    python -m vhdlspartan.resource_model.calibrate --vivado DIR ...    # fit from Vivado utilization reports

The sweep draws random designs (layer types, sizes, bitwidths, rounding, storage kinds, lane
counts), converts each through hls4ml, synthesizes it, and records every component's cells
(its instance and everything below it), appended to calibration_records.jsonl. Each record
carries a digest of its component's source; `fit` uses the records whose digest matches today's
sources, so a changed VHDL entity is refitted from designs synthesized since the change.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import re
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

RESULT_RESOURCES = ('LUT', 'LUTRAM', 'FF', 'BRAM18', 'DSP', 'CARRY4')


def _precision(rng, signed=True, lo=4, hi=14):
    from ..fixed import ROUNDING_MODES, SATURATION_MODES

    width = int(rng.integers(lo, hi + 1))
    integer = int(rng.integers(1, min(width, 6) + 1))
    rnd = ROUNDING_MODES[int(rng.integers(len(ROUNDING_MODES)))]
    sat = SATURATION_MODES[int(rng.integers(len(SATURATION_MODES)))]
    return f'{"fixed" if signed else "ufixed"}<{width},{integer},{rnd},{sat}>'


def random_model(rng):
    """A random Keras model of the layer kinds the backend supports, and its hls4ml config:
    about a third are Transformer encoders (attention, softmax, layer or batch norm, positional
    encoding, pooling), the rest stacks of Dense, activations, residual adds and BatchNorm."""
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    if rng.random() < TRANSFORMER_SHARE:
        return random_transformer(rng)
    import hls4ml
    import tensorflow as tf

    L = tf.keras.layers
    steps = int(rng.choice([1, 1, 4, 6, 12, 24]))
    feats = int(rng.integers(1, 9))
    x = tf.keras.Input((steps, feats) if steps > 1 else (feats,), name='x')
    h, k = x, 0
    for _ in range(int(rng.integers(1, 4))):
        k += 1
        units = int(rng.choice([2, 4, 8, 16, 32, 48, 64]))
        h = L.Dense(units, name=f'dense{k}')(h)
        h = L.Activation('relu' if rng.random() < 0.7 else 'linear', name=f'act{k}')(h)
        if rng.random() < 0.3:
            h2 = L.Activation('relu', name=f'act{k}b')(L.Dense(units, name=f'dense{k}b')(h))
            h = L.Add(name=f'add{k}')([h, h2])
        if rng.random() < 0.3:
            h = L.BatchNormalization(name=f'bn{k}')(h)
    if steps > 1:
        h = L.GlobalAveragePooling1D(name='pool')(h) if rng.random() < 0.5 else L.Flatten(name='flat')(h)
    y = L.Dense(int(rng.integers(1, 4)), name='head')(h)
    model = tf.keras.Model(x, y)
    for layer in model.layers:
        if layer.get_weights():
            weights = [rng.normal(size=w.shape) for w in layer.get_weights()]
            if isinstance(layer, L.BatchNormalization):
                weights[-1] = np.abs(weights[-1]) + 0.1  # a variance
            layer.set_weights(weights)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    lanes = int(rng.choice([1, 2, 3, 4, 8, 16]))
    cfg['Model'].update({'Lanes': lanes, 'DSPLanes': int(rng.integers(0, lanes + 1)),
                         'Storage': str(rng.choice(['bram', 'lutram', 'auto']))})  # fmt: skip
    # half the models quantize every weight alike, as uniform-precision models do (their Dense
    # layers' weights can then share a block-RAM ROM: rom_pack.py)
    shared_weight = _precision(rng, lo=2, hi=10) if rng.random() < 0.5 else None
    for name, layer_cfg in cfg['LayerName'].items():
        prec = layer_cfg.setdefault('Precision', {})
        prec['result'] = _precision(rng, signed=not name.startswith('act') or rng.random() < 0.5)
        for var in ('weight', 'bias', 'scale'):
            if var in prec:
                prec[var] = shared_weight if var == 'weight' and shared_weight else _precision(rng, lo=2, hi=10)
        if rng.random() < 0.3:
            layer_cfg['Storage'] = str(rng.choice(['bram', 'lutram']))
    return model, cfg


TRANSFORMER_SHARE = 0.35


def random_transformer(rng):
    """A small random ts_transformer (random widths, per-part bits, norm kind, lanes, storage)."""
    from ..layers import QFoldedBatchNorm
    from ..models import BITS_KEYS, hls_config, ts_transformer

    d_model = int(rng.choice([4, 8, 8, 16, 16, 24]))
    heads = int(rng.choice([h for h in (1, 2, 4) if d_model % h == 0 and d_model // h >= 2]))
    bits = {k: int(rng.integers(4, 9)) for k in BITS_KEYS}
    model = ts_transformer(int(rng.choice([4, 6, 8, 12])), int(rng.integers(1, 4)), d_model, heads,
                           int(rng.choice([1, 2, 4])) * d_model, 1, bits=bits, norm=str(rng.choice(['batch', 'layer'])),
                           integer=int(rng.integers(2, 4)))  # fmt: skip
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            new = [rng.normal(size=w.shape) * 0.4 for w in weights]
            if isinstance(layer, QFoldedBatchNorm):
                new[-1] = np.abs(new[-1]) + 0.5  # a variance
            layer.set_weights(new)
    lanes = int(rng.choice([1, 2, 3, 4, 8, 16]))
    cfg = hls_config(model, lanes=lanes, dsp_lanes=int(rng.integers(0, lanes + 1)),
                     integer=model.get_layer('q_in').quantizer.integer,
                     Storage=str(rng.choice(['bram', 'lutram', 'auto'])))  # fmt: skip
    for layer_cfg in cfg['LayerName'].values():
        if rng.random() < 0.2:
            layer_cfg['Storage'] = str(rng.choice(['bram', 'lutram']))
    return model, cfg


VHDL_DIR = Path(__file__).resolve().parents[1] / 'vhdl_backend' / 'vhdl'


def _vhdl_closure(entity: str, vhdl_dir: Path, seen: set) -> list:
    """The entity's VHDL file and those of every entity it instantiates."""
    path = vhdl_dir / f'{entity}.vhd'
    if entity in seen or not path.exists():
        return []
    seen.add(entity)
    text = path.read_text()
    subs = sorted(set(re.findall(r'entity\s+work\.(\w+)', text)))
    return [text] + [t for sub in subs for t in _vhdl_closure(sub, vhdl_dir, seen)]


def source_hash(kind: str, vhdl_dir: Path = VHDL_DIR) -> str:
    """A digest of the source a component kind's cells come from (its VHDL and what it
    instantiates, with the fixed-point package; the generator for ROMs and top-level glue, and
    for ROMs the rewrite of their contents for Yosys).
    Records whose digest differs from today's describe hardware that has since changed.
    A sweep hashes the VHDL copied into each project, i.e. exactly what was synthesized."""
    from ..vhdl_backend import synthesis, top

    entity = {'ram': 'vs_ram', 'engine': 'vs_mac_engine', 'lane': 'vs_mac_lane'}.get(kind, kind)
    texts = _vhdl_closure(entity, vhdl_dir, set()) + _vhdl_closure('vs_fixed_pkg', vhdl_dir, set())
    if kind == 'rom':  # its contents reach Yosys through binary_literals
        texts += [inspect.getsource(top.rom_vhdl), inspect.getsource(synthesis.binary_literals)]
    if kind == 'glue':
        texts += [inspect.getsource(top.top_vhdl), inspect.getsource(top.buffer_vhdl)]
    return hashlib.sha256('\n'.join(texts).encode()).hexdigest()[:16]


class TodaySources:
    """Whether a record was synthesized from today's source of its component kind (digests
    computed once per kind)."""

    def __init__(self):
        self.digests = {}

    def __call__(self, rec: dict) -> bool:
        kind = rec['kind']
        if kind not in self.digests:
            self.digests[kind] = source_hash(kind)
        return rec.get('source') == self.digests[kind]


def current_records(designs: list) -> list:
    """Component records of the designs whose source digest matches today's sources
    (designs marked heldout are left out of every fit)."""
    current, kept, dropped = TodaySources(), [], {}
    for d in designs:
        if d.get('heldout'):  # kept to check the fit on designs it never saw
            continue
        for rec in d['records']:
            if current(rec):
                kept.append(rec)
            else:
                dropped[rec['kind']] = dropped.get(rec['kind'], 0) + 1
    for kind, n in sorted(dropped.items()):
        print(f'{n} records of {kind} left out: its source changed since they were synthesized', file=sys.stderr)
    return kept


def synth_design(seed: int, out_root: str, simulate: bool = False) -> dict:
    """Convert and synthesize one random design; its components with their synthesized cells,
    the estimate's totals, and (with ``simulate``) the latency GHDL measures."""
    import hls4ml

    from ..vhdl_backend.synthesis import inclusive_cells, instance_modules, resources_of
    from .components import design_components

    rng = np.random.default_rng(seed)
    model, cfg = random_model(rng)
    out = Path(out_root) / f'design{seed}'
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(out))
    report = hm.build(synth=True, sim=simulate, n_samples=3)
    from ..vhdl_backend.design import lower

    design = lower(hm)
    syn_dir = out / 'synth'
    stat = json.loads((syn_dir / 'stat.json').read_text())
    netlist = (syn_dir / 'top.v').read_text()
    cells = inclusive_cells(stat)
    mods = instance_modules(netlist, design.project)
    engine_mod = mods.get('engine')
    per_unit = report['synth']['timing']['per_unit']
    records = []
    for comp in design_components(design):
        if comp.kind == 'glue':
            own = {c: n for c, n in stat['modules'][f'\\{design.project}']['num_cells_by_type'].items() if c not in cells}
            measured = resources_of(own)
        elif comp.kind == 'engine':
            own = stat['modules'][f'\\{engine_mod}']['num_cells_by_type']
            measured = resources_of({c: n for c, n in own.items() if c not in cells})
        elif comp.kind == 'lane':
            p = comp.params
            measured = resources_of(cells[f'vs_mac_lane_{p["A_W"]}_{p["B_W"]}_{p["ACC_W"]}_{p["DSP"]}'])
            measured = {k: v * comp.count if isinstance(v, int) else v for k, v in measured.items()}
        elif comp.kind == 'ram' and comp.count > 1:  # a banked buffer: one memory per bank
            banks = [resources_of(cells[mods[f'{comp.label}_{k}']]) for k in range(comp.count)]
            measured = {r: sum(b[r] for b in banks) for r in RESULT_RESOURCES}
        else:
            measured = resources_of(cells[mods[comp.label]])
        records.append({'kind': comp.kind, 'params': comp.params, 'count': comp.count,
                        'cells': {r: measured[r] for r in RESULT_RESOURCES}, 'source': source_hash(comp.kind, out / 'vhdl'),
                        **component_timing(comp, per_unit)})  # fmt: skip
    total = {r: report['synth'][r] for r in RESULT_RESOURCES}
    result = {'seed': seed, 'records': records, 'total': total, 'estimate': report['synth']['estimate'],
              'cycles_estimated': report['cycles_estimated']}  # fmt: skip
    if simulate:
        result['cycles_simulated'] = report['sim']['cycles']
        result['bit_exact'] = report['sim']['bit_exact']
    return result


def component_timing(comp, per_unit: dict) -> dict:
    """The worst path (ns, LUT levels) the timing walk found ending in the component's instances
    ({} for lanes, which end inside the engine's instance)."""
    if comp.kind == 'lane':
        return {}
    if comp.kind == 'glue':
        labels = ['top']
    elif comp.kind == 'ram' and comp.count > 1:
        labels = [f'{comp.label}_{k}' for k in range(comp.count)]
    else:
        labels = [comp.label]
    found = [per_unit[lb] for lb in labels if lb in per_unit]
    if not found:
        return {}
    return {'delay_ns': max(u['delay_ns'] for u in found), 'levels': max(u['levels'] for u in found)}


def sweep(n: int, seed0: int, jobs: int, save: Path | None = None, simulate: bool = False) -> list:
    """Synthesize n random designs; each finished design is appended to ``save`` at once."""
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(jobs) as pool:
        futures = [pool.submit(synth_design, seed0 + i, tmp, simulate) for i in range(n)]
        results = []
        for i, fut in enumerate(futures):
            try:
                results.append(fut.result())
                if save:
                    with open(save, 'a') as f:
                        f.write(json.dumps(results[-1]) + '\n')
            except Exception as exc:  # a design the flow refuses is skipped, and said so
                print(f'design {seed0 + i}: skipped ({str(exc).splitlines()[0][:120]})', file=sys.stderr)
            print(f'{i + 1}/{n} designs synthesized', file=sys.stderr)
    return results


def parse_vivado_hierarchy(text: str) -> dict:
    """{instance path: {resource: count}} from `report_utilization -hierarchical`
    (counts include everything below the instance, as Vivado reports them)."""
    rows, header, stack = {}, None, []
    for line in text.splitlines():
        if not line.startswith('|'):
            continue
        cells = [c for c in line.strip().strip('|').split('|')]
        if header is None:
            header = [c.strip() for c in cells]
            continue
        name = cells[0].rstrip()
        depth = (len(name) - len(name.lstrip(' '))) // 2
        stack[depth:] = [name.strip()]
        values = dict(zip(header[2:], (c.strip() for c in cells[2:])))

        def num(*keys):
            return sum(int(float(values[k])) for k in keys if values.get(k, '').replace('.', '').isdigit())

        rows['/'.join(stack)] = {
            'LUT': num('Total LUTs'), 'LUTRAM': num('LUTRAMs', 'SRLs'), 'FF': num('FFs'),
            'BRAM18': num('RAMB18') + 2 * num('RAMB36'), 'DSP': num('DSP Blocks', 'DSP48 Blocks'), 'CARRY4': 0,
        }  # fmt: skip
    return rows


def vivado_records(project_dir: Path) -> list:
    """Records of one project from its components.json and Vivado's hierarchical report."""
    comps = json.loads((project_dir / 'components.json').read_text())
    rows = parse_vivado_hierarchy((project_dir / 'vivado' / 'utilization_hier.rpt').read_text())
    top = next(iter(rows))
    children = {path.split('/', 1)[1]: res for path, res in rows.items() if path.count('/') == 1}
    lanes = {path: res for path, res in rows.items() if path.startswith(f'{top}/engine/') and path.count('/') == 3}

    def minus(a, parts):
        return {r: a[r] - sum(p[r] for p in parts) for r in a}

    dsp_lanes = next((c['params']['DSP_LANES'] for c in comps if c['kind'] == 'engine'), 0)

    def lane_index(path):  # lanes_gen[k].lane (or lanes_gen_k_...): lanes below DSP_LANES are DSPs
        match = re.search(r'(\d+)', path.rsplit('/', 2)[-2] if path.count('/') > 2 else path)
        return int(match.group(1)) if match else 0

    records = []
    for comp in comps:
        if comp['kind'] == 'glue':
            cells = minus(rows[top], children.values())
        elif comp['kind'] == 'engine':
            cells = minus(children['engine'], lanes.values())
        elif comp['kind'] == 'lane':
            mine = [res for path, res in lanes.items() if (lane_index(path) < dsp_lanes) == bool(comp['params']['DSP'])]
            cells = {r: sum(res[r] for res in mine) for r in RESULT_RESOURCES}
        else:
            cells = children[comp['label']]
        records.append({'kind': comp['kind'], 'params': comp['params'], 'count': comp['count'], 'cells': cells})
    return records


def tool_versions() -> dict:
    import subprocess

    from ..vhdl_backend.simulation import ghdl
    from ..vhdl_backend.synthesis import yosys_command

    ghdl_v = subprocess.run([ghdl(), '--version'], capture_output=True, text=True).stdout.splitlines()[0]
    yosys_v = subprocess.run([*yosys_command(), '-V'], capture_output=True, text=True).stdout.strip()
    return {'ghdl': ghdl_v, 'yosys': yosys_v}


RECORDS = Path(__file__).with_name('calibration_records.jsonl')


def load_designs(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def main(argv=None):
    from .estimate import COEFFICIENTS, fit, fit_timing

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--designs', type=int, default=80, help='new random designs to synthesize (0: refit only)')
    ap.add_argument('--seed', type=int, help='seed of the first new design (default: after the recorded ones)')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--records', type=Path, default=RECORDS,
                    help='JSON-lines records: new designs are appended, the fit uses every current one')
    ap.add_argument('--heldout', type=int, default=0,
                    help='mark the N most recent designs (highest seeds) as held out of the fit before refitting')
    ap.add_argument('--vivado', type=Path, nargs='+', help='project folders with Vivado hierarchical reports')
    ap.add_argument('--out', type=Path, default=COEFFICIENTS)
    args = ap.parse_args(argv)
    if args.vivado:
        records = [r for d in args.vivado for r in vivado_records(d)]
        coeffs = fit(records)
        coeffs['_source'] = {'designs': len(args.vivado), 'synthesis': 'Vivado report_utilization -hierarchical'}
        out = args.out if args.out != COEFFICIENTS else COEFFICIENTS.with_name('coefficients_vivado.json')
        out.write_text(json.dumps(coeffs, indent=1, sort_keys=True) + '\n')
        print(f'wrote {out} from {len(args.vivado)} Vivado reports; use it with VHDLSPARTAN_COEFFICIENTS={out}')
        return
    if args.designs:
        seed = args.seed if args.seed is not None else max((d['seed'] for d in load_designs(args.records)), default=999) + 1
        sweep(args.designs, seed, args.jobs, args.records)
    designs = load_designs(args.records)
    if args.heldout:
        newest = sorted(d['seed'] for d in designs)[-args.heldout :]
        for d in designs:
            if d['seed'] in newest:
                d['heldout'] = True
        args.records.write_text(''.join(json.dumps(d) + '\n' for d in designs))
    records = current_records(designs)
    coeffs = fit(records)
    coeffs['_timing'] = fit_timing(records)
    fitted = sum(not d.get('heldout') for d in designs)
    coeffs['_source'] = {'designs': fitted, 'heldout_designs': len(designs) - fitted, 'tools': tool_versions(),
                         'synthesis': 'GHDL --synth + Yosys synth_xilinx -family xc7'}  # fmt: skip
    pairs = heldout_pairs(designs, coeffs)
    if pairs:  # the tuner keeps this much headroom on the fitted resources (estimate.GUARDED)
        coeffs['_source']['heldout_error'] = {r: round(float(np.mean(mape_errors(pairs, r))), 4) for r in ('LUT', 'FF')}
    args.out.write_text(json.dumps(coeffs, indent=1, sort_keys=True) + '\n')
    print(f'wrote {args.out} from the current records of {fitted} designs in {args.records}')
    print(heldout_report(designs, coeffs))


def mape_errors(pairs: list, resource: str) -> list:
    return [abs(round(est[resource]) - syn[resource]) / max(syn[resource], 1) for est, syn in pairs]


def accuracy_lines(pairs: list) -> list:
    """Estimate against synthesis over designs, given (estimated totals, synthesized totals)
    pairs: mean absolute percentage error of LUT and FF, designs with BRAM18 and DSP exact."""
    n = len(pairs)
    lines = []
    for r in ('LUT', 'FF'):
        errs = mape_errors(pairs, r)
        lines.append(f'{r}: mean absolute percentage error {100 * np.mean(errs):.2f}% (max {100 * np.max(errs):.1f}%)')
    for r in ('BRAM18', 'DSP'):
        k = sum(round(est[r]) == syn[r] for est, syn in pairs)
        lines.append(f'{r}: exact in {k}/{n} designs ({100 * k / n:.0f}%)')
    return lines


def heldout_pairs(designs: list, coeffs: dict) -> list:
    """(estimated totals, synthesized totals) of the held-out designs from today's sources."""
    from .estimate import component_cost

    current = TodaySources()  # an older design's totals are those of hardware that has since changed
    pairs = []
    for d in designs:
        if not d.get('heldout') or not all(map(current, d['records'])):
            continue
        est = dict.fromkeys(('LUT', 'FF', 'BRAM18', 'DSP'), 0.0)
        for rec in d['records']:
            cost = component_cost(rec['kind'], rec['params'], rec['count'], coeffs)
            for r in est:
                est[r] += cost[r]
        pairs.append((est, d['total']))
    return pairs


def heldout_report(designs: list, coeffs: dict) -> str:
    """The fit's error on the held-out designs (whole-design totals against synthesis)."""
    held_all = sum(bool(d.get('heldout')) for d in designs)
    pairs = heldout_pairs(designs, coeffs)
    if not pairs:
        return f'no held-out designs from today\'s sources ({held_all} older ones)'
    older = f' ({held_all - len(pairs)} older ones left out)' if held_all > len(pairs) else ''
    return f'{len(pairs)} held-out designs{older}: ' + '; '.join(accuracy_lines(pairs))


if __name__ == '__main__':
    main()
