"""A tuner study shared by workers through a real PostgreSQL server (a throwaway one, started in
a temporary directory): two `vhdlspartan tune` processes on one study, one killed with SIGKILL in
the middle of a trial and started again. Every requested trial completes, none is left running,
the killed trial is retried, the trials finished before the kill keep their values, and the
sensitivities and the fine-tuning are done once. Also: a database URL whose driver is missing
fails before any work, naming the package extra."""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
import tensorflow as tf
import yaml

from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from vhdlspartan.datasets import windows
from vhdlspartan.quiet import quiet_keras
from vhdlspartan.resource_model.tuning import config as tune_config
from vhdlspartan.resource_model.tuning.shared import storage_url
from vhdlspartan.resource_model.tuning.tuner import TuneError

TRIALS = 24  # enough that the live worker is still running trials when the killed one is found stale
STUDY = 'shared'


def _postgres_bin() -> Path:
    """The directory of initdb and pg_ctl: on PATH, or where Debian's postgresql package puts them."""
    found = shutil.which('initdb')
    if found:
        return Path(found).resolve().parent
    dirs = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'), key=lambda p: int(Path(p).parts[4]))
    if not dirs:
        pytest.fail('PostgreSQL server binaries (initdb, pg_ctl) are not installed: run `make postgres` '
                    '(apt-get install postgresql)')  # fmt: skip
    return Path(dirs[-1]).parent


def _server_user():
    """initdb refuses to run as root: as root, the server runs as an unprivileged user."""
    if os.geteuid() != 0:
        return None
    for name in ('postgres', 'vhdlspartan-pg'):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    subprocess.run(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'vhdlspartan-pg'],
                   check=True)  # fmt: skip
    return pwd.getpwnam('vhdlspartan-pg')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def postgres():
    """A database URL of a PostgreSQL server of its own (data and socket in a temporary directory)."""
    pg = _postgres_bin()
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix='vhdlspartan-pg-'))
    as_user = []
    if user:
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ['runuser', '-u', user.pw_name, '--']
    data, port = root / 'data', _free_port()

    def run(*cmd):
        done = subprocess.run([*as_user, *cmd], capture_output=True, text=True)
        assert done.returncode == 0, f'{" ".join(map(str, cmd))} failed:\n{done.stdout}\n{done.stderr}'

    try:
        run(pg / 'initdb', '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync')
        run(pg / 'pg_ctl', '-D', data, '-l', root / 'server.log', '-w', '-t', '60', 'start', '-o',
            f'-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off')  # fmt: skip
        yield f'postgresql://postgres@127.0.0.1:{port}/postgres'
    finally:
        if (data / 'postmaster.pid').exists():
            subprocess.run([*as_user, pg / 'pg_ctl', '-D', data, '-m', 'immediate', '-w', 'stop'], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope='module')
