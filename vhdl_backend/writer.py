"""Writes a VHDLSpartan project: VHDL, testbench, and Vivado scripts for users who have Vivado."""

from __future__ import annotations

import os
from pathlib import Path

from hls4ml.writer.writers import Writer

from .design import lower
from .top import project_files


def vivado_files(design, order: list, part: str, clock_ns: float) -> dict:
    reads = '\n'.join(f'read_vhdl -vhdl2008 ../{path}' for path in order)
    tcl = f"""# Out-of-context synthesis and implementation of {design.project} in Vivado (batch mode):
#   cd vivado && vivado -mode batch -source build.tcl
create_project -in_memory -part {part}
{reads}
read_xdc {design.project}.xdc
synth_design -top {design.project} -part {part} -mode out_of_context -flatten_hierarchy none
report_utilization -file utilization_synth.rpt
# per instance, for `python -m vhdlspartan.resource_model.calibrate --vivado <project dirs>`
report_utilization -hierarchical -file utilization_hier.rpt
opt_design
place_design
route_design
report_utilization -file utilization_impl.rpt
# WNS in the Design Timing Summary: positive means the clock is met (README, Timing)
report_timing_summary -file timing.rpt
report_timing -max_paths 10 -sort_by group -file timing_paths.rpt
"""
    xdc = f"""# Clock of {design.project}: {clock_ns} ns (ClockPeriod)
create_clock -period {clock_ns} -name clk [get_ports clk]
"""
    return {'vivado/build.tcl': tcl, f'vivado/{design.project}.xdc': xdc}


def components_json(design) -> str:
    """The instances and their parameters, so synthesis reports can be joined to the resource model."""
    import json
    from dataclasses import asdict

    from ..resource_model.components import design_components

    return json.dumps([asdict(c) for c in design_components(design)], indent=1, sort_keys=True) + '\n'


class VHDLSpartanWriter(Writer):
    def write_hls(self, model):
        from .interfaces import check_design, interface_files, link_of

        design = lower(model)  # raises before anything is written
        link = link_of(model.config)
        check_design(design, link)
        files = project_files(design)
        part, clock = model.config.get_config_value('Part'), model.config.get_config_value('ClockPeriod')
        if link.kind != 'memory':  # the wrapper around the unchanged core (interfaces.py)
            files.update(interface_files(design, link, files, clock))
        order = files['vhdl/compile_order.txt'].split()
        files['components.json'] = components_json(design)
        files.update(vivado_files(design, order, part, clock))
        if link.kind != 'memory':
            from .vivado import board_files

            files.update(board_files(design, link, order, part, clock, model.config))
        root = Path(model.config.get_output_dir())
        for rel, text in sorted(files.items()):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + '.tmp')
            tmp.write_text(text)
            os.replace(tmp, path)
