"""Weight packs (vhdl_backend/units/rom_pack.py): Dense layers' block-RAM weights in one ROM.
The pack must save block RAM, keep the design bit-exact in GHDL, and synthesize to the RAMB18
count the resource model gives."""

import numpy as np
import pytest

from conftest import grid_inputs
from ghdl_runner import library, needs_ghdl, run_case
from test_transformer import random_weights
from vhdlspartan.models import hls_config, ts_transformer
from vhdlspartan.vhdl_backend.design import lower
from vhdlspartan.vhdl_backend.units.base import Rom
from vhdlspartan.vhdl_backend.units.rom_pack import WeightPack, aligned_bases, carry_free, layout_bases


def _convert(tmp_path, lanes=4, bits=8, layer_storage=None, **cfg):
    import hls4ml

    model = random_weights(ts_transformer(6, 2, 8, 1, 16, 1, bits=bits, norm='batch'), 3)
    config = hls_config(model, lanes=lanes, **cfg)
    for layer, storage in (layer_storage or {}).items():
        config['LayerName'][layer]['Storage'] = storage
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=config,
                                                    backend='VHDLSpartan', output_dir=str(tmp_path / 'prj'),
                                                    part='xc7s15')  # fmt: skip
    return model, hm


def test_packs_group_equal_widths_and_save_block_ram(tmp_path):
    from vhdlspartan.resource_model.components import rom_ramb18
    from vhdlspartan.resource_model.components import design_components

    _, hm = _convert(tmp_path, Storage='bram')
    design = lower(hm)
    packs = design.engine.weight_packs()
    assert len(packs) == 1
    pack = packs[0]
    members = [u.layer_name for u in pack.members]
    assert members == ['embed', 'att0', 'att0', 'att0', 'att0', 'ffn0_up', 'ffn0_down']  # 32-bit words, in order
    roms = [u.roms()[0] for u in pack.members]
    # the members lie one after another in the ROM, here largest first: no address carries into its base
    order = sorted(range(len(roms)), key=lambda k: pack.bases[k])
    assert [pack.bases[k] for k in order] == list(np.cumsum([0] + [roms[k].depth for k in order[:-1]]))
    used = sum(r.depth for r in roms)
    assert pack.rom.words[:used] == [w for k in order for w in roms[k].words]
    assert pack.rom.depth == 1 << pack.rom.aw and not any(pack.rom.words[used:])  # zeros up to 2 ** AW
    assert order != list(range(len(roms))) and carry_free(pack.bases, pack.rom.aw)
    assert not carry_free(layout_bases([r.depth for r in roms], range(len(roms))), pack.rom.aw)
    assert all(b % (1 << (r.depth - 1).bit_length()) == 0 for b, r in zip(pack.bases, roms))
    assert rom_ramb18(pack.rom) == 1 < sum(map(rom_ramb18, roms)) == 7  # one RAMB18 for seven half-empty ones
    # the head's 1-lane ROM is narrower: not in the pack; in LUTs, nothing is packed
    assert all(u.layer_name != 'head' for u in pack.members)
    # the resource model sees the pack's ROM and its address logic instead of the members' ROMs
    labels = [c.label for c in design_components(design)]
    assert 'wpack0_rom' in labels and 'wpack0_share' in labels and 'u_att0_q_w_rom' not in labels
    _, hm_lut = _convert(tmp_path / 'lut', Storage='lutram')
    assert lower(hm_lut).engine.weight_packs() == []


def test_packs_need_two_members_that_save_a_block(tmp_path):
    # one Dense alone in block RAM: nothing to share it with
    _, hm = _convert(tmp_path, Storage='lutram', layer_storage={'ffn0_up': 'bram'})
    assert lower(hm).engine.weight_packs() == []
    # two at 1 lane: 8-bit words, 8 x 16 + 16 x 8 of them fit one RAMB18 either way... each is one
    # block alone and one together, so the pack saves one block and is made
    _, hm = _convert(tmp_path / 'two', lanes=1, Storage='lutram', layer_storage={'ffn0_up': 'bram', 'ffn0_down': 'bram'})
    packs = lower(hm).engine.weight_packs()
    assert [[u.layer_name for u in p.members] for p in packs] == [['ffn0_up', 'ffn0_down']]


@pytest.mark.slow
def test_packed_design_is_bit_exact_and_synthesizes_to_the_estimate(tmp_path):
    model, hm = _convert(tmp_path, Storage='bram')
    hm.compile()
    x = grid_inputs(hm, 60, seed=1)
    report = hm.build(sim=True, synth=True, x=x)
    sim, syn = report['sim'], report['synth']
    assert sim['bit_exact'] and sim['mismatches'] == 0 and sim['analysis_messages'] == ''
    np.testing.assert_array_equal(sim['outputs'], model(x).numpy().reshape(60, -1))
    assert sim['cycles'] == report['cycles_estimated']
    assert syn['latches'] == 0
    assert syn['BRAM18'] == syn['estimate']['BRAM18']
    top = (tmp_path / 'prj' / 'vhdl' / 'myproject.vhd').read_text()
    assert 'wpack0_share : entity work.vs_rom_share' in top and 'u_att0_q_w_rom' not in top


