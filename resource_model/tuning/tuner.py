"""Resource-aware precision tuner: per-layer bitwidths, buffer storage and engine lanes that fit
a part with the least accuracy lost and the lowest latency.

    result = tune(model, (x_train, y_train, x_val, y_val), part='xc7s15')
    result.config        # hls4ml config: per-layer Precision (from the tuned quantizers), Storage, Lanes
    result.model         # the fine-tuned Keras model
    result.front         # Pareto front rows (predicted validation loss against LUTs / cycles)

How it works:
1. Sensitivity: the validation loss when one group of layers alone is quantized to each candidate
   bitwidth (the others as trained); a candidate's predicted loss is the baseline plus the sum
   of its groups' increases. At each width a group's activation types may also give up integer
   bits for fraction bits (`drop_integer`); the number with the lowest loss is kept for that
   group and width (the widths stay; at most a cast unit appears between groups on other grids).
2. Search (Optuna): each trial picks bits per group, lanes, the DSP share of the lanes and the
   storage kind; the resource model says whether it fits (with the margin) and how many cycles
   it takes, before any training. Objectives: predicted loss and cycles; constraints: fit and
   latency target. Trials live in an Optuna storage (SQLite file by default, or any database
   URL: several workers then share one study), so an interrupted study resumes.
3. Fine-tuning: the best few feasible candidates by predicted loss, and the widest few uniform
   designs (every group at one width) that fit, each at its fastest feasible lanes, are trained
   briefly with their quantizers (quantization-aware); the one with the lowest validation loss
   is returned. The uniform designs are there because the predicted loss, a sum of one group at
   a time, can rank a mixed design above a uniform one that fine-tunes better.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import TimingWarning, UnsupportedError
from ...quiet import quiet_keras
from .bits import quantized_layers, with_bits
from .shared import fail_stale_trials, open_study, place, storage_url, worker_name
from ..devices import get_device
from ..estimate import CAPACITY_RESOURCES, GUARDED, estimate, estimate_guard

DEFAULT_BITS = (4, 5, 6, 7, 8)
DEFAULT_LANES = (1, 2, 4, 8, 12, 16)
DEFAULT_DSP_SHARE = (1.0, 0.5, 0.0)
SOFTMAX_LAYERS = ('QMultiHeadSelfAttention', 'MultiHeadAttention', 'QSoftmax')  # Keras layers with a softmax
STORAGE_KINDS = ('auto', 'bram', 'lutram')
CHECKED = CAPACITY_RESOURCES  # what must fit
log = logging.getLogger('vhdlspartan.tuning')


class TuneError(UnsupportedError):
    """The tuner cannot find what was asked. `kind` names the cause, so callers can react to one
    without matching messages: 'budget' (nothing fits the part), 'latency' (the target is out of
    reach), 'no_feasible_trial' (no trial met the constraints), 'no_groups' (nothing to quantize)
    or 'config' (a bad argument or config value)."""

    KINDS = ('config', 'budget', 'latency', 'no_feasible_trial', 'no_groups')

    def __init__(self, message: str, kind: str = 'config'):
        if kind not in self.KINDS:
            raise ValueError(f'TuneError kind {kind!r}: use one of {self.KINDS}')
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):  # keep the kind through pickling (e.g. from a worker process)
        return type(self), (str(self), self.kind)


@dataclass
class TuneSpace:
    """Candidates the search draws from."""

    bits: tuple = DEFAULT_BITS
    lanes: tuple = DEFAULT_LANES
    dsp_share: tuple = DEFAULT_DSP_SHARE  # fraction of the lanes that multiply in DSP48E1s
    storage: tuple = ('auto',)
    softmax_dividers: tuple = (0,)  # pass-3 dividers of every softmax; 0: the backend's default
    drop_integer: tuple = (0, 1, 2)  # integer bits an activation type may trade for fraction bits

    def __post_init__(self):
        self.bits = tuple(sorted({int(b) for b in self.bits}))
        self.lanes = tuple(sorted({int(n) for n in self.lanes}))
        self.dsp_share = tuple(sorted({float(s) for s in self.dsp_share}, reverse=True))
        self.storage = tuple(self.storage)
        self.softmax_dividers = tuple(sorted(set(self.softmax_dividers)))
        self.drop_integer = tuple(sorted(set(self.drop_integer)))
        if not self.bits or min(self.bits) < 2 or max(self.bits) > 16:
            raise TuneError(f'candidate bits {self.bits}: use widths in 2..16')
        if not self.lanes or min(self.lanes) < 1:
            raise TuneError(f'candidate lanes {self.lanes}: use integers >= 1')
        if not self.dsp_share or not all(0 <= s <= 1 for s in self.dsp_share):
            raise TuneError(f'candidate dsp_share {self.dsp_share}: use fractions in 0..1')
        if not _non_negative_ints(self.softmax_dividers):
            raise TuneError(f'candidate softmax_dividers {self.softmax_dividers}: use integers >= 0 (0: the default)')
        if not _non_negative_ints(self.drop_integer):
            raise TuneError(f'candidate drop_integer {self.drop_integer}: use integers >= 0 (0: keep the integer bits)')
        bad = [s for s in self.storage if s not in STORAGE_KINDS]
        if not self.storage or bad:
            raise TuneError(f'candidate storage {bad or self.storage}: use {STORAGE_KINDS}')


def _non_negative_ints(values) -> bool:
    return bool(values) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in values)


def check_margin(margin, what: str = 'margin') -> float:
    """The resource margin (the fraction of every resource kept free) as a float in [0, 1)."""
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < 1:
        raise TuneError(f'{what} must be a fraction in [0, 1), not {margin!r}')
    return float(margin)


def transformer_groups(model) -> dict:
    """Layer groups of a vhdlspartan.models.ts_transformer, named like its `bits` keys."""
    patterns = (('input', r'q_in$'), ('embed', r'embed(_q)?$'), ('posenc', r'posenc$'), ('attention', r'att\d+$'),
                ('norm', r'(att|ffn)\d+_norm$'), ('ffn', r'ffn\d+_(up|relu|down|q)$'), ('pool', r'pool$'),
                ('head', r'(head|head_q|out|skip|skip_q)$'))  # fmt: skip
    groups = {}
    for name in quantized_layers(model):
        key = next((g for g, p in patterns if re.match(p, name)), None)
        if key is None:
            return {}
        groups.setdefault(key, []).append(name)
    return groups


def default_groups(model) -> dict:
    """ts_transformer groups when the model is one, else one group per quantized layer."""
    return transformer_groups(model) or {name: [name] for name in quantized_layers(model)}


def default_hls_config(model) -> dict:
    """hls4ml config of a candidate: models.hls_config for a ts_transformer (input type from
    its input quantizer, exact residual sums), else hls4ml's per-layer config."""
    if 'q_in' in {layer.name for layer in model.layers}:
        from ...models import hls_config

        q = model.get_layer('q_in').quantizer
        return hls_config(model, integer=int(q.integer))
    import hls4ml

    return hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')


