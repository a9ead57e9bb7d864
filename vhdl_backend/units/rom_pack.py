"""Weight packs: the block-RAM weight ROMs of several Dense layers as one ROM.

A block RAM delivers at most 36 bits a cycle (RAMB18), so a weight ROM as wide as the lanes
(16 lanes x 4 bits = 64) takes two RAMB18s however shallow it is: four 256-word attention
projections fill four half-empty pairs. The engine runs one product at a time, so Dense
layers whose weight words are equally wide can share one ROM, their weights one after the
other: 4 x 256 + 2 x 1024 words of 64 bits are 12 RAMB18s instead of 16.

VHDL: ``vs_rom_share.vhd`` forms the shared address (the members' addresses ORed, plus the
base of the member started last); the ROM itself is an ordinary generated ROM. The engine
emits both (``Engine.emit``), and each member reads the pack's data instead of its own ROM.
The arithmetic does not change, so the emulation has nothing to add; the resource model
costs the pack's ROM with the ROM rule and ``vs_rom_share`` with its own fitted features.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .base import Rom, generic_map, rom_instance


@dataclass(eq=False)
class WeightPack:
    name: str
    members: tuple  # DenseUnits, in schedule order

    @property
    def width(self) -> int:
        return self.members[0].roms()[0].width

    @cached_property
    def bases(self) -> tuple:
        """First word of each member's weights."""
        out, base = [], 0
        for unit in self.members:
            out.append(base)
            base += unit.roms()[0].depth
        return tuple(out)

    @cached_property
    def rom(self) -> Rom:
        words = [w for unit in self.members for w in unit.roms()[0].words]
        return Rom(self.name, words, self.width, 'bram')

    def generics(self) -> dict:
        n, aw = len(self.members), self.rom.aw
        bases = ''.join(f'{b:0{aw}b}' for b in reversed(self.bases))  # member 0 in the low bits
        return {'N': n, 'AW': aw, 'BASES': f'"{bases}"'}

    def emit(self) -> tuple:
        """(signals, body) of the pack: its ROM and the shared address."""
        n, aw, rom = self.name, self.rom.aw, self.rom
        rom_signals, rom_body = rom_instance(rom)
        signals = [*rom_signals, f'signal {n}_start : std_logic_vector({len(self.members) - 1} downto 0);',
                   f'signal {n}_addr_in : std_logic_vector({len(self.members) * aw - 1} downto 0);']  # fmt: skip
        body = rom_body
        for k, unit in enumerate(self.members):
            own = unit.roms()[0].aw
            body += f'  {n}_start({k}) <= {unit.name}_start;\n'
            body += f"  {n}_addr_in({k * aw + aw - 1} downto {k * aw}) <= "
            body += f"{unit.name}_w_addr;\n" if own == aw else f"({aw - own - 1} downto 0 => '0') & {unit.name}_w_addr;\n"
        body += f"""  {n}_share : entity work.vs_rom_share
    generic map ({generic_map(**self.generics())})
    port map (clk => clk, start => {n}_start, addr_in => {n}_addr_in, addr => {rom.name}_addr);
"""
        return signals, body

    def resource_params(self) -> dict:
        """What vs_rom_share's cost depends on: the adder, the OR of the addresses, the base bits."""
        n, aw = len(self.members), self.rom.aw
        used = 0
        for b in self.bases:
            used |= b
        return {'N': n, 'AW': aw, 'or_bits': aw * (n - 1), 'base_bits': used.bit_count()}


def weight_packs(jobs, rom_cost) -> list:
    """The packs worth making among the engine's jobs: Dense layers whose weights are in block
    RAM, grouped by word width, when one ROM takes fewer RAMB18s than separate ones.
    rom_cost(Rom) -> RAMB18s (the resource model's mapping rule)."""
    groups = {}
    for unit in jobs:
        if getattr(unit, 'w_storage', None) == 'bram' and hasattr(unit, 'roms'):
            groups.setdefault(unit.roms()[0].width, []).append(unit)
    packs = []
    for members in groups.values():  # in the order of their first member
        if len(members) < 2:
            continue
        pack = WeightPack(f'wpack{len(packs)}', tuple(members))
        if rom_cost(pack.rom) < sum(rom_cost(u.roms()[0]) for u in members):
            packs.append(pack)
    return packs
