"""One way to run a cocotb test module on a VHDL toplevel under GHDL, for every cocotb test file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

COCOTB_DIR = Path(__file__).resolve().parent  # on sys.path (tests/conftest.py), so the simulator imports from it
VHDL_DIR = COCOTB_DIR.parents[1] / 'vhdl_backend' / 'vhdl'
needs_ghdl = pytest.mark.skipif(shutil.which('ghdl') is None, reason='GHDL not installed')


def library(*names: str) -> list[Path]:
    """The named VHDL library files, in the compile order of a generated project."""
    from vhdlspartan.vhdl_backend.top import LIBRARY_FILES

    unknown = sorted(set(names) - set(LIBRARY_FILES))
    assert not unknown, f'not library files: {unknown}'
    return [VHDL_DIR / f for f in LIBRARY_FILES if f in names]


def run_case(tmp_path: Path, toplevel: str, sources: list, generics: dict, module: str, case: dict,
             env_name: str) -> None:  # fmt: skip
    """run_cocotb with the case written to a JSON file whose path the module finds in env_name."""
    case_file = tmp_path / 'case.json'
    case_file.write_text(json.dumps(case))
    run_cocotb(tmp_path, toplevel, sources, generics, module, {env_name: case_file})


def vhdl_generic(v) -> str:
    return ('true' if v else 'false') if isinstance(v, bool) else str(v)


def run_cocotb(tmp_path: Path, toplevel: str, sources: list, generics: dict, module: str, env: dict) -> None:
    """Analyse sources (in order, --std=08), run the cocotb module on toplevel with the generics;
    the case reaches the module through environment variables. Fails the pytest test when the
    simulation fails or any cocotb test in it fails."""
    runner_mod = pytest.importorskip('cocotb_tools.runner')
    from cocotb_tools.check_results import get_results

    runner = runner_mod.get_runner('ghdl')
    build_dir = tmp_path / 'sim_build'
    params = {k: vhdl_generic(v) for k, v in generics.items()}
    runner.build(sources=[Path(s) for s in sources], hdl_toplevel=toplevel, parameters=params,
                 build_args=['--std=08'], build_dir=build_dir, always=True)  # fmt: skip
    try:
        results = runner.test(test_module=module, hdl_toplevel=toplevel, parameters=params, test_args=['--std=08'],
                              build_dir=build_dir, extra_env={k: str(v) for k, v in env.items()})  # fmt: skip
    except SystemExit as e:  # the runner exits on failing cocotb tests or a failed simulation
        pytest.fail(f'cocotb {module} on {toplevel} {generics} failed (exit {e.code}); logs and results in {build_dir}')
    tests, failed = get_results(Path(results))
    assert tests >= 1 and failed == 0, f'cocotb {module}: {failed} of {tests} tests failed; see {build_dir}'