def mse(y_true, y_pred) -> float:
    return float(np.mean((np.asarray(y_pred, np.float64).reshape(len(y_true), -1)
                          - np.asarray(y_true, np.float64).reshape(len(y_true), -1)) ** 2))  # fmt: skip


@dataclass
class Candidate:
    bits: dict  # group -> bits
    lanes: int
    dsp_lanes: int
    storage: str
    softmax_dividers: int = 0  # 0: the backend's default


@dataclass
class HardwareCost:
    totals: dict
    utilization: dict
    cycles: int
    macs: int
    binding: str
    fits: bool
    needs: str  # each resource's count and share of the part, for messages
    seconds: float
    delay_ns: float = 0.0  # estimated worst register-to-register path (estimate.design_delay)


class HardwareModel:
    """Resource-model checks of candidates: convert in memory (nothing written) and estimate.
    Results are cached, so a candidate seen twice costs nothing."""

    def __init__(self, model, groups, part, margin=0.0, hls_config_fn=None, guard=None, clock_ns=10.0):
        get_device(part)  # an unknown part fails here, naming the known ones
        self.model, self.groups, self.part, self.margin = model, groups, part, float(margin)
        self.clock_ns = float(clock_ns)
        # headroom on the fitted resources: the estimate's held-out error unless given (0: none)
        self.guard = estimate_guard() if guard is None else dict.fromkeys(GUARDED, float(guard))
        self.hls_config_fn = hls_config_fn or default_hls_config
        self.drop = {}  # group -> {bits: integer bits dropped}, from the sensitivity (none before it)
        self._cache = {}

    def layer_bits(self, group_bits: dict) -> dict:
        return {layer: int(group_bits[g]) for g, layers in self.groups.items() for layer in layers}

    def group_drop(self, group_bits: dict) -> dict:
        return drops_at(self.drop, group_bits)

    def keras_model(self, group_bits: dict):
        drop = self.group_drop(group_bits)
        return with_bits(self.model, self.layer_bits(group_bits),
                         {layer: drop[g] for g, layers in self.groups.items() for layer in layers})  # fmt: skip

    def hls_config(self, keras_model, cand: Candidate) -> dict:
        with quiet_keras():  # hls4ml reads the model's JSON: the QKeras serialization warnings
            cfg = self.hls_config_fn(keras_model)
        cfg.setdefault('Model', {}).update(Lanes=cand.lanes, DSPLanes=cand.dsp_lanes, Storage=cand.storage)
        if cand.softmax_dividers:
            for layer in keras_model.layers:
                if type(layer).__name__ in SOFTMAX_LAYERS:
                    cfg.setdefault('LayerName', {}).setdefault(layer.name, {})['SoftmaxDividers'] = cand.softmax_dividers
        return cfg

    def cost(self, cand: Candidate) -> HardwareCost:
        key = (tuple(sorted(cand.bits.items())), tuple(sorted(self.group_drop(cand.bits).items())), cand.lanes,
               cand.dsp_lanes, cand.storage, cand.softmax_dividers)  # fmt: skip
        if key not in self._cache:
            import hls4ml

            t0 = time.perf_counter()
            km = self.keras_model(cand.bits)
            with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), quiet_keras():
                warnings.simplefilter('ignore', TimingWarning)  # tune() says it once, for the chosen design
                hm = hls4ml.converters.convert_from_keras_model(km, hls_config=self.hls_config(km, cand),
                                                                backend='VHDLSpartan', output_dir=tmp, part=self.part,
                                                                clock_period=self.clock_ns)  # fmt: skip
            est = estimate(hm, self.part)
            self._cache[key] = HardwareCost({r: int(est.total[r]) for r in est.total}, est.utilization, est.cycles,
                                            est.macs, est.binding, est.fits_within(self.margin, self.guard), est.needs(),
                                            time.perf_counter() - t0, est.delay_ns)  # fmt: skip
        return self._cache[key]

    def over_budget(self, cost: HardwareCost) -> float:
        """How far the most used resource (raised by its guard) is over 1 - margin; <= 0 fits."""
        return max(u * (1 + self.guard.get(r, 0.0)) - (1.0 - self.margin) for r, u in cost.utilization.items())


