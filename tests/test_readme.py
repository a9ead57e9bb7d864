"""Every code block of README.md is run: python blocks with small stand-ins for the names they take
as given (a model, its data), the `vhdlspartan` commands of shell blocks where they are cheap; and
every inline `vhdlspartan.x.y(...)` call resolves to a callable and is called.

The README changes under several hands, so blocks are found by parsing it, not by line numbers:
- a python block runs in a copy of `standins` (model, x, x_train, y_train, x_val, y_val), with
  the placeholder calls of FILL filled in; one that needs more gets it in SETUP, under the
  heading of its section; SKIP_BLOCKS names the sections not run, and why, LONG_BLOCKS those run by make test-long;
- a shell command is run if RUN has it, left out if SKIP says why; any other command fails the
  test, asking to be registered in one of them.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import hls4ml
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

import vhdlspartan
from vhdlspartan.datasets import windows
from vhdlspartan.quiet import quiet_keras

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
WINDOW = 12  # the README's encoder reads 12 steps; the stand-in model and data do too

# placeholders the README writes for "your own arguments" -> what the stand-ins use
FILL = {
    'model.fit(...)': "model.compile('adam', 'mse'); model.fit(x_train[:64], y_train[:64], epochs=1, verbose=0)",
    # the tuner's call as shown, on a smaller search (its own tests search more)
    'trials=60': 'trials=3',
    'TuneSpace(bits=(4, 5, 6, 7, 8),': 'TuneSpace(bits=(4, 8), drop_integer=(0,),',
    # no board here: the same driver against the wrapper simulated in GHDL (the block's last line)
    "Board(UartTransport('/dev/ttyUSB1', 115200), 'prj')": "Board(SimTransport(hm), 'prj')",
}
# section heading -> function(namespace) adding what that section's blocks take as given
def _board_setup(ns):
    """The Use block's imports and config, and the board's pin file where the block looks for it."""
    (Path('examples')).mkdir(exist_ok=True)
    shutil.copy(ROOT / 'examples' / 'arty_s7_25_uart.xdc', 'examples')
    ns.update(hls4ml=hls4ml, cfg=hls4ml.utils.config_from_keras_model(ns['model'], granularity='name',
                                                                      backend='VHDLSpartan'))  # fmt: skip
    ns['x'] = ns['x'][:2]  # every sample crosses the UART in simulation


SETUP = {
    'Integer-only Transformers': lambda ns: ns.update(hls4ml=hls4ml),  # imported by the Use block before it
    'Board interfaces': _board_setup,
}
# section heading -> why its python blocks are not run (each a known cost or failure to come back to); none today
SKIP_BLOCKS = {}
# sections whose blocks run in make test-long: the Board interfaces block takes 110 s (every byte crosses the UART in
# GHDL), which at the end of the parallel suite added 2 min to make test (the GHDL synthesis crash it was once skipped
# for does not happen with today's wrapper)
LONG_BLOCKS = ('Board interfaces',)
# shell commands run here (by their start), in a folder holding examples/mlp_config.yml and the model.h5 it names
RUN = ('vhdlspartan estimate examples/mlp_config.yml',)
SKIP = {
    'make demo': 'the whole demo (minutes); tests/test_examples.py runs its parts',
    'make test': 'the test suite itself',
    'vhdlspartan report': 'Yosys synthesis; tests/test_resource_model.py runs `vhdlspartan report`, the Use block synthesizes',
    'vhdlspartan tune examples/tune.yml': "needs make demo's trained forecaster; tests/test_distributed.py runs `vhdlspartan tune`",
    'python -m vhdlspartan.resource_model.calibrate': 'synthesizes dozens of designs and rewrites the committed fit',
    'python benchmarks/': 'benchmarks (make bench)',
    'pip install': 'installs packages',
    'createdb': 'needs a PostgreSQL server of its own; tests/test_distributed.py starts one',
}  # fmt: skip


def blocks() -> list:
    """(section heading, language, text) of every fenced block, in order."""
    found, section, block = [], '', None
    for line in README.read_text().splitlines():
        fence = re.match(r'^```\s*(\w*)\s*$', line)
        if block is None and fence:
            block = (section, fence.group(1), [])
        elif block is not None and line.strip() == '```':
            found.append((block[0], block[1], '\n'.join(block[2])))
            block = None
        elif block is not None:
            block[2].append(line)
        elif line.startswith('#'):
            section = line.lstrip('#').strip()
    assert block is None, f'README.md: the block after "{section}" is not closed'
    return found


def _ids(items):
    return [f'{section or "top"}-{i}' for i, (section, *_rest) in enumerate(items)]


PYTHON = [b for b in blocks() if b[1] == 'python']
SHELL = [b for b in blocks() if b[1] in ('sh', 'bash', 'shell', 'console')]


def _standin_model():
    """A small QKeras forecaster over WINDOW steps: input quantizer, hidden layer, head."""
    q = dict(kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 0, alpha=1))
    x = tf.keras.Input((WINDOW, 1))
    h = QActivation(quantized_bits(8, 2, alpha=1), name='quant_in')(tf.keras.layers.Flatten()(x))
    h = QDense(8, activation=quantized_relu(8, 3), name='hidden', **q)(h)
    return tf.keras.Model(x, QDense(1, name='out', **q)(h))


@pytest.fixture(scope='module')
def standins():
    data = windows('electricity', WINDOW, limit=400)
    tf.keras.utils.set_random_seed(0)
    model = _standin_model()
    model.compile(optimizer='adam', loss='mse')
    model.fit(data.x_train, data.y_train, epochs=1, batch_size=64, verbose=0)
    return {'model': model, 'x': data.x_val[:4], 'x_train': data.x_train, 'y_train': data.y_train,
            'x_val': data.x_val[:100], 'y_val': data.y_val[:100]}  # fmt: skip


def _filled(text: str) -> str:
    for placeholder, call in FILL.items():
        text = text.replace(placeholder, call)
    return text


def _run_python(section, text, standins, tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)  # blocks write prj/, tune_out/ where they run
    ns = {'model': tf.keras.models.clone_model(standins['model']), **{k: v for k, v in standins.items() if k != 'model'}}
    ns['model'].set_weights(standins['model'].get_weights())  # a block may train it: each gets its own
    SETUP.get(section, lambda ns: None)(ns)
    try:
        exec(compile(_filled(text), f'README.md ({section})', 'exec'), ns)
    except NameError as e:
        pytest.fail(f'README block in "{section}" uses {e.name!r}, which no stand-in gives: add it to SETUP '
                    f'in tests/test_readme.py')  # fmt: skip
    return ns


@pytest.mark.parametrize('section, lang, text', [pytest.param(*b, marks=pytest.mark.long) if b[0] in LONG_BLOCKS else b
                                                   for b in PYTHON], ids=_ids(PYTHON))  # fmt: skip
def test_python_block_runs(section, lang, text, standins, tmp_path, monkeypatch):
    if section in SKIP_BLOCKS:
        pytest.skip(SKIP_BLOCKS[section])
    _run_python(section, text, standins, tmp_path, monkeypatch)  # any error of a documented call fails it


def _resolve(dotted: str):
    """`vhdlspartan.a.b` as Python evaluates it after `import vhdlspartan.a`: attributes first, a
    submodule only where there is no attribute of that name."""
    obj, name = vhdlspartan, 'vhdlspartan'
    for part in dotted.split('.')[1:]:
        name = f'{name}.{part}'
        obj = getattr(obj, part) if hasattr(obj, part) else importlib.import_module(name)
    return obj


def test_inline_calls_are_callables_and_run(standins, tmp_path, monkeypatch):
    """`vhdlspartan.resource_model.estimate(hm)` and the like, in the README's text: each names a
    callable, and called with the names of the Use block (hm, model, cfg) it gives an estimate."""
    text = README.read_text()
    calls = sorted(set(re.findall(r'`(vhdlspartan(?:\.\w+)+)\(([\w, ]*)\)`', text)))
    assert calls, 'README.md shows no inline vhdlspartan call any more: drop this test'
    use = next(t for s, _, t in PYTHON if s == 'Use')
    use = use.replace('hm.build(sim=True, x=x)', '{}').replace('hm.build(synth=True)', "{'synth': {'timing': 0}}")
    ns = _run_python('Use', use, standins, tmp_path, monkeypatch)  # (the block's builds run in its own test)
    for dotted, args in calls:
        assert callable(_resolve(dotted)), f'README.md shows `{dotted}(...)`, but it is a {type(_resolve(dotted)).__name__}'
        est = eval(f'{dotted}({args})', {**ns, 'vhdlspartan': vhdlspartan})
        assert est is not None
    from vhdlspartan import resource_model

    before = resource_model.estimate(ns['hm'])  # "or estimate_keras(model, config) before anything is written"
    assert resource_model.estimate_keras(ns['model'], ns['cfg'], 'xc7s15ftgb196-2').total == before.total
    assert before.cycles > 0 and before.total['LUT'] > 0


def _commands(text: str) -> list:
    lines = [line.split(' #')[0].strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith('#')]


def test_every_shell_command_is_run_or_skipped_for_a_reason():
    commands = [c for _, _, text in SHELL for c in _commands(text)]
    assert commands
    unknown = [c for c in commands if not c.startswith(RUN) and not c.startswith(tuple(SKIP))]
    assert not unknown, f'README.md shell commands {unknown}: add each to RUN or SKIP in tests/test_readme.py'


@pytest.mark.parametrize('command', [c for _, _, text in SHELL for c in _commands(text) if c.startswith(RUN)])
def test_shell_command_runs(command, standins, tmp_path):
    (tmp_path / 'examples').mkdir()
    shutil.copy(ROOT / 'examples' / 'mlp_config.yml', tmp_path / 'examples')
    with quiet_keras():
        standins['model'].save(tmp_path / 'model.h5')  # the config's KerasModel, relative to where it runs
    exe, *args = command.split()
    done = subprocess.run([str(Path(sys.executable).with_name(exe)), *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    if command.startswith('vhdlspartan estimate'):
        assert re.search(r'\bLUT\b', done.stdout) and 'binding' in done.stdout, done.stdout
        assert not (tmp_path / 'vhdlspartan_prj').exists()  # "writes nothing"
    # our entry point hides TensorFlow's start-up lines and the known Keras/QKeras warnings
    assert 'cuda' not in done.stderr.lower() and 'constraints.serialize' not in done.stderr, done.stderr


def test_readme_states_the_test_time():
    text = ' '.join(README.read_text().split())
    assert re.search(r'`make test` about \d+ min', text), 'README.md: say how long `make test` takes'
