"""What the cocotb drivers of the stream units share (softmax, layer norm, add / affine /
average pooling): a flag read, reset, one run from start to done, and the quiet cycles after.

Each driver gives `step(rst, start)`: advance to the next falling edge, serve the unit's
memories, drive rst/start, and return that cycle's outputs {'done', 'y_we', 'y_addr', 'y_data'}.
"""

from __future__ import annotations


def bit(v):
    """0 or 1, or the unresolved value itself (X/U before the first clock edges)."""
    return int(v) if v.is_resolvable else v


async def reset(step) -> None:
    """Three cycles in reset, then two with neither a write nor done."""
    for _ in range(3):
        await step(rst=1, start=0)
    for k in range(2):
        out = await step(rst=0, start=0)
        assert out['y_we'] == 0 and out['done'] == 0, f'cycle {k} after reset: activity before start'


async def run_to_done(step, cycles: int, run, last_write_with_done: bool = False) -> list:
    """Pulse start and step until done; done must come exactly `cycles` cycles after start.
    Returns every write as (cycles after start, address, data LogicArray), with resolved
    flags, address and data."""
    writes = []
    await step(rst=0, start=1)
    n = 0
    while True:
        out = await step(rst=0, start=0)
        n += 1
        assert n <= cycles, f'run {run}: no done {cycles} cycles after start'
        assert out['y_we'] in (0, 1) and out['done'] in (0, 1), f'run {run}, {n} cycles after start: y_we/done {out}'
        if out['y_we']:
            addr, data = out['y_addr'], out['y_data']
            assert addr.is_resolvable and data.is_resolvable, f'run {run}, {n} cycles after start: write of {data} to {addr}'
            writes.append((n, addr.to_unsigned(), data))
        if out['done']:
            assert not last_write_with_done or out['y_we'] == 1, f'run {run}: done without the last write'
            break
    assert n == cycles, f'run {run}: done {n} cycles after start, expected cycles() = {cycles}'
    return writes


async def quiet(step, n: int) -> None:
    """n cycles after done with no write and done low."""
    for k in range(n):
        out = await step(rst=0, start=0)
        assert out['y_we'] == 0, f'{k + 1} cycles after done: write after done'
        assert out['done'] == 0, f'{k + 1} cycles after done: done high again'