def sensitivity(model, groups, bits, x_val, y_val, loss=mse, drop_integer=(0,), progress=False) -> tuple:
    """(baseline loss, {group: {bits: loss increase}}, {group: {bits: integer bits dropped}}):
    each group alone at each width, with the number of dropped integer bits that loses least."""
    baseline = loss(y_val, model.predict(x_val, verbose=0))
    current = quantized_layers(model)
    table, drops = {}, {}
    bar = _bar(len(groups) * len(bits) * len(drop_integer), 'sensitivity', 'model', progress)
    for g, layers in groups.items():
        table[g], drops[g] = {}, {}
        for b in bits:
            tried = {}
            for k in drop_integer:
                if bar:
                    bar.update(1)
                if k == 0 and all(current[layer] == b for layer in layers):
                    tried[k] = 0.0
                    continue
                m = with_bits(model, dict.fromkeys(layers, b), dict.fromkeys(layers, k))
                tried[k] = loss(y_val, m.predict(x_val, verbose=0)) - baseline
            drops[g][b] = min(tried, key=lambda k: (tried[k], k))  # ties: keep the integer bits
            table[g][b] = tried[drops[g][b]]
    if bar:
        bar.close()
    return baseline, table, drops


def drops_at(drop_table: dict, group_bits: dict) -> dict:
    """{group: integer bits its activation types drop} at these widths (0 where none was chosen)."""
    return {g: int(drop_table.get(g, {}).get(int(b), 0)) for g, b in group_bits.items()}


def predicted_loss(baseline, table, group_bits) -> float:
    return baseline + sum(table[g][int(b)] for g, b in group_bits.items())


def pareto(rows: list, x: str, y: str = 'predicted_loss') -> list:
    """Rows not dominated in (x, y), both minimized, sorted by x."""
    front, best = [], math.inf
    for row in sorted(rows, key=lambda r: (r[x], r[y])):
        if row[y] < best:
            front.append(row)
            best = row[y]
    return front


@dataclass
class TuneResult:
    config: dict
    model: object
    bits: dict  # group -> bits
    layer_bits: dict  # layer -> bits
    candidate: Candidate
    cost: HardwareCost
    val_loss: float
    baseline_loss: float
    rows: list  # every feasible trial
    front_lut: list
    front_cycles: list
    finetuned: list = field(default_factory=list)  # rows of the fine-tuned candidates
    drop_table: dict = field(default_factory=dict)  # group -> {bits: integer bits dropped}, for every row
    files: dict = field(default_factory=dict)
    clock_ns: float = 10.0  # the clock the latency figures are at (ClockPeriod)
    baselines: dict = field(default_factory=dict)  # validation RMSE of persistence, linear AR (tune YAML's data)

    @property
    def integer_drop(self) -> dict:
        """{group: integer bits its activation types gave up for fraction bits} in the chosen design."""
        return drops_at(self.drop_table, self.bits)

    def summary(self) -> str:
        """The Pareto front against LUTs and the choice, as the CLI and the demo print them."""
        c = self.candidate
        return (f'{len(self.rows)} feasible trials; Pareto front (predicted validation loss against LUTs):\n'
                f'{self.table()}\nchosen: bits {self.bits}\n        integer bits dropped {self.integer_drop}\n'
                f'        {c.lanes} lanes ({c.dsp_lanes} on DSPs), '
                f'storage {c.storage}; validation loss {self.val_loss:.5f} after fine-tuning '
                f'(before tuning {self.baseline_loss:.5f}); {self.cost.cycles} cycles for {self.cost.macs} MACs '
                f'= {self.cost.cycles * self.clock_ns / 1000:.2f} us at {1000 / self.clock_ns:.0f} MHz '
                f'(estimated Fmax {1000 / self.cost.delay_ns:.0f} MHz); '
                f'{self.cost.needs}; binding {self.cost.binding}{self._finetuned_note()}{self._baselines_note()}')  # fmt: skip

    def _baselines_note(self) -> str:
        if not self.baselines:
            return ''
        from ...datasets import against_baselines

        return f'\nvalidation RMSE {against_baselines(self.val_loss**0.5, self.baselines)}'

    def _finetuned_note(self) -> str:
        n = sum(bool(r.get('uniform')) for r in self.finetuned)
        return f'\nfine-tuned {len(self.finetuned)} candidates ({n} of them fitting uniform designs)' if n else ''

    def table(self, rows=None) -> str:
        rows = self.front_lut if rows is None else rows
        groups = list(self.bits)
        head = ['pred. loss', 'LUT', 'FF', 'BRAM18', 'DSP', 'cycles', 'lanes', 'dsp', 'storage', *groups]
        lines = [' '.join(f'{h:>10}' for h in head)]
        for r in rows:
            cells = [f'{r["predicted_loss"]:.5f}', r['LUT'], r['FF'], r['BRAM18'], r['DSP'], r['cycles'], r['lanes'],
                     r['dsp_lanes'], r['storage'], *[r['bits'][g] for g in groups]]  # fmt: skip
            lines.append(' '.join(f'{c:>10}' for c in cells))
        return '\n'.join(lines)


