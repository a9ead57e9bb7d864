"""What the workers sharing one study (one database URL, one study name) need beyond Optuna.

Optuna shares the trials; its heartbeat fails the trial of a killed worker, and the failed-trial
callback queues it again for a live one. The work around the trials is done once per study:

- the sensitivity measurement: one worker measures it and stores it in the study, the others
  wait for it;
- the fine-tuning and the outputs: one worker does them, the others stop after their trials.
  A worker that finds it done stops too, unless it runs where the finisher wrote its outputs
  (same host and output directory): a rerun there finishes again, as it would without sharing.

A worker claims such a piece of work by inserting a row (study, what) into the table
`vhdlspartan_claims` of the study's database. Its primary key lets one insert succeed. While the
holder works, a thread adds 1 to the row's `beat` every `interval` seconds; a worker that sees the
beat stand still for `grace` seconds (its holder was killed) takes the row over. The beat is a
counter, not a time, so the machines need not agree on the clock. `done` marks finished work; a
holder that fails (an exception, Ctrl-C) deletes its row, so the next worker starts at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger('vhdlspartan.tuning')
EXTRA = 'pip install "hls4ml-vhdlspartan[distributed]"'


def worker_name() -> str:
    """How logs and claims name this worker."""
    return f'{socket.gethostname()}:{os.getpid()}'


def place(out_dir) -> str:
    """Where a worker writes its outputs: host and output directory ('' without outputs)."""
    return f'{socket.gethostname()}:{Path(out_dir).resolve()}' if out_dir else ''


def storage_url(storage):
    """The study's database URL, checked before any work: a clear error names a URL that is not
    one, and a missing database driver with the package extra that brings it. `postgresql://`
    (SQLAlchemy's default there is psycopg2) means psycopg 3, the driver of that extra."""
    if not isinstance(storage, str):
        return storage  # None (in memory) or an Optuna storage object
    import sqlalchemy as sa

    from .tuner import TuneError  # (tuner imports this module)

    try:
        url = sa.engine.make_url(storage)
    except sa.exc.ArgumentError:
        raise TuneError(f"study storage {storage!r} is not a database URL (e.g. 'sqlite:///study.db' or "
                        f"'postgresql://user:password@host/database')") from None  # fmt: skip
    if url.drivername == 'postgresql':
        url = url.set(drivername='postgresql+psycopg')
    try:
        dialect = url.get_dialect()
        dialect.import_dbapi()
    except ImportError as e:
        hint = f': {EXTRA}' if url.get_backend_name() == 'postgresql' else ''
        raise TuneError(f'study storage {url.render_as_string(hide_password=True)}: its database driver '
                        f'{e.name or url.drivername} is not installed{hint}') from None  # fmt: skip
    except sa.exc.NoSuchModuleError:
        raise TuneError(f'study storage {storage!r}: SQLAlchemy knows no database {url.drivername!r}') from None
    return url.render_as_string(hide_password=False)


def open_study(storage, name, directions, heartbeat: int):
    """(study, Claims or None). A database URL gets Optuna's heartbeat: a worker records one every
    `heartbeat` s while a trial runs; a trial whose heartbeat is 3 beats old is failed by the next
    worker that starts a trial, and queued again (at most twice, in case the trial itself kills
    its worker)."""
    import optuna
    import sqlalchemy as sa

    if not isinstance(storage, str):
        return optuna.create_study(study_name=name, storage=storage, directions=directions, load_if_exists=True), None
    grace = 3 * heartbeat
    for attempt in range(3):
        try:
            with _no_experimental_warning():
                retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)
                rdb = optuna.storages.RDBStorage(storage, heartbeat_interval=heartbeat, grace_period=grace,
                                                 heartbeat_stale_trial_callback=retry)  # fmt: skip
            study = optuna.create_study(study_name=name, storage=rdb, directions=directions, load_if_exists=True)
            return study, Claims(storage, name, heartbeat, grace)
        except sa.exc.DatabaseError:
            if attempt == 2:
                raise
            time.sleep(1)  # two workers created the tables of a new database at once: one lost the race


def fail_stale_trials(study):
    import optuna

    with _no_experimental_warning():
        optuna.storages.fail_stale_trials(study)


@contextmanager
def _no_experimental_warning():
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter('ignore', optuna.exceptions.ExperimentalWarning)  # heartbeats are, since 2.9
        yield


@dataclass
class Holder:
    worker: str
    done: bool
    note: str


