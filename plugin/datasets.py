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
SERIES = {
    'electricity': ('taylor_electricity.csv', ('demand_mw',), 'demand_mw'),
    'weather': ('seattle_weather.csv', ('precipitation', 'temp_max', 'temp_min', 'wind'), 'temp_max'),
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

    def scaled_rmse(self, y_pred, split='test') -> float:
        """RMSE in the scaled units ([-1, 1] over the training range)."""
        y = getattr(self, f'y_{split}')
        return float(np.sqrt(np.mean((np.asarray(y_pred, np.float64).reshape(-1) - y.reshape(-1)) ** 2)))


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
        file, default_cols, default_target = SERIES[series]
        path, columns, target = DATA_DIR / file, columns or default_cols, target or default_target
    columns = tuple(columns or ())
    if not columns or target not in columns:
        raise UnsupportedError(f'target {target!r} must be one of the input columns {list(columns)}')
    if len(split) != 3 or min(split) < 0 or abs(sum(split) - 1) > 1e-6:
        raise UnsupportedError(f'split {split}: give three fractions (train, validation, test) summing to 1')
    if window < 1:
        raise UnsupportedError(f'window {window}: use a positive number of time steps')
    data = read_columns(path, columns)
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
    return Windows(*parts, columns=columns, target=target)
