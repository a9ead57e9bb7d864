"""Weight packs: the block-RAM weight ROMs of several Dense layers as one ROM.

A block RAM delivers at most 36 bits a cycle (RAMB18), so a weight ROM as wide as the lanes
(16 lanes x 4 bits = 64) takes two RAMB18s however shallow it is: four 256-word attention
projections fill four half-empty pairs. The engine runs one product at a time, so Dense
layers whose weight words are equally wide can share one ROM, their weights one after the
other: 4 x 256 + 2 x 1024 words of 64 bits are 12 RAMB18s instead of 16.

VHDL: ``vs_rom_share.vhd`` forms the shared address (the members' addresses ORed, plus the
base of the member started last); the ROM itself is an ordinary generated ROM. The members are
laid out so that, when their sizes allow, no address carries into its base (``carry_free``):
the sum is then an OR, and the path from the controllers' addresses to the block RAM holds no
adder. The engine emits both (``Engine.emit``), and each member reads the pack's data instead
of its own ROM.
The arithmetic does not change, so the emulation has nothing to add; the resource model
costs the pack's ROM with the ROM rule and ``vs_rom_share`` with its own fitted features.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .base import Rom, addr_width, generic_map, rom_instance


def layout_bases(depths, order) -> tuple:
    """The first word of each member (in member order) when they lie one after another in order."""
    bases, word = [0] * len(depths), 0
    for k in order:
        bases[k] = word
        word += depths[k]
    return tuple(bases)


def aligned_bases(depths, aw: int) -> tuple | None:
    """Each member in a block of its depth rounded up to a power of 2, the largest at the top of
    the 2 ** aw words and the others below it, largest first: every base is then a multiple of
    its block, and the next base lies a block above it. None when the blocks do not fit."""
    blocks = [1 << (d - 1).bit_length() for d in depths]
    if sum(blocks) > 1 << aw:
        return None
    bases, top = [0] * len(depths), 1 << aw
    for k in sorted(range(len(depths)), key=lambda k: -blocks[k]):
        top -= blocks[k]
        bases[k] = top
    return tuple(bases)


def carry_free(bases, aw: int) -> bool:
    """vs_rom_share's test, from the bases alone: member k's addresses are below the gap from its
    base to the next base above it (or to 2 ** aw), so base + address is base | address when every
    base is a multiple of the power of 2 at or above its gap."""
    for b in bases:
        gap = min([c - b for c in bases if c > b] + [(1 << aw) - b])
        if b % (1 << (gap - 1).bit_length()):
            return False
    return True


@dataclass(eq=False)
class WeightPack:
    name: str
    members: tuple  # DenseUnits, in schedule order
    rom_cost: object = None  # Rom -> RAMB18s (the resource model's rule): padding must not cost a block

    @property
    def width(self) -> int:
        return self.members[0].roms()[0].width

    @cached_property
    def _layout(self) -> tuple:
        """(bases in member order, ROM words). The members lie one after another, in schedule order
        or else largest first, when that makes every sum of address and base carry-free; else each
        in an aligned block of its own (aligned_bases), when that costs no more block RAM; else one
        after another in schedule order, with an adder. The words are padded with zeros to 2 ** AW
        when that costs no more either: the ROM's bounds check on its address is then void."""
        roms = [unit.roms()[0] for unit in self.members]
        depths = [r.depth for r in roms]
        aw = addr_width(sum(depths))
        cost = self.rom_cost or (lambda rom: 0)

        def words_at(bases, size):
            words = [0] * size
            for base, r in zip(bases, roms):
                words[base:base + r.depth] = r.words
            return words

        plain = layout_bases(depths, range(len(depths)))
        layouts = [plain, layout_bases(depths, sorted(range(len(depths)), key=lambda k: -depths[k]))]
        bases = next((b for b in layouts if carry_free(b, aw)), None)
        limit = cost(Rom(self.name, words_at(plain, sum(depths)), self.width, 'bram'))
        if bases is None:
            aligned = aligned_bases(depths, aw)
            if aligned is not None and cost(Rom(self.name, words_at(aligned, 1 << aw), self.width, 'bram')) <= limit:
                return aligned, words_at(aligned, 1 << aw)
            bases = plain
        full = words_at(bases, 1 << aw)
        if cost(Rom(self.name, full, self.width, 'bram')) <= limit:
            return bases, full
        return bases, words_at(bases, sum(depths))

    @property
    def bases(self) -> tuple:
        """First word of each member's weights (in member order)."""
        return self._layout[0]

    @cached_property
    def rom(self) -> Rom:
        return Rom(self.name, self._layout[1], self.width, 'bram')

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
        pack = WeightPack(f'wpack{len(packs)}', tuple(members), rom_cost)
        if rom_cost(pack.rom) < sum(rom_cost(u.roms()[0]) for u in members):
            packs.append(pack)
    return packs
