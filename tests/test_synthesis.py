"""GHDL + Yosys synthesis of generated designs: no latches, storage and DSP choices honoured."""

import pytest

from conftest import convert, mlp_model, timeseries_model


@pytest.mark.slow
def test_timeseries_synthesizes_with_chosen_lanes_and_storage(tmp_path):
    hm = convert(timeseries_model(), tmp_path, lanes=3, dsp_lanes=1, Storage='lutram')
    syn = hm.build(synth=True)['synth']
    assert syn['latches'] == 0
    assert syn['BRAM18'] == 0 and syn['LUTRAM'] > 0
    # DSPLanes decides how many lanes are DSP48E1s: two more DSP lanes, two more DSPs
    more_dsp = convert(timeseries_model(), tmp_path / 'dsp3', lanes=3, dsp_lanes=3, Storage='lutram')
    assert more_dsp.build(synth=True)['synth']['DSP'] == syn['DSP'] + 2
    assert syn['LUT'] < 8000 and syn['FF'] > 0
    assert 'ram_style' in (tmp_path / 'prj' / 'synth' / 'flow.ys').read_text()


@pytest.mark.slow
def test_bram_storage_gives_block_ram(tmp_path):
    hm = convert(mlp_model(), tmp_path, lanes=1, dsp_lanes=0, Storage='bram')
    syn = hm.build(synth=True)['synth']
    assert syn['latches'] == 0
    assert syn['DSP'] == 0  # the only lane is a LUT multiplier
    assert syn['BRAM18'] >= 4  # buffers and weight memories in block RAM
    hm_lut = convert(mlp_model(), tmp_path / 'lut', lanes=1, dsp_lanes=0, Storage='lutram')
    assert hm_lut.build(synth=True)['synth']['BRAM18'] == 0


def _yosys_rom_contents(tmp_path, rom, fix: bool) -> str:
    """The bits Yosys reads for a ROM entity's memory (GHDL -> Verilog -> Yosys, before mapping)."""
    import subprocess

    from vhdlspartan.vhdl_backend.simulation import GHDL_FLAGS, ghdl
    from vhdlspartan.vhdl_backend.synthesis import binary_literals, yosys_command
    from vhdlspartan.vhdl_backend.top import rom_vhdl

    (tmp_path / 'rom.vhd').write_text(rom_vhdl('p', rom))
    subprocess.run([ghdl(), '-a', *GHDL_FLAGS, 'rom.vhd'], cwd=tmp_path, check=True)
    netlist = subprocess.run([ghdl(), '--synth', *GHDL_FLAGS, '--out=verilog', f'p_{rom.name}_rom'], cwd=tmp_path,
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
    (tmp_path / 'rom.v').write_text(binary_literals(netlist) if fix else netlist)
    log = subprocess.run([*yosys_command(), '-p', f'read_verilog rom.v; proc; eval -show rom p_{rom.name}_rom'],
                         cwd=tmp_path, check=True, capture_output=True, text=True).stdout  # fmt: skip
    return log.split('Eval result: \\rom = ')[1].split("'")[1].split('.')[0]


@pytest.mark.parametrize('depth', [24, 700])  # 700 x 96 bits: one string of 67,200 characters
def test_synthesized_rom_holds_its_words(tmp_path, depth):
    """Yosys must read a ROM's contents as the words, not as the ASCII text GHDL writes them in."""
    import numpy as np

    from vhdlspartan.vhdl_backend.units.base import Rom

    rng = np.random.default_rng(depth)
    width = 96
    words = [int.from_bytes(rng.bytes(width // 8), 'little') for _ in range(depth)]
    rom = Rom('w', words, width, 'bram')
    want = ''.join(f'{w:0{width}b}' for w in words)  # GHDL flattens the array with word 0 on top
    assert _yosys_rom_contents(tmp_path, rom, fix=True) == want
    if depth == 24:  # without the rewrite Yosys reads ASCII text: the check above can fail
        (tmp_path / 'raw').mkdir()
        assert _yosys_rom_contents(tmp_path / 'raw', rom, fix=False) != want
