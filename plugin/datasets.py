"""Time-series windows for forecasting: a CSV of numeric columns -> (window, features) inputs
and the next value of a target column, split in time order into train / validation / test.

Values are scaled to [-1, 1] with the minimum and maximum of the training split only, so that
a quantized model's fixed-point types cover them and no statistic leaks from later data.
The two series shipped in examples/data (see its README for provenance):
    electricity: taylor_electricity.csv, column demand_mw (univariate)
    weather:     seattle_weather.csv, columns precipitation, temp_max, temp_min, wind -> temp_max
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UnsupportedError

DATA_DIR = Path(__file__).resolve().parents[1] / 'examples' / 'data'
# name: (file, input columns, target, season in time steps for the seasonal naive forecast)
SERIES = {
    'electricity': ('taylor_electricity.csv', ('demand_mw',), 'demand_mw', 48),  # half-hourly: one day
    'weather': ('seattle_weather.csv', ('precipitation', 'temp_max', 'temp_min', 'wind'), 'temp_max', 365),
}


@dataclass
class Windows:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    columns: tuple
    target: str
    series: np.ndarray = None  # the scaled target column, whole; y of window k is series[starts[split] + k]
    starts: dict = None
    period: int | None = None  # season of the series in time steps (seasonal naive), if known

    def scaled_rmse(self, y_pred, split='test') -> float:
        """RMSE in the scaled units ([-1, 1] over the training range)."""
        y = getattr(self, f'y_{split}')
        return float(np.sqrt(np.mean((np.asarray(y_pred, np.float64).reshape(-1) - y.reshape(-1)) ** 2)))


# -- baselines: every RMSE this project prints stands next to these ---------------------------------


def persistence(data: Windows, split='test') -> np.ndarray:
    """Next value = the target's last value in the window."""
    return getattr(data, f'x_{split}')[:, -1, data.columns.index(data.target)]


def seasonal_naive(data: Windows, period: int, split='test') -> np.ndarray:
    """Next value = the target one season (period time steps) before it, from the whole series
    (the season may be longer than the window)."""
    period = int(period)
    first = data.starts[split]
    if period < 1 or first - period < 0:
        raise UnsupportedError(f'seasonal naive: period {period} must be at least 1 and at most {first} '
                               f'(the time steps before the {split} split)')  # fmt: skip
    n = len(getattr(data, f'y_{split}'))
    return data.series[first - period : first - period + n]


@dataclass
class LinearAR:
    """Least squares on the flattened window (all input columns) plus a constant, fitted on train."""

    coef: np.ndarray  # (window * features,)
    intercept: float

    @classmethod
    def fit(cls, data: Windows) -> 'LinearAR':
        x = data.x_train.reshape(len(data.x_train), -1)
        a = np.hstack([x, np.ones((len(x), 1))])
        sol, *_ = np.linalg.lstsq(a, data.y_train.reshape(-1), rcond=None)
        return cls(sol[:-1], float(sol[-1]))

    def predict(self, x) -> np.ndarray:
        return np.asarray(x, np.float64).reshape(len(x), -1) @ self.coef + self.intercept


def baselines(data: Windows, split='test', period=None) -> dict:
    """RMSE of persistence, seasonal naive (with the series' period, or the one given; left out
    when the split does not reach back one season) and the linear AR model on a split."""
    period = period or data.period
    out = {'persistence': data.scaled_rmse(persistence(data, split), split)}
    if period and data.starts[split] >= period:
        out['seasonal'] = data.scaled_rmse(seasonal_naive(data, period, split), split)
    out['linear'] = data.scaled_rmse(LinearAR.fit(data).predict(getattr(data, f'x_{split}')), split)
    return out


def against_baselines(rmse: float, base: dict) -> str:
    """'0.1234 (persistence 0.1575: 0.78x; seasonal 0.30: 0.41x; linear AR 0.1500: 0.82x)'."""
    names = {'persistence': 'persistence', 'seasonal': 'seasonal naive', 'linear': 'linear AR'}
    parts = [f'{names[k]} {v:.4f}: {rmse / v:.2f}x' for k, v in base.items()]
    return f'{rmse:.4f} ({"; ".join(parts)})'


def read_columns(path, columns) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise UnsupportedError(f'data file {path} does not exist')
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in columns if not rows or c not in rows[0]]
    if missing:
        raise UnsupportedError(f'data file {path}: no column(s) {missing}; it has {list(rows[0]) if rows else []}')
    try:
        return np.array([[float(r[c]) for c in columns] for r in rows])
    except ValueError as e:
        raise UnsupportedError(f'data file {path}: a value in columns {list(columns)} is not a number ({e})') from None


def windows(series: str = 'electricity', window: int = 12, split=(0.7, 0.15, 0.15), path=None, columns=None,
            target=None, limit=None) -> Windows:  # fmt: skip
    """Windows of a shipped series (by name) or of any CSV (path, columns, target)."""
    if path is None:
        if series not in SERIES:
            raise UnsupportedError(f'series {series!r} is not known; use one of {sorted(SERIES)} or give a path')
        file, default_cols, default_target, period = SERIES[series]
        path, columns, target = DATA_DIR / file, columns or default_cols, target or default_target
    else:
        period = None
    columns = tuple(columns or ())
    if not columns or target not in columns:
        raise UnsupportedError(f'target {target!r} must be one of the input columns {list(columns)}')
    if len(split) != 3 or min(split) < 0 or abs(sum(split) - 1) > 1e-6:
        raise UnsupportedError(f'split {split}: give three fractions (train, validation, test) summing to 1')
    if window < 1:
        raise UnsupportedError(f'window {window}: use a positive number of time steps')
    data = read_columns(path, columns)
    # a split given a share of 0 may stay empty (a test that trains on train + test only); the others may not
    if split[0] <= 0 or min(int((len(data) - window) * f) for f in split if f > 0) < 1:
        raise UnsupportedError(f'data file {path}: {len(data)} rows give too few windows of {window} for the '
                               f'split {tuple(split)}; the training split and every split given a share need '
                               f'at least one')  # fmt: skip
    n_train = int(len(data) * split[0])
    lo, hi = data[:n_train].min(axis=0), data[:n_train].max(axis=0)
    data = 2 * (data - lo) / np.where(hi > lo, hi - lo, 1) - 1
    t = columns.index(target)
    x = np.stack([data[i : i + window] for i in range(len(data) - window)])
    y = data[window:, t][:, None]
    a, b = int(len(x) * split[0]), int(len(x) * (split[0] + split[1]))
    parts = (x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:])
    if limit:
        parts = tuple(p[:limit] for p in parts)
    starts = {'train': window, 'val': window + a, 'test': window + b}
    return Windows(*parts, columns=columns, target=target, series=data[:, t], starts=starts, period=period)