def _row(cand: Candidate, cost: HardwareCost, pred: float, number: int) -> dict:
    return {'trial': number, 'predicted_loss': pred, 'bits': dict(cand.bits), 'lanes': cand.lanes,
            'dsp_lanes': cand.dsp_lanes, 'storage': cand.storage, 'softmax_dividers': cand.softmax_dividers,
            'cycles': cost.cycles, 'macs': cost.macs,
            'binding': cost.binding, **{r: cost.totals[r] for r in ('LUT', 'LUTRAM', 'FF', 'BRAM18', 'DSP')}}  # fmt: skip


def smallest_candidate(groups, space: TuneSpace) -> Candidate:
    return Candidate({g: min(space.bits) for g in groups}, min(space.lanes), 0, space.storage[0])


def _max_cycles(latency_cycles, inferences_per_s, clock_ns) -> float:
    limits = [math.inf]
    if latency_cycles:
        limits.append(float(latency_cycles))
    if inferences_per_s:
        limits.append(1e9 / (clock_ns * float(inferences_per_s)))
    return min(limits)


def tune(model, data, part: str = 'xc7s15', space: TuneSpace | None = None, groups: dict | None = None,
         latency_cycles: int | None = None, inferences_per_s: float | None = None, margin: float = 0.0,
         trials: int = 60, finetune_top: int = 3, finetune_epochs: int = 2, batch_size: int = 64,
         learning_rate: float = 1e-3, storage: str | None = None, study_name: str = 'vhdlspartan-tune',
         hls_config_fn=None, out_dir: str | Path | None = None, seed: int = 0, progress: bool = True,
         clock_ns: float = 10.0, loss=mse, finetune_uniform: int = 2, guard: float | None = None,
         heartbeat: int = 10) -> TuneResult | None:  # fmt: skip
    """Find per-group bits, lanes, DSP share and storage that fit `part` with the least predicted
    validation loss (and, among equals, the fewest cycles); fine-tune the best `finetune_top`,
    and the widest `finetune_uniform` fitting uniform designs not among them, and return the one
    with the lowest validation loss.

    data: (x_train, y_train, x_val, y_val). storage: an Optuna storage URL (default: a SQLite
    file in out_dir, or in memory without out_dir); a study of the same name resumes there.
    Workers sharing one study (same URL and study_name) split its trials; one of them fine-tunes
    and returns the result, the others return None after their trials and log (logger
    'vhdlspartan.tuning') which worker finishes. heartbeat: seconds between the heartbeats of a
    worker's running trial and claims; one silent for 3 of them is taken as killed (shared.py).
    guard: headroom kept on LUT and FF above the estimate (default: the estimate's held-out
    error, estimate_guard; 0: trust the estimate to the LUT).
    """
    import optuna

    storage = storage_url(storage)  # a missing database driver fails here, before any work
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, int) or heartbeat < 1:
        raise TuneError(f'heartbeat must be a whole number of seconds >= 1, not {heartbeat!r}')
    space = space or TuneSpace()
    groups = groups or default_groups(model)
    if not groups:
        raise TuneError(f'model {model.name!r} has no quantized layers to tune', kind='no_groups')
    if isinstance(finetune_uniform, bool) or not isinstance(finetune_uniform, int) or finetune_uniform < 0:
        raise TuneError(f'finetune_uniform must be a non-negative integer, not {finetune_uniform!r}')
    x_train, y_train, x_val, y_val = data
    max_cycles = _max_cycles(latency_cycles, inferences_per_s, clock_ns)
    margin = check_margin(margin)
    if guard is not None:
        check_margin(guard, 'guard')
    hw = HardwareModel(model, groups, part, margin, hls_config_fn, guard, clock_ns)
    out = Path(out_dir) if out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)

    _check_budget(hw, groups, space, max_cycles)

    if storage is None and out:
        storage = f'sqlite:///{(out / "study.db").resolve()}'
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, claims = open_study(storage, study_name, ['minimize', 'minimize'], heartbeat)
    try:
        baseline, table, hw.drop, first = _study_sensitivity(study, claims, model, groups, space, x_val, y_val, loss,
                                                             progress)  # fmt: skip
        # the worker that started the study samples with `seed` (a lone worker is reproducible);
        # the others with seeds of their own, or they would all draw the same first trials
        own = int(np.random.SeedSequence([seed, os.getpid()]).generate_state(1)[0])
        sampler_seed = seed if first or claims is None else own
        study.sampler = optuna.samplers.TPESampler(seed=sampler_seed, multivariate=True)  # reads the constraints

        def objective(trial):
            trial.set_user_attr('worker', worker_name())  # which worker ran it (a killed one's trial is retried)
            cand = Candidate({g: trial.suggest_categorical(f'bits_{g}', list(space.bits)) for g in groups},
                             trial.suggest_categorical('lanes', list(space.lanes)), 0,
                             trial.suggest_categorical('storage', list(space.storage)))  # fmt: skip
            share = trial.suggest_categorical('dsp_share', list(space.dsp_share))
            if len(space.softmax_dividers) > 1:
                cand.softmax_dividers = trial.suggest_categorical('softmax_dividers', list(space.softmax_dividers))
            else:
                cand.softmax_dividers = space.softmax_dividers[0]
            cand.dsp_lanes = round(share * cand.lanes)
            cost = hw.cost(cand)
            pred = predicted_loss(baseline, table, cand.bits)
            over = hw.over_budget(cost)
            late = cost.cycles / max_cycles - 1.0 if math.isfinite(max_cycles) else -1.0
            trial.set_constraint('over_budget', over)  # feasible when <= 0
            trial.set_constraint('over_latency', late)
            trial.set_user_attr('constraints', [over, late])
            trial.set_user_attr('row', _row(cand, cost, pred, trial.number))
            return pred, cost.cycles

        def finish():
            return _finish(study, hw, space, baseline, table, data, max_cycles, part, clock_ns, out, progress,
                           finetune_top, finetune_uniform, finetune_epochs, batch_size, learning_rate, loss, seed)  # fmt: skip

        ran = _search(study, objective, trials, progress)
        if claims is None:
            return finish()
        what = f'finish:{trials}'  # asking for more trials later is a new round, finished again
        here = place(out)
        holder = claims.acquire(what, 'fine-tuning', wait=False, note=here)
        if holder is not None and holder.done and here and holder.note == here and claims.reopen(what, holder):
            holder = None  # finished before in this very place: a rerun here (make demo twice) finishes again
        if holder is not None:
            log.warning(_handoff(holder, study_name, trials, ran, claims.grace))
            return None
        with claims.hold(what):
            _settle(study, claims)
            return finish()
    finally:
        if claims:
            claims.close()


