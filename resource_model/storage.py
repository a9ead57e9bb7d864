"""`Storage: auto`: put each memory in block RAM or distributed RAM so that the design meets the
timing budget by the resource model's estimate (a deep ROM in LUTs decodes its address through
too many levels), then so that the binding resource (the highest utilization of the part) is as
low as it can be.

Greedy, largest memory first: every 'auto' memory starts in distributed RAM, then moves to
block RAM when that lowers the binding utilization (ties: fewer LUTs). Each step is one
analytical estimate, so the choice costs milliseconds.
"""

from __future__ import annotations

from .estimate import estimate_design

BALANCED = ('LUT', 'LUTRAM', 'BRAM18')  # what a memory's placement trades against


def auto_slots(design) -> list:
    """(object, attribute, bits) of every memory whose storage is 'auto'."""
    slots = [(buf, 'storage', buf.bits) for buf in design.all_buffers if buf.storage == 'auto']
    for unit in design.units:
        if getattr(unit, 'w_storage', None) == 'auto':  # Dense weights
            slots.append((unit, 'w_storage', unit.weights.size * unit.w_type.width))
        if getattr(unit, 'storage', None) == 'auto':  # BatchNorm scale and bias
            slots.append((unit, 'storage', unit.scale.size * (unit.s_type.width + unit.b_type.width)))
        if getattr(unit, 'table_storage', None) == 'auto':  # softmax exp table, positional encoding
            rom = unit.rom()
            slots.append((unit, 'table_storage', rom.depth * rom.width))
    return slots


def _score(design, part):
    from ..vhdl_backend.timing import BUDGET_NS

    est = estimate_design(design, part)
    util = est.utilization
    return (est.delay_ns > BUDGET_NS, max(util[r] for r in util), est.total['LUT'])


def choose_storage(design, part: str) -> None:
    slots = auto_slots(design)
    if not slots:
        return
    for obj, attr, _ in slots:
        setattr(obj, attr, 'lutram')
    best = _score(design, part)
    for obj, attr, _ in sorted(slots, key=lambda s: -s[2]):
        setattr(obj, attr, 'bram')
        score = _score(design, part)
        if score < best:
            best = score
        else:
            setattr(obj, attr, 'lutram')