def saved_model(tmp_path_factory):
    """A small QKeras forecaster (4 groups of layers to tune), trained briefly and saved, as each
    worker loads it: a Transformer's sensitivities and trials take several times longer."""
    data = windows('electricity', 6, limit=600)
    tf.keras.utils.set_random_seed(0)
    q = dict(kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 0, alpha=1))
    x = tf.keras.Input((6, 1))
    h = QActivation(quantized_bits(8, 2, alpha=1), name='quant_in')(tf.keras.layers.Flatten()(x))
    h = QActivation(quantized_relu(8, 3), name='relu')(QDense(16, name='hidden', **q)(h))
    model = tf.keras.Model(x, QDense(1, name='out', **q)(h))
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss='mse')
    model.fit(data.x_train, data.y_train, epochs=2, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp('model') / 'model.h5'
    with quiet_keras():
        model.save(path)
    return path


def _worker_yaml(tmp_path, name, model, url) -> Path:
    cfg = {'part': 'xc7s15', 'model': str(model), 'data': {'series': 'electricity', 'window': 6, 'limit': 600},
           'search': {'bits': [4, 8], 'lanes': [1, 2, 4], 'dsp_share': [1.0, 0.0], 'drop_integer': [0]},
           'trials': TRIALS, 'finetune': {'top': 1, 'uniform': 0, 'epochs': 1},
           'study': {'name': STUDY, 'storage': url, 'heartbeat': 1}, 'output_dir': str(tmp_path / f'out_{name}')}  # fmt: skip
    path = tmp_path / f'{name}.yml'
    path.write_text(yaml.safe_dump(cfg))
    return path


class Worker:
    """A `vhdlspartan tune` process; its output in a log file (unbuffered: it may be killed)."""

    def __init__(self, yml: Path, log: Path):
        exe = Path(sys.executable).with_name('vhdlspartan')
        cmd = [str(exe)] if exe.exists() else [sys.executable, '-m', 'vhdlspartan.cli']
        self.log = log
        with open(log, 'w') as out:
            self.proc = subprocess.Popen([*cmd, 'tune', str(yml), '--quiet'], stdout=out, stderr=subprocess.STDOUT,
                                         env={**os.environ, 'PYTHONUNBUFFERED': '1'})  # fmt: skip
        self.name = f'{socket.gethostname()}:{self.proc.pid}'

    def text(self) -> str:
        return self.log.read_text()


def _trials(url):
    try:
        return optuna.load_study(study_name=STUDY, storage=url).get_trials(deepcopy=False)
    except KeyError:  # the study does not exist yet
        return []


def _logs(workers) -> str:
    return '\n'.join(f'--- {w.name} ({w.log.name}, exit {w.proc.poll()}):\n{w.text()[-3000:]}' for w in workers)


def _running_trial_of(worker, url, workers, timeout=150):
    """A trial the worker runs now, once two trials are complete."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert worker.proc.poll() is None, f'worker {worker.name} ended early\n{_logs(workers)}'
        trials = _trials(url)
        if sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) >= 2:
            mine = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING and t.params
                    and t.user_attrs.get('worker') == worker.name]  # fmt: skip  # params: it has begun suggesting
            if mine:
                return mine[0].number
        time.sleep(0.05)
    pytest.fail(f'worker {worker.name} ran no trial within {timeout} s\n{_logs(workers)}')


def test_two_workers_share_a_study_and_survive_a_killed_worker(postgres, saved_model, tmp_path):
    url = storage_url(postgres)  # the test reads the study with the driver the workers use
    ymls = {n: _worker_yaml(tmp_path, n, saved_model, postgres) for n in 'ab'}
    a = Worker(ymls['a'], tmp_path / 'a1.log')
    b = Worker(ymls['b'], tmp_path / 'b.log')
    workers = [a, b]
    try:
        for attempt in range(3):  # the trial may end between the look and the kill: then try the next one
            killed = _running_trial_of(a, url, workers)
            os.kill(a.proc.pid, signal.SIGKILL)
            a.proc.wait()
            trials = {t.number: t for t in _trials(url)}
            if trials[killed].state == optuna.trial.TrialState.RUNNING:
                break
            a = Worker(ymls['a'], tmp_path / f'a{attempt + 2}.log')
            workers.append(a)
        else:
            pytest.fail('no trial could be killed while running')
        before = {n: t.values for n, t in trials.items() if t.state == optuna.trial.TrialState.COMPLETE}
        restarted = Worker(ymls['a'], tmp_path / 'a_restarted.log')
        workers.append(restarted)
        for w in (b, restarted):
            w.proc.wait(timeout=240)
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()
    logs = _logs(workers)
    assert b.proc.returncode == 0 and restarted.proc.returncode == 0, logs

    trials = {t.number: t for t in _trials(url)}
    states = [t.state for t in trials.values()]
    assert optuna.trial.TrialState.RUNNING not in states, logs
    complete = [t for t in trials.values() if t.state == optuna.trial.TrialState.COMPLETE]
    # the requested count, counted in complete trials: not one worker's count each (2x), and a
    # worker ending its last trial as the other reaches the count adds at most one
    assert TRIALS <= len(complete) <= TRIALS + 1, (len(complete), logs)
    assert trials[killed].state == optuna.trial.TrialState.FAIL
    retries = [t for t in complete if t.system_attrs.get('failed_trial') == killed]
    # the retry starts from the killed trial's parameters (those it had suggested before the kill)
    assert len(retries) == 1 and retries[0].params.items() >= trials[killed].params.items(), logs
    assert retries[0].user_attrs['worker'] != a.name  # run again by a live worker
    assert all(trials[n].values == v for n, v in before.items())  # the finished trials are kept as they were

    texts = {w.name: w.text() for w in workers}
    measured = [n for n, t in texts.items() if 'measures the sensitivities' in t]
    finishers = [n for n, t in texts.items() if ' fine-tunes 1 candidates of ' in t]
    assert len(measured) == 1 and len(finishers) == 1, logs  # each done by one worker, once
    assert sum(t.count('measures the sensitivities') + t.count(' fine-tunes 1 candidates of ') for t in texts.values()) == 2
    finisher = finishers[0]
    other = restarted if finisher == b.name else b
    said = other.text()  # it stopped after its trials, naming the worker that finishes
    assert f'worker {finisher} fine-tunes study' in said or f'was finished by worker {finisher}' in said, logs
    outputs = {n: (tmp_path / f'out_{n}' / 'tuned_model.h5').exists() for n in 'ab'}
    assert sorted(outputs.values()) == [False, True], outputs  # one worker wrote the outputs
    assert 'chosen: bits' in texts[finisher]


def test_a_missing_database_driver_fails_before_any_work_naming_the_extra(tmp_path, saved_model):
    # a driver this project does not install (psycopg2) stands for a missing one
    assert importlib.util.find_spec('psycopg2') is None, 'psycopg2 is installed: this test needs a missing driver'
    with pytest.raises(TuneError, match=r'driver psycopg2 is not installed: pip install "hls4ml-vhdlspartan\[distributed\]"'):
        storage_url('postgresql+psycopg2://user:secret@db.example/tune')
    with pytest.raises(TuneError, match=r'driver MySQLdb is not installed$'):  # no extra to name there
        storage_url('mysql://user@db.example/tune')
    with pytest.raises(TuneError, match='is not a database URL'):
        storage_url('postgres:/nowhere')
    assert storage_url('postgresql://u@h/db') == 'postgresql+psycopg://u@h/db'  # psycopg 3, the extra's driver
    # the YAML is refused before the model is loaded or anything is written
    yml = _worker_yaml(tmp_path, 'x', saved_model, 'postgresql+psycopg2://user:secret@db.example/tune')
    t0 = time.perf_counter()
    with pytest.raises(TuneError, match=r'study storage postgresql\+psycopg2://user:\*\*\*@db.example/tune'):
        tune_config.load(yml)
    assert time.perf_counter() - t0 < 2 and not (tmp_path / 'out_x').exists()