def _search(study, objective, trials, progress) -> int:
    """Run trials until the study holds `trials` complete ones, whoever ran them: a failed trial
    (its worker was killed) does not count, and its retry is run by whichever worker is next.
    Returns how many this worker ran."""
    import optuna

    done = _complete(study)
    if done >= trials:
        return 0
    ran = [0]

    def count(study, trial):
        ran[0] += 1

    bar = _progress(trials, done, progress)
    stop = optuna.study.MaxTrialsCallback(trials, states=(optuna.trial.TrialState.COMPLETE,))
    study.optimize(objective, callbacks=[count, stop] + ([bar] if bar else []), gc_after_trial=False)
    if bar:
        bar.close()
    return ran[0]


def _complete(study) -> int:
    import optuna

    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def _settle(study, claims):
    """Before fine-tuning: wait until no trial runs, so the candidates come from every trial. Other
    workers' last trials end within seconds; a killed worker's trial is failed once its heartbeat
    is `grace` s old (its retry stays queued for a later run: the count is reached). A trial
    without any heartbeat (left by a tuner before heartbeats) is waited for twice that long."""
    import optuna

    deadline = time.monotonic() + 2 * claims.grace + 5
    said = False
    while running := study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if not said:
            log.info(f'waiting for trial(s) {[t.number for t in running]} to end (or their heartbeat to stop)')
            said = True
        if time.monotonic() > deadline:
            log.info('some trials still run without a heartbeat; fine-tuning without them')
            return
        fail_stale_trials(study)
        time.sleep(claims.poll)


def _handoff(holder, study_name, trials, ran, grace) -> str:
    where = f' (outputs in {holder.note})' if holder.note else ''
    if holder.done:
        return (f'study {study_name!r} with {trials} trials was finished by worker {holder.worker}{where}; nothing '
                f'left to do here: ask for more trials, or name a new study, to tune again')  # fmt: skip
    return (f'worker {holder.worker} fine-tunes study {study_name!r} and writes its outputs{where}; this worker ran '
            f'{ran} trials and stops. Should that worker stop first, run this again: it takes over once that '
            f"worker's heartbeat is {grace:g} s old")  # fmt: skip


