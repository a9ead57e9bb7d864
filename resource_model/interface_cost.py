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