class Claims:
    def __init__(self, url: str, study: str, interval: float, grace: float):
        import sqlalchemy as sa

        self.sa, self.study, self.interval, self.grace = sa, study, interval, grace
        self.poll = min(1.0, interval / 2)
        self.me = worker_name()
        self.engine = sa.create_engine(url)
        self.table = sa.Table('vhdlspartan_claims', sa.MetaData(),
                              sa.Column('study', sa.String(512), primary_key=True),
                              sa.Column('what', sa.String(512), primary_key=True),
                              sa.Column('worker', sa.String(512), nullable=False),
                              sa.Column('beat', sa.Integer, nullable=False),
                              sa.Column('done', sa.Boolean, nullable=False),
                              sa.Column('note', sa.Text, nullable=False))  # fmt: skip
        try:
            self.table.create(self.engine, checkfirst=True)
        except sa.exc.DatabaseError:  # another worker created it between the check and the create
            if not sa.inspect(self.engine).has_table(self.table.name):
                raise

    def _key(self, what):
        c = self.table.c
        return (c.study == self.study) & (c.what == what)

    def _row(self, what) -> tuple | None:  # (Holder, beat)
        c = self.table.c
        with self.engine.connect() as db:
            row = db.execute(self.sa.select(c.worker, c.beat, c.done, c.note).where(self._key(what))).first()
        return row and (Holder(row.worker, bool(row.done), row.note), row.beat)

    def _change(self, where, **values) -> bool:
        with self.engine.begin() as db:
            return db.execute(self.table.update().where(where).values(**values)).rowcount == 1

    def _insert(self, what, note) -> bool:
        try:
            with self.engine.begin() as db:
                db.execute(self.table.insert().values(study=self.study, what=what, worker=self.me, beat=0,
                                                      done=False, note=note))  # fmt: skip
            return True
        except self.sa.exc.IntegrityError:
            return False

    def acquire(self, what: str, label: str, wait: bool, note: str = '') -> Holder | None:
        """None: this worker now holds `what` and does it, inside `hold(what)`. Otherwise the
        worker that did it (done) or does it: with wait, once it is done; without, as soon as its
        heartbeat shows it alive. A holder whose beat stands still for `grace` s is taken over."""
        c = self.table.c
        said = None
        while True:
            if self._insert(what, note):
                return None
            got = self._row(what)
            if got is None:
                continue  # released between the insert and the read
            holder, beat = got
            if holder.done:
                return holder
            if wait and said != holder.worker:
                log.info(f'worker {holder.worker} is {label}; waiting for it')
                said = holder.worker
            since = time.monotonic()
            while True:
                time.sleep(self.poll)
                now = self._row(what)
                if now is None or now[0].done or now[0].worker != holder.worker:
                    break  # released, done or taken over: look again
                if now[1] != beat:  # it beats: alive
                    if not wait:
                        return now[0]
                    beat, since = now[1], time.monotonic()
                elif time.monotonic() - since > self.grace:
                    took = self._change(self._key(what) & (c.worker == holder.worker) & (c.beat == beat)
                                        & (c.done == self.sa.false()), worker=self.me, beat=0, note=note)  # fmt: skip
                    if took:
                        log.info(f'worker {holder.worker} stopped {label} (no heartbeat for {self.grace:g} s); '
                                 f'worker {self.me} takes over')  # fmt: skip
                        return None
                    break

    @contextmanager
    def hold(self, what: str):
        """Do `what` (after acquire returned None) with a heartbeat; done at the end, released
        on an exception, so that another worker can do it."""
        c = self.table.c
        mine = self._key(what) & (c.worker == self.me)
        stop = threading.Event()

        def beat():
            while not stop.wait(self.interval):
                try:
                    self._change(mine, beat=c.beat + 1)
                except self.sa.exc.SQLAlchemyError as e:  # a short outage: the next beat may get through
                    log.warning(f'heartbeat of {what!r} failed: {e}')

        thread = threading.Thread(target=beat, name=f'vhdlspartan-beat-{what}', daemon=True)
        thread.start()
        try:
            yield
        except BaseException:
            stop.set()
            thread.join()
            with self.engine.begin() as db:
                db.execute(self.table.delete().where(mine))
            raise
        stop.set()
        thread.join()
        self._change(mine, done=True)

    def reopen(self, what: str, holder: Holder) -> bool:
        """Take finished work back, to do it again (a rerun in the place that did it)."""
        c = self.table.c
        return self._change(self._key(what) & (c.worker == holder.worker) & (c.done == self.sa.true()),
                            worker=self.me, beat=0, done=False)  # fmt: skip

    def close(self):
        self.engine.dispose()