class _Member:
    """What a pack reads of a Dense unit: its weight ROM."""

    def __init__(self, k, depth):
        self.rom = Rom(f'm{k}', [(k << 12) + j + 1 for j in range(depth)], 16, 'bram')

    def roms(self):
        return [self.rom]


def test_carry_free_layouts():
    assert carry_free(layout_bases([64] * 4 + [256] * 2, range(6)), 10)
    assert carry_free((0, 64, 96), 7) and not carry_free((0, 40, 72), 7)
    assert not carry_free((0, 256, 320), 9)  # the highest member's gap runs to 2 ** aw: 64 may be 192
    assert carry_free((0, 256, 384), 9) and carry_free((0,), 1)
    assert aligned_bases([72, 72, 144], 9) == (128, 0, 256) and aligned_bases([72, 72, 144, 1], 9) is None

    def pack(depths, cost):
        p = WeightPack('wp', tuple(_Member(k, d) for k, d in enumerate(depths)), cost)
        for base, m in zip(p.bases, p.members):  # every member's words at its base
            assert p.rom.words[base:base + m.rom.depth] == m.rom.words
        return p

    blocks = lambda rom: -(-rom.depth // 512)  # noqa: E731 (a cost that padding within a block leaves alone)
    # schedule order, carry-free: kept, padded to 2 ** AW
    p = pack([64, 64, 128], blocks)
    assert p.bases == (0, 64, 128) and p.rom.depth == 256 and carry_free(p.bases, p.rom.aw)
    # largest first is carry-free, schedule order is not
    p = pack([4, 16, 16, 32], blocks)
    assert p.bases == (64, 32, 48, 0) and p.rom.depth == 128 and carry_free(p.bases, p.rom.aw)
    # neither: aligned blocks from the top down, while they cost no more
    assert pack([64, 64, 256], blocks).bases == (192, 128, 256)
    p = pack([72, 72, 72, 72, 144, 144], blocks)
    assert p.bases == (384, 256, 128, 0, 768, 512) and p.rom.depth == 1024 and carry_free(p.bases, 10)
    # ... and one after another (with an adder in vs_rom_share) when every word costs
    p = pack([72, 72, 72, 72, 144, 144], lambda rom: rom.depth)
    assert p.bases == layout_bases([72] * 4 + [144] * 2, range(6)) and p.rom.depth == 576
    assert not carry_free(p.bases, 10)


@needs_ghdl
@pytest.mark.parametrize('bases,depths', [
    pytest.param([0, 40, 72], [40, 32, 56], id='adder'),  # 40 + 31 carries: an adder from bit 3 up
    pytest.param([0, 64, 96], [64, 32, 32], id='or'),  # no address carries into its base: an OR
])  # fmt: skip
def test_rom_share_address_every_cycle(tmp_path, bases, depths):
    """vs_rom_share per cycle (cocotb, GHDL): member runs one after another with idle gaps, a
    start in the same cycle as another member's last address, and a member run twice."""
    import random

    n, aw = 3, 7
    assert carry_free(bases, aw) == (bases[1] == 64)
    wrapper = tmp_path / 'tb_rom_share.vhd'
    bits = ''.join(f'{b:0{aw}b}' for b in reversed(bases))
    wrapper.write_text(f"""library ieee;
use ieee.std_logic_1164.all;
entity tb_rom_share is
  port (clk : in std_logic; start : in std_logic_vector({n - 1} downto 0);
        addr_in : in std_logic_vector({n * aw - 1} downto 0); addr : out std_logic_vector({aw - 1} downto 0));
end entity;
architecture wrap of tb_rom_share is
begin
  dut : entity work.vs_rom_share generic map (N => {n}, AW => {aw}, BASES => "{bits}")
    port map (clk => clk, start => start, addr_in => addr_in, addr => addr);
end architecture;
""")
    rng = random.Random(7)
    cycles, expected, base = [], [], 0
    for k in [1, 0, 2, 2, 1]:
        cycles.append([1 << k, [0] * n])  # start: the member drives its first address next cycle
        expected.append(base)
        base = bases[k]
        for j in range(rng.randint(3, 9)):
            a = depths[k] - 1 if j == 0 else rng.randrange(depths[k])  # the last word first
            cycles.append([0, [a if j == k else 0 for j in range(n)]])
            expected.append(base + a)
        for _ in range(rng.randint(0, 2)):  # idle: every member drives 0
            cycles.append([0, [0] * n])
            expected.append(base)
    run_case(tmp_path, 'tb_rom_share', [*library('vs_rom_share.vhd'), wrapper], {}, 'cocotb_rom_share',
             {'aw': aw, 'cycles': cycles, 'expected': expected}, 'ROM_SHARE_CASE_FILE')  # fmt: skip
