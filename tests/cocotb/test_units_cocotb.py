"""Per-cycle cocotb tests of static VHDL library units, simulated with GHDL.

Each pytest case builds the unit with cocotb's Python runner in its own directory under
tmp_path and runs the cocotb module next to this file (cocotb_mac_engine.py, cocotb_map.py).
"""

from __future__ import annotations

import json

import pytest

from ghdl_runner import library, needs_ghdl, run_cocotb

pytestmark = needs_ghdl


# --- vs_mac_engine ---------------------------------------------------------------------------

# (LANES, DSP_LANES, A_W, B_W, ACC_W, longest dot product, ACC_W holds every sum exactly)
MAC_CASES = [
    pytest.param(4, 2, 8, 8, 20, 24, True, id='L4-dsp2-a8b8-acc20'),
    pytest.param(1, 1, 17, 13, 48, 40, True, id='L1-dsp1-a17b13-acc48'),
    pytest.param(5, 0, 2, 3, 9, 12, True, id='L5-dsp0-a2b3-acc9'),
    # LUT lanes whose b spans several 4-bit slices, the top one short (17 = 4 + 4 + 4 + 4 + 1)
    pytest.param(2, 0, 17, 17, 40, 20, True, id='L2-dsp0-a17b17-acc40'),
    pytest.param(3, 1, 9, 6, 19, 16, True, id='L3-dsp1-a9b6-acc19'),
    # accumulator as narrow as the generator ever makes it (A_W + B_W): long extreme sums wrap
    pytest.param(3, 3, 6, 5, 11, 40, False, id='L3-dsp3-a6b5-acc11-wrap'),
]


@pytest.mark.parametrize('lanes,dsp_lanes,a_w,b_w,acc_w,max_len,exact', MAC_CASES)
def test_mac_engine(tmp_path, lanes, dsp_lanes, a_w, b_w, acc_w, max_len, exact):
    generics = dict(LANES=lanes, DSP_LANES=dsp_lanes, A_W=a_w, B_W=b_w, ACC_W=acc_w)
    env = dict(generics, MAC_MAX_LEN=max_len, MAC_EXACT=int(exact), MAC_SEED=1000 * lanes + 10 * a_w + b_w)
    run_cocotb(tmp_path, 'vs_mac_engine', library('vs_fixed_pkg.vhd', 'vs_mac_lane.vhd', 'vs_mac_engine.vhd'), generics, 'cocotb_mac_engine',
               env)  # fmt: skip


# --- vs_map ----------------------------------------------------------------------------------

# X_W, X_SIGNED, SHIFT, Y_W, Y_SIGNED, rounding, saturation, RELU, N (2**X_W: every input value)
MAP_CASES = [
    pytest.param(8, True, 3, 4, True, 'RND', 'SAT', False, 256, id='s8-s4-sh3-RND-SAT'),
    pytest.param(10, True, 2, 6, True, 'RND_CONV', 'SAT_SYM', False, 200, id='s10-s6-sh2-RND_CONV-SAT_SYM'),
    pytest.param(8, False, -1, 5, True, 'TRN', 'WRAP', False, 256, id='u8-s5-sh-1-TRN-WRAP'),
    pytest.param(12, True, 4, 6, False, 'RND_INF', 'SAT_ZERO', True, 200, id='s12-u6-sh4-RND_INF-SAT_ZERO-relu'),
    pytest.param(7, True, 1, 5, True, 'RND_CONV', 'WRAP', False, 128, id='s7-s5-sh1-RND_CONV-WRAP'),
    pytest.param(8, True, 1, 6, True, 'RND_ZERO', 'WRAP', False, 256, id='s8-s6-sh1-RND_ZERO-WRAP'),
    pytest.param(16, True, 5, 10, True, 'TRN_ZERO', 'SAT', False, 200, id='s16-s10-sh5-TRN_ZERO-SAT'),
    pytest.param(9, True, 6, 3, True, 'RND_MIN_INF', 'SAT_SYM', False, 200, id='s9-s3-sh6-RND_MIN_INF-SAT_SYM'),
    pytest.param(8, True, 2, 5, True, 'RND', 'SAT', True, 256, id='s8-s5-sh2-RND-SAT-relu'),
    pytest.param(6, False, 0, 4, False, 'TRN', 'SAT', True, 64, id='u6-u4-sh0-TRN-SAT-relu'),
    pytest.param(7, True, 7, 1, True, 'RND_INF', 'SAT', False, 128, id='s7-s1-sh7-RND_INF-SAT'),
]


@pytest.mark.parametrize('x_w,x_signed,shift,y_w,y_signed,rounding,saturation,relu,n', MAP_CASES)
def test_map(tmp_path, x_w, x_signed, shift, y_w, y_signed, rounding, saturation, relu, n):
    from vhdlspartan.fixed import FixedType

    x_frac = max(shift, 0) + 2
    y_type = FixedType(y_w, x_frac - shift, y_signed, rounding, saturation)
    aw = max(1, (n - 1).bit_length())
    generics = dict(
        N=n, AW=aw, X_W=x_w, X_SIGNED=x_signed, SHIFT=shift, Y_W=y_w, Y_SIGNED=y_signed,
        RND=y_type.rounding_code, SAT=y_type.saturation_code, RELU=relu,
    )  # fmt: skip
    case = dict(generics, rounding=rounding, saturation=saturation, x_frac=x_frac, seed=7 * x_w + 3 * y_w + shift)
    run_cocotb(tmp_path, 'vs_map', library('vs_fixed_pkg.vhd', 'vs_walk.vhd', 'vs_map.vhd'), generics, 'cocotb_map',
               {'MAP_CASE': json.dumps(case)})  # fmt: skip