def _finish(study, hw, space, baseline, table, data, max_cycles, part, clock_ns, out, progress,
            finetune_top, finetune_uniform, finetune_epochs, batch_size, learning_rate, loss, seed):  # fmt: skip
    """Fine-tune the best candidates of the study's trials and pick the result (one worker)."""
    import optuna

    x_train, y_train, x_val, y_val = data
    rows = [{'softmax_dividers': 0, **t.user_attrs['row']} for t in study.trials  # trials of older versions
            if t.state == optuna.trial.TrialState.COMPLETE and max(t.user_attrs['constraints']) <= 0]  # fmt: skip
    best_rows = [{**r, 'uniform': False} for r in _distinct_best(rows, finetune_top)] if rows else []
    # when no trial is feasible, a uniform design at fewer lanes may still be (the sampler can miss it)
    best_rows += _uniform_rows(hw, rows, space, max_cycles, lambda bits: predicted_loss(baseline, table, bits),
                               {_bits_key(r['bits']) for r in best_rows},
                               finetune_uniform if rows else max(finetune_uniform, 1))  # fmt: skip
    if not best_rows:
        raise TuneError(f'none of {len(study.trials)} trials fits {part} within the margin and latency target, '
                        f'nor does any uniform design; try more trials, more lanes or a looser latency target',
                        kind='no_feasible_trial')  # fmt: skip
    rows = rows or [{k: v for k, v in r.items() if k != 'uniform'} for r in best_rows]  # the fronts show those
    log.info(f'worker {worker_name()} fine-tunes {len(best_rows)} candidates of {_complete(study)} trials')
    finetuned = []
    bar = _bar(len(best_rows), 'fine-tuning', 'candidate', progress)
    for row in best_rows:
        km = hw.keras_model(row['bits'])
        val = finetune(km, x_train, y_train, x_val, y_val, finetune_epochs, batch_size, learning_rate, loss, seed)
        finetuned.append({**row, 'val_loss': val, 'model': km})
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    chosen = min(finetuned, key=lambda r: (r['val_loss'], r['cycles']))
    cand = Candidate(chosen['bits'], chosen['lanes'], chosen['dsp_lanes'], chosen['storage'], chosen['softmax_dividers'])
    result = TuneResult(
        config=_final_config(hw, chosen['model'], cand), model=chosen['model'], bits=dict(cand.bits),
        layer_bits=hw.layer_bits(cand.bits), candidate=cand, cost=hw.cost(cand), val_loss=chosen['val_loss'],
        baseline_loss=baseline, rows=rows, front_lut=pareto(rows, 'LUT'), front_cycles=pareto(rows, 'cycles'),
        finetuned=[{k: v for k, v in r.items() if k != 'model'} for r in finetuned], drop_table=hw.drop,
        clock_ns=float(clock_ns),
    )  # fmt: skip
    if result.cost.delay_ns > clock_ns:
        warnings.warn(f'clock_ns {clock_ns:g} is shorter than the chosen design\'s estimated worst path '
                      f'({result.cost.delay_ns:.2f} ns); its latency figures assume a clock it cannot meet',
                      TimingWarning, stacklevel=3)  # fmt: skip
    if out:
        result.files = write_outputs(result, out)
    return result


def _saved_sensitivity(study, groups, space):
    saved = study.user_attrs.get('sensitivity')
    if (saved and set(saved['table']) == set(groups) and saved.get('drop_integer', [0]) == list(space.drop_integer)
            and all(str(b) in saved['table'][g] for g in groups for b in space.bits)):  # fmt: skip
        def read(t):
            return {g: {int(b): v for b, v in row.items()} for g, row in t.items()}

        return saved['baseline'], read(saved['table']), read(saved.get('drop', {g: {} for g in groups}))
    return None


def _study_sensitivity(study, claims, model, groups, space, x_val, y_val, loss, progress):
    """(baseline, table, drops, measured here). Sensitivities are measured once per study and kept
    in it, so every worker uses the same: one worker measures them and queues the first trials,
    the others wait for it (and take over if it is killed)."""
    saved = _saved_sensitivity(study, groups, space)
    if saved:
        return (*saved, False)
    asked = repr((sorted(groups.items()), space.bits, space.drop_integer))  # another space: another measurement
    what = 'sensitivity:' + hashlib.sha1(asked.encode()).hexdigest()[:12]
    holder = claims.acquire(what, 'measuring the sensitivities', wait=True) if claims else None
    if holder is not None:
        saved = _saved_sensitivity(study, groups, space)
        if saved:
            return (*saved, False)
    # measured here: this worker holds the claim, or none is needed (in memory), or the saved table
    # was overwritten by a worker of another search space since
    with claims.hold(what) if claims and holder is None else contextlib.nullcontext():
        log.info(f'worker {worker_name()} measures the sensitivities')
        baseline, table, drops = sensitivity(model, groups, space.bits, x_val, y_val, loss, space.drop_integer, progress)

        def write(t):
            return {g: {str(b): v for b, v in row.items()} for g, row in t.items()}

        study.set_user_attr('sensitivity', {'baseline': baseline, 'table': write(table), 'drop': write(drops),
                                            'drop_integer': list(space.drop_integer)})  # fmt: skip
        if not study.trials:  # start from the uniform designs at the largest lane count that fits each
            for b in sorted(space.bits, reverse=True):
                study.enqueue_trial({**{f'bits_{g}': b for g in groups}, 'lanes': max(space.lanes),
                                     'storage': space.storage[0], 'dsp_share': space.dsp_share[0]},
                                    skip_if_exists=True)  # fmt: skip
    return baseline, table, drops, True


