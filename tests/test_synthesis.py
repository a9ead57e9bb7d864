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
