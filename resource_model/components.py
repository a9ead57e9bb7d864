"""The hardware a design instantiates, as components with the parameters their cost depends on.

One component per instance the top level (or the engine) holds: buffers, ROMs, unit
controllers, engine registers, engine lanes, and the top level's own glue. The estimate
and the calibration both work on this list, so they see the same hardware.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ..vhdl_backend.units.base import buffer_readers



@dataclass
class Component:
    kind: str  # 'ram', 'rom', a unit entity (vs_dense_ctrl, ...), 'engine', 'lane', 'glue'
    label: str  # instance label in the top level ('' for lanes and glue)
    layer: str  # the hls4ml layer it belongs to ('' for shared hardware)
    params: dict = field(default_factory=dict)
    count: int = 1  # identical instances (engine lanes)


def rom_params(rom) -> dict:
    """A ROM's cost in LUTs depends on its contents: constant bit columns cost nothing, equal
    columns are one function, and each 64-word slice of a column that is not constant is a LUT6."""
    words = np.array(list(rom.words) + [0] * (2 - rom.depth), dtype=object)  # as written: at least 2 words
    columns = {}
    for b in range(rom.width):
        column = tuple(((words >> b) & 1).tolist())
        if min(column) != max(column):
            columns[column] = columns.get(column, 0) + 1
    chunks = sum(len(set(col[i:i + 64])) > 1 for col in columns for i in range(0, len(col), 64))
    return {'depth': rom.depth, 'width': rom.width, 'storage': rom.storage,
            'varying_bits': sum(columns.values()), 'distinct_bits': len(columns), 'lut_chunks': chunks}  # fmt: skip


@functools.lru_cache(maxsize=256)
def _rom_params_of(name: str, width: int, storage: str, words: tuple) -> dict:
    from ..vhdl_backend.units.base import Rom

    return rom_params(Rom(name, list(words), width, storage))


def pack_rom_params(pack) -> dict:
    return _rom_params_of(pack.rom.name, pack.rom.width, 'bram', tuple(pack.rom.words))


def rom_ramb18(rom) -> int:
    """RAMB18s of a ROM in block RAM (the mapping rule: constant bit columns are not stored)."""
    from .estimate import rule_resources

    params = _rom_params_of(rom.name, rom.width, 'bram', tuple(rom.words))
    return rule_resources('rom', params)['BRAM18']


def unit_roms(unit) -> list:
    """The unit's ROM parameters, cached on the unit (contents do not change after lowering)."""
    cache = unit.__dict__.setdefault('_rom_params', {})
    roms = unit.roms() if hasattr(unit, 'roms') else ([unit.rom()] if hasattr(unit, 'rom') else [])
    out = []
    for rom in roms:
        key = (rom.name, rom.depth, rom.width)  # contents are fixed once the unit is lowered
        if key not in cache:
            cache[key] = rom_params(rom)
        out.append((rom.name, {**cache[key], 'storage': rom.storage}))
    return out


def unit_generics(unit, engine) -> dict:
    """The unit's VHDL generics, cached on the unit per engine (fixed once lowered; the storage
    choices the resource model tries do not change them)."""
    cached = unit.__dict__.get('_generics')
    if cached is None or cached[0] is not engine:
        cached = unit.__dict__['_generics'] = (engine, unit.generics(engine))
    return cached[1]


def design_components(design) -> list:
    readers = buffer_readers(design.units)
    readers[id(design.output)] = readers.get(id(design.output), 0) + 1  # the out_addr port
    comps = []
    owner = {}
    for unit in design.units:
        owner[id(unit.y)] = unit.layer_name
    for buf in design.all_buffers:  # a banked buffer is `banks` memories of `words` words
        comps.append(Component('ram', f'{buf.name}_ram', owner.get(id(buf), 'input'),
                               {'depth': buf.words, 'width': buf.type.width, 'storage': buf.storage,
                                'readers': readers.get(id(buf), 0)}, buf.banks))  # fmt: skip
    engine = design.engine
    packs = engine.weight_packs() if engine is not None else []
    packed = {f'{u.name}_w' for p in packs for u in p.members}  # weight ROMs read from a pack instead
    for unit in design.units:
        comps.append(Component(unit.entity, f'{unit.name}_{unit.label}', unit.layer_name, unit_generics(unit, engine)))
        for rom_name, params in unit_roms(unit):
            if rom_name not in packed:
                comps.append(Component('rom', f'{rom_name}_rom', unit.layer_name, params))
    for pack in packs:
        comps.append(Component('rom', f'{pack.name}_rom', '', pack_rom_params(pack)))
        comps.append(Component('vs_rom_share', f'{pack.name}_share', '', pack.resource_params()))
    if engine is not None:
        comps.append(Component('engine', 'engine', '', engine.generics()))
        lane = {'A_W': engine.a_width, 'B_W': engine.b_width, 'ACC_W': engine.acc_width}
        if engine.shift:  # vs_mac_lane DSP => 2: no multiplier
            comps.append(Component('lane', '', '', {**lane, 'DSP': 2}, engine.lanes))
        elif engine.dsp_lanes:
            comps.append(Component('lane', '', '', {**lane, 'DSP': 1}, engine.dsp_lanes))
        if not engine.shift and engine.lanes - engine.dsp_lanes:
            comps.append(Component('lane', '', '', {**lane, 'DSP': 0}, engine.lanes - engine.dsp_lanes))
    comps.append(Component('glue', '', '', glue_params(design, readers)))
    return comps


def glue_params(design, readers: dict) -> dict:
    """The top level's own logic: ORs of read addresses and of the engine's inputs."""
    or_inputs = sum(buf.aw * (readers.get(id(buf), 0) - 1) for buf in design.all_buffers if readers.get(id(buf), 0) > 1)
    engine = design.engine
    clients = sum(1 for u in design.units if getattr(u, 'uses_engine', False))
    engine_or = 0
    if engine is not None and clients > 1:
        engine_or = (engine.a_width + engine.lanes * engine.b_width + 3 + engine.sel_width) * (clients - 1)
    sched = design.schedule()
    tick_w = sched.tick_last.bit_length()  # the top level's start counter (top.start_signals)
    return {'address_or_bits': or_inputs, 'engine_or_bits': engine_or, 'engine_clients': clients,
            'sched_bits': tick_w, 'sched_compares': len(sched.ticked) * tick_w}