def _check_budget(hw, groups, space, max_cycles):
    """Fail at once, naming the binding resource, when even the smallest design does not fit."""
    small = smallest_candidate(groups, space)
    cost = hw.cost(small)
    if not cost.fits:
        raise TuneError(f'no configuration fits {hw.part} with margin {hw.margin:.0%}: the smallest design '
                        f'(every group at {min(space.bits)} bits, {small.lanes} lane, storage {small.storage}) '
                        f'needs {cost.needs}; binding resource {cost.binding}', kind='budget')  # fmt: skip
    if math.isfinite(max_cycles):
        # every DSP share and divider count at the most lanes: 0 dividers (the default, min(lanes, 4))
        # can be faster than a larger explicit count, so no single option is known to be the fastest
        lanes = max(space.lanes)
        cycles = min(hw.cost(Candidate(small.bits, lanes, round(s * lanes), small.storage, n)).cycles
                     for s in space.dsp_share for n in space.softmax_dividers)  # fmt: skip
        if cycles > max_cycles:
            raise TuneError(f'latency target {max_cycles:.0f} cycles is out of reach: the fastest candidate '
                            f'({lanes} lanes) takes {cycles} cycles', kind='latency')  # fmt: skip


def _distinct_best(rows, k):
    """The k best rows with distinct bits, each at its fewest cycles."""
    by_bits = {}
    for row in sorted(rows, key=lambda r: (r['predicted_loss'], r['cycles'], r['LUT'])):
        by_bits.setdefault(_bits_key(row['bits']), row)
    return list(by_bits.values())[: max(1, k)]


def _bits_key(bits: dict) -> tuple:
    return tuple(sorted(bits.items()))


def _uniform_rows(hw, rows, space, max_cycles, pred, skip, k) -> list:
    """Up to k uniform designs (every group at one width), widest first, that fit and whose bits
    are not in `skip`: each the fastest feasible one (fewest cycles, then LUTs) among the trials'
    rows with those bits and the design evaluated here. Rows are marked 'uniform'."""
    picked = []
    for b in sorted(space.bits, reverse=True):
        if len(picked) >= k:
            break
        bits = dict.fromkeys(hw.groups, b)
        if _bits_key(bits) in skip:
            continue
        found = [r for r in rows if _bits_key(r['bits']) == _bits_key(bits)]
        found.append(_fit_uniform(hw, bits, space, max_cycles, pred(bits)))  # trials may have missed it
        found = [r for r in found if r]
        if found:
            picked.append({**_fastest(found), 'uniform': True})
    return picked


def _fastest(rows):
    return min(rows, key=lambda r: (r['cycles'], r['LUT']))


def _fit_uniform(hw, bits, space, max_cycles, pred):
    """The row (trial -1) of the fastest design with these bits that fits and meets the latency
    target, or None. The study enqueued uniform designs at the most lanes only, which may not fit,
    so lane counts are tried from the largest: the first with a feasible divider count wins, as
    more lanes take fewer cycles."""
    for lanes in sorted(space.lanes, reverse=True):
        cands = [Candidate(dict(bits), lanes, round(space.dsp_share[0] * lanes), space.storage[0], n)
                 for n in space.softmax_dividers]  # fmt: skip
        costs = [hw.cost(c) for c in cands]
        ok = [_row(c, cost, pred, -1) for c, cost in zip(cands, costs) if cost.fits and cost.cycles <= max_cycles]
        if ok:
            return _fastest(ok)
        if all(cost.fits for cost in costs):
            return None  # every option fits but is too slow: fewer lanes only take longer
    return None


def finetune(km, x_train, y_train, x_val, y_val, epochs, batch_size, lr, loss, seed):
    """Train km for up to `epochs` epochs and keep the weights of the epoch (0: before training)
    with the lowest validation loss: short QAT of a small model on little data can over-fit, and
    the chosen candidate should be the one that generalizes."""
    import tensorflow as tf

    best = (loss(y_val, km.predict(x_val, verbose=0)), km.get_weights())
    if epochs > 0:
        tf.keras.utils.set_random_seed(seed)
        km.compile(optimizer=tf.keras.optimizers.Adam(lr), loss='mse')
        for _ in range(epochs):
            km.fit(x_train, y_train, epochs=1, batch_size=batch_size, verbose=0)
            val = loss(y_val, km.predict(x_val, verbose=0))
            if val < best[0]:
                best = (val, km.get_weights())
        km.set_weights(best[1])
    return best[0]


