"""Registration through the entry point, the YAML flow, deterministic output."""

import subprocess
import sys
from pathlib import Path

import hls4ml

from conftest import convert, mlp_model

ROOT = Path(__file__).resolve().parents[1]


def test_backend_registered_after_plain_install():
    code = 'import hls4ml; print(hls4ml.backends.get_available_backends())'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert 'vhdlspartan' in out
    assert 'WARNING: failed to load backend plugin' not in out


def test_backend_has_its_writer():
    backend = hls4ml.backends.get_backend('VHDLSpartan')
    assert type(backend.writer).__name__ == 'VHDLSpartanWriter'


def test_same_model_gives_identical_files(tmp_path):
    model = mlp_model()
    a = convert(model, tmp_path / 'a', lanes=2)
    b = convert(model, tmp_path / 'b', lanes=2)
    files_a = sorted(p.relative_to(tmp_path / 'a') for p in (tmp_path / 'a').rglob('*') if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / 'b') for p in (tmp_path / 'b').rglob('*') if p.is_file())
    assert files_a == files_b and len(files_a) > 10
    for rel in files_a:
        assert (tmp_path / 'a' / rel).read_bytes() == (tmp_path / 'b' / rel).read_bytes(), rel
    assert a is not b


def test_yaml_config_and_command_line(tmp_path):
    model = mlp_model()
    model.save(tmp_path / 'model.h5')
    text = (ROOT / 'examples' / 'mlp_config.yml').read_text()
    text = text.replace('!keras_model model.h5', f'!keras_model {tmp_path / "model.h5"}')
    text = text.replace('OutputDir: vhdlspartan_prj', f'OutputDir: {tmp_path / "cli_prj"}')
    (tmp_path / 'config.yml').write_text(text)
    hls4ml_cli = Path(sys.executable).parent / 'hls4ml'
    res = subprocess.run([str(hls4ml_cli), 'convert', '-c', str(tmp_path / 'config.yml')], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    top = (tmp_path / 'cli_prj' / 'vhdl' / 'myproject.vhd').read_text()
    assert 'entity myproject is' in top
    assert (tmp_path / 'cli_prj' / 'vivado' / 'build.tcl').exists()
