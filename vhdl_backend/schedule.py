"""The static schedule: the cycle each unit starts, as early as the data it reads allows.

Every unit's timing is fixed at lowering, so no handshake is needed: a unit starts once every
element it reads has been written (a read in a later cycle than the write, since the memories
read the old word when both fall in one cycle), and once the shared engine and the read ports
of its input buffers are free. A unit that streams its input in the order its producer writes
it (``first_reads`` / ``write_cycles``) thus starts a few cycles after the producer instead of
after its last write, and the two run side by side. Units without element timing, and banked
buffers, fall back to starting when the producer is done.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .units.base import unit_inputs


@dataclass(frozen=True)
class Schedule:
    starts: tuple  # cycle each unit sees its start, relative to the cycle the top level sees start
    cycles: int  # start to done of the whole design: the latest unit's finish
    last: int  # index of the unit that finishes last (its done is the design's done)
    chained: tuple  # per unit: it starts exactly when the unit before it is done (on that unit's done)

    @property
    def ticked(self) -> tuple:
        """Indices of the units the top level starts from its cycle counter: those that overlap the
        unit before them (the others start with the design's start or the previous unit's done)."""
        return tuple(k for k, s in enumerate(self.starts) if s > 0 and not self.chained[k])

    @property
    def tick_last(self) -> int:
        """The counter's last value: the latest counter-started unit's start (0: no counter)."""
        return max((self.starts[k] for k in self.ticked), default=0)


def earliest_start(producer, p_start: int, consumer, buf) -> int:
    """The first cycle consumer may start, given that producer (started at p_start) writes buf."""
    writes = producer.write_cycles() if buf.banks == 1 and hasattr(producer, 'write_cycles') else None
    reads = consumer.first_reads().get(buf.name) if buf.banks == 1 and hasattr(consumer, 'first_reads') else None
    if writes is None or reads is None:
        return p_start + producer.cycles()
    return p_start + int(np.max(writes + 1 - reads))


def schedule(units) -> Schedule:
    starts, producer, readers_free = [], {}, {}
    engine_free, previous = 0, 0
    for unit in units:
        start = previous  # units keep their order (the top level's done is then well defined)
        for buf in unit_inputs(unit):
            start = max(start, readers_free.get(buf.name, 0))  # a buffer's readers share its address port
            if buf.name in producer:  # else the design's input, written before start
                p = producer[buf.name]
                start = max(start, earliest_start(units[p], starts[p], unit, buf))
        engine = getattr(unit, 'uses_engine', False)
        if engine:
            start = max(start, engine_free)
        starts.append(start)
        end = start + unit.cycles()
        if engine:
            engine_free = end
        for buf in unit_inputs(unit):
            readers_free[buf.name] = max(readers_free.get(buf.name, 0), end)
        producer[unit.y.name] = len(starts) - 1
        previous = start
    ends = [s + u.cycles() for s, u in zip(starts, units)]
    last = max(range(len(units)), key=lambda k: (ends[k], k))
    chained = tuple(k > 0 and starts[k] == ends[k - 1] for k in range(len(units)))
    return Schedule(tuple(starts), ends[last], last, chained)
