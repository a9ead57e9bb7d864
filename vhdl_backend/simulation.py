"""GHDL simulation of a written project through its file-driven testbench."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..errors import UnsupportedError

GHDL_FLAGS = ['--std=08']


def ghdl() -> str:
    path = shutil.which('ghdl')
    if path is None:
        raise UnsupportedError('GHDL is not installed; install it with: apt-get install -y ghdl')
    return path


def analyze(project_dir: Path, workdir: Path, files: list) -> str:
    """Analyze VHDL files in order; returns GHDL's messages (empty when clean)."""
    workdir.mkdir(parents=True, exist_ok=True)
    messages = []
    for rel in files:
        res = subprocess.run([ghdl(), '-a', *GHDL_FLAGS, f'--workdir={workdir}', str(project_dir / rel)],
                             capture_output=True, text=True)  # fmt: skip
        if res.returncode != 0:
            raise RuntimeError(f'GHDL analysis of {rel} failed:\n{res.stdout}{res.stderr}')
        messages.append(res.stdout + res.stderr)
    return ''.join(messages)


def random_inputs(design, n: int, rng) -> np.ndarray:
    """Integers on the input grid: uniform over the whole range, with a share of samples
    pinned to the range's edges (every element at min, at max, or mixed edges)."""
    t = design.input.type
    q = rng.integers(t.min_int, t.max_int + 1, size=(n, design.input.depth), dtype=np.int64)
    if n >= 3:
        q[0], q[1] = t.min_int, t.max_int
        q[2] = rng.choice([t.min_int, t.max_int], size=design.input.depth)
    return q


def simulate(design, out_dir, q_in: np.ndarray) -> dict:
    """Run the testbench over integer inputs; compare with the emulation bit for bit."""
    project_dir = Path(out_dir).resolve()
    sim_dir = project_dir / 'sim'
    work = sim_dir / 'work'
    if work.exists():
        shutil.rmtree(work)
    order = (project_dir / 'vhdl' / 'compile_order.txt').read_text().split()
    warnings = analyze(project_dir, work, [*order, f'tb/tb_{design.project}.vhd'])
    q_in = np.asarray(q_in, dtype=np.int64).reshape(-1, design.input.depth)
    np.savetxt(sim_dir / 'input.txt', q_in, fmt='%d')
    res = subprocess.run(
        [ghdl(), '--elab-run', *GHDL_FLAGS, f'--workdir={work}', f'tb_{design.project}', '--ieee-asserts=disable'],
        cwd=sim_dir, capture_output=True, text=True,
    )  # fmt: skip
    (sim_dir / 'ghdl.log').write_text(res.stdout + res.stderr)
    if res.returncode != 0:
        raise RuntimeError(f'GHDL simulation failed (log: {sim_dir / "ghdl.log"}):\n{res.stdout[-2000:]}{res.stderr[-2000:]}')
    rows = np.loadtxt(sim_dir / 'output.txt', dtype=np.int64, ndmin=2)
    cycles, q_sim = rows[:, 0], rows[:, 1:]
    q_emu, _ = design.run(q_in)
    mismatched = np.any(q_sim != q_emu, axis=1)
    return {
        'outputs': design.output.type.to_float(q_sim),
        'outputs_int': q_sim,
        'inputs_int': q_in,
        'bit_exact': not mismatched.any(),
        'mismatches': int(mismatched.sum()),
        'samples': len(q_in),
        'cycles': int(cycles.max()),
        'cycles_min': int(cycles.min()),
        'cycles_expected': design.cycles(),
        'analysis_messages': warnings,
        'log': str(sim_dir / 'ghdl.log'),
    }
