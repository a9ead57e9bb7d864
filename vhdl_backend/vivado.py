"""Vivado project of a wrapped design (Interface uart, spi or axis): the wrapper is the top.

With Model `BoardConstraints` (path to an XDC with the wrapper's pins, e.g.
examples/arty_s7_25_uart.xdc) build.tcl runs synthesis, implementation and write_bitstream on
those pins; without, it implements the wrapper out of context (no pins, no bitstream), like the
core's build.tcl. Nothing here has been run in Vivado on this project's machines (no Vivado).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UnsupportedError


def board_files(design, link, order: list, part: str, clock_ns, config) -> dict:
    top = link.entity(design.project)
    xdc_path = (config.config.get('HLSConfig', {}).get('Model', {}) or {}).get('BoardConstraints')
    files = {}
    if xdc_path is not None:
        path = Path(str(xdc_path))
        if not path.is_file():
            raise UnsupportedError(f'Model BoardConstraints {str(xdc_path)!r} is not a file; give the path of an XDC '
                                   f'with the pins of {top} (examples/arty_s7_25_uart.xdc is one)')  # fmt: skip
        files['vivado/board.xdc'] = path.read_text()
    reads = '\n'.join(f'read_vhdl -vhdl2008 ../{p}' for p in order)
    if xdc_path is None:
        flow = f"""read_xdc {design.project}.xdc
synth_design -top {top} -part {part} -mode out_of_context -flatten_hierarchy none"""
        tail = ''
    else:
        flow = f"""read_xdc {design.project}.xdc
read_xdc board.xdc
synth_design -top {top} -part {part} -flatten_hierarchy none"""
        tail = f'write_bitstream -force {top}.bit\n'
    files['vivado/build.tcl'] = f"""# Synthesis and implementation of {top} ({link.kind} wrapper of {design.project}) in Vivado (batch mode):
#   cd vivado && vivado -mode batch -source build.tcl
# {'Pins from board.xdc (Model BoardConstraints); writes ' + top + '.bit.' if xdc_path else 'No pins given (Model BoardConstraints): out of context, no bitstream.'}
create_project -in_memory -part {part}
{reads}
{flow}
report_utilization -file utilization_synth.rpt
report_utilization -hierarchical -file utilization_hier.rpt
opt_design
place_design
route_design
report_utilization -file utilization_impl.rpt
# WNS in the Design Timing Summary: positive means the clock is met (README, Timing)
report_timing_summary -file timing.rpt
report_timing -max_paths 10 -sort_by group -file timing_paths.rpt
{tail}"""
    return files
