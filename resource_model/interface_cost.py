"""The cost of a board interface's wrapper (Model Interface uart / spi / axis), added to the core's
estimate. A wrapper's logic hardly depends on the model (counters and registers of fixed width),
so each interface has a constant LUT/FF cost, plus a few flip-flops per bit of the values it
holds; the table (interface_costs.json) is fitted from Yosys synthesis of the wrappers by
`python -m vhdlspartan.resource_model.interface_cost` (see fit()).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

TABLE = Path(__file__).with_name('interface_costs.json')


def table() -> dict:
    return json.loads(TABLE.read_text())


def features(design, link) -> dict:
    """What a wrapper's size depends on: the widths of the values and addresses it moves."""
    i, o = design.input, design.output
    return {'const': 1.0, 'io_bits': float(i.type.width + o.type.width + i.aw + o.aw)}


def interface_cost(design, link) -> dict:
    rows = table()['interfaces'][link.kind]
    f = features(design, link)
    return {r: round(sum(coef * f[name] for name, coef in rows[r].items())) for r in ('LUT', 'FF')}


def add_interface(est, design, link):
    """The estimate with the wrapper counted (a per-layer row 'interface:<kind>' and the totals)."""
    if link.kind == 'memory':
        return est
    cost = interface_cost(design, link)
    row = {r: 0 for r in est.total}
    row.update({r: cost.get(r, 0) for r in row})
    per_layer = {**est.per_layer, f'interface:{link.kind}': row}
    total = {r: est.total[r] + row[r] for r in est.total}
    return replace(est, per_layer=per_layer, total=total)


def _design(tmp, kind: str, in_bits: int, out_bits: int, n_in: int, n_out: int):
    """A one-layer QKeras model with the given I/O widths, converted with Interface kind."""
    import hls4ml
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    x = tf.keras.Input((n_in,), name='x')
    h = QActivation(quantized_bits(in_bits, 2), name='q_in')(x)
    h = QDense(n_out, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1), name='d')(h)
    y = QActivation(quantized_bits(out_bits, 3), name='out')(h)
    model = tf.keras.Model(x, y)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = f'fixed<{in_bits},3,RND_CONV,SAT>'
    cfg['Model'].update({'Interface': kind, **({'BaudRate': 115200} if kind == 'uart' else {})})
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp), part='xc7s15ftgb196-2')  # fmt: skip
    hm.compile()
    return hm


SHAPES = ((4, 6, 8, 2), (8, 10, 10, 2), (12, 16, 40, 20))  # in bits, out bits, n_in, n_out


def fit(out: Path = TABLE) -> dict:
    """Synthesize each interface's wrapper around designs of several I/O widths (Yosys) and fit
    LUT and FF = const + k * io_bits by least squares; write the table."""
    import tempfile

    import numpy as np

    from ..vhdl_backend.interfaces import link_of

    tables, records = {}, []
    for kind in ('uart', 'spi', 'axis'):
        rows = []
        for shape in SHAPES:
            with tempfile.TemporaryDirectory() as tmp:
                hm = _design(Path(tmp) / 'prj', kind, *shape)
                syn = hm.build(synth=True)['synth']
                f = features(hm._vhdlspartan_design, link_of(hm.config))
                rows.append((f, syn['wrapper']))
                records.append({'interface': kind, 'shape': shape, 'features': f, 'wrapper': syn['wrapper'],
                                'timing_ns': syn['timing']['delay_ns'], 'levels': syn['timing']['levels']})  # fmt: skip
        a = np.array([[f['const'], f['io_bits']] for f, _ in rows])
        tables[kind] = {}
        for r in ('LUT', 'FF'):
            coef = np.linalg.lstsq(a, np.array([w[r] for _, w in rows], dtype=float), rcond=None)[0]
            tables[kind][r] = {'const': round(float(coef[0]), 3), 'io_bits': round(float(coef[1]), 3)}
    from ..vhdl_backend.synthesis import yosys_command
    import subprocess

    version = subprocess.run([*yosys_command(), '-V'], capture_output=True, text=True).stdout.strip()
    data = {'interfaces': tables, 'records': records, '_source': {'yosys': version, 'shapes': SHAPES}}
    out.write_text(json.dumps(data, indent=1, sort_keys=True) + '\n')
    return data


if __name__ == '__main__':
    print(json.dumps(fit()['interfaces'], indent=1))
