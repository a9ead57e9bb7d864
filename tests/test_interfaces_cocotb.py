"""The board interfaces' wrappers under cocotb with PyPI protocol models (tests/cocotb/cocotb_interfaces.py):
cocotbext-uart's UartSource/UartSink on the uart wrapper, cocotbext-axi's AxiStreamSource/Sink with
random pauses on both sides on the axis wrapper. cocotbext-spi 0.5.0 does not run on cocotb 2.1 (it
imports cocotb.clock.BaseClock, which cocotb 2 removed, and reads MISO as `handle.value.integer`,
which cocotb 2's Logic lacks), so the SPI
test drives mode 0 with a master of its own. Each: hardware id, inferences back to back (bit-exact
against the emulation), an unknown command and a refused START, a reset in the middle of a frame."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import convert, grid_inputs, mlp_model
from ghdl_runner import needs_ghdl, run_case

pytestmark = needs_ghdl


@pytest.mark.parametrize('kind', ['uart', 'spi', 'axis'])
def test_wrapper_with_protocol_models(tmp_path, kind):
    cfg = {'Interface': kind, **({'BaudRate': 12_500_000} if kind == 'uart' else {})}
    hm = convert(mlp_model(), tmp_path, **cfg)
    hm.write()
    prj = tmp_path / 'prj'
    spec = json.loads((prj / 'interface.json').read_text())
    design = hm._vhdlspartan_design
    q = design.quantize_input(grid_inputs(hm, 3, seed=4))
    y = design.run(q)[0]
    i, o = design.input.type, design.output.type
    case = {'kind': kind, 'hw_id': int(spec['hardware_id'], 16), 'baud': spec['baud_rate'],
            'in_width': i.width, 'out_width': o.width, 'out_signed': o.signed, 'n_in': design.input.depth,
            'n_out': design.output.depth, 'inputs': q.tolist(), 'outputs': np.asarray(y).tolist()}  # fmt: skip
    sources = [prj / p for p in (prj / 'vhdl' / 'compile_order.txt').read_text().split()]
    run_case(tmp_path, spec['entity'], sources, {}, 'cocotb_interfaces', case, 'INTERFACE_CASE_FILE')