def _final_config(hw, km, cand) -> dict:
    cfg = hw.hls_config(km, cand)
    cfg['Model']['Part'] = hw.part
    return cfg


def _bar(total, desc, unit, enabled, initial=0):
    if not enabled or total <= 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit)


def _progress(trials, done, enabled):
    """A trial callback that shows the study's complete trials (every worker's) out of `trials`."""
    bar = _bar(trials, 'tuning', 'trial', enabled, done)
    if bar is None:
        return None

    def callback(study, trial):
        feasible = [t.user_attrs['row'] for t in study.trials
                    if t.user_attrs.get('row') and max(t.user_attrs.get('constraints', [1])) <= 0]  # fmt: skip
        if feasible:
            best = min(feasible, key=lambda r: (r['predicted_loss'], r['cycles']))
            bar.set_postfix_str(f'best: loss {best["predicted_loss"]:.4g}, {best["cycles"]} cycles, LUT {best["LUT"]}')
        bar.update(min(_complete(study), trials) - bar.n)

    callback.close = bar.close
    return callback


def write_outputs(result: TuneResult, out: Path) -> dict:
    """The chosen hls4ml config (YAML), the fine-tuned model, the Pareto fronts (CSV) and plot (PNG)."""
    import yaml

    files = {}
    files['model'] = out / 'tuned_model.h5'  # HDF5: QKeras' QActivation does not survive the .keras format
    with quiet_keras():
        result.model.save(files['model'])
    files['config'] = out / 'hls4ml_config.yml'  # for `hls4ml convert -c` and `vhdlspartan report`
    project = {'OutputDir': str(out / 'hls4ml_prj'), 'ProjectName': 'tuned', 'Backend': 'VHDLSpartan',
               'Part': result.config['Model'].get('Part', 'xc7s15'), 'ClockPeriod': result.clock_ns, 'IOType': 'io_parallel',
               'HLSConfig': result.config}  # fmt: skip
    files['config'].write_text(f'# written by the vhdlspartan tuner\nKerasModel: !keras_model {files["model"].resolve()}\n'
                               + yaml.safe_dump(project, sort_keys=False))  # fmt: skip
    files['trials'] = out / 'trials.csv'
    groups = list(result.bits)
    head = ['trial', 'predicted_loss', 'LUT', 'LUTRAM', 'FF', 'BRAM18', 'DSP', 'cycles', 'macs', 'lanes', 'dsp_lanes',
            'storage', 'binding', 'front_lut', 'front_cycles', *[f'bits_{g}' for g in groups],
            *[f'drop_{g}' for g in groups]]  # fmt: skip
    on_lut = {r['trial'] for r in result.front_lut}
    on_cyc = {r['trial'] for r in result.front_cycles}
    lines = [','.join(head)]
    for r in sorted(result.rows, key=lambda r: r['trial']):
        drops = drops_at(result.drop_table, r['bits'])
        vals = [r['trial'], f'{r["predicted_loss"]:.6g}', r['LUT'], r['LUTRAM'], r['FF'], r['BRAM18'], r['DSP'],
                r['cycles'], r['macs'], r['lanes'], r['dsp_lanes'], r['storage'], r['binding'],
                int(r['trial'] in on_lut), int(r['trial'] in on_cyc), *[r['bits'][g] for g in groups],
                *[drops[g] for g in groups]]  # fmt: skip
        lines.append(','.join(str(v) for v in vals))
    files['trials'].write_text('\n'.join(lines) + '\n')
    files['plot'] = pareto_plot(result, out / 'pareto.png')
    return files


def pareto_plot(result: TuneResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], 'LUT', 'LUTs (estimate)'), (axes[1], 'cycles', 'latency (cycles)')):
        ax.scatter([r[key] for r in result.rows], [r['predicted_loss'] for r in result.rows], s=12, c='0.7',
                   label='feasible trials')  # fmt: skip
        front = pareto(result.rows, key)
        ax.plot([r[key] for r in front], [r['predicted_loss'] for r in front], 'o-', c='tab:blue', label='Pareto front')
        ax.scatter([result.cost.totals['LUT'] if key == 'LUT' else result.cost.cycles], [result.val_loss],
                   marker='*', s=160, c='tab:red', label='chosen (after fine-tuning)', zorder=3)  # fmt: skip
        ax.set_xlabel(label)
        ax.set_ylabel('validation loss (trials: predicted)')
        ax.xaxis.set_major_locator(MaxNLocator(6))  # long cycle counts overlap at the default density
        ax.xaxis.set_major_formatter(StrMethodFormatter('{x:,.0f}'))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f'tuner trials on {result.config["Model"].get("Part", "")}')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
