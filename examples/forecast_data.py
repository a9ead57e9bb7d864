"""Windows of the half-hourly electricity demand series (examples/data/taylor_electricity.csv).

One input feature, a window of past values, predict the next value; values are scaled to
unit range so that the quantized model's fixed-point types cover them.
"""

from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / 'data' / 'taylor_electricity.csv'


def load_series() -> np.ndarray:
    rows = DATA.read_text().strip().splitlines()[1:]
    return np.array([float(r.split(',')[-1]) for r in rows])


def windows(window: int = 12, split: float = 0.8):
    """(x_train, y_train), (x_test, y_test) with x of shape (n, window, 1), scaled to about [-1, 1]."""
    s = load_series()
    lo, hi = s[: int(len(s) * split)].min(), s[: int(len(s) * split)].max()
    s = 2 * (s - lo) / (hi - lo) - 1
    x = np.stack([s[i : i + window] for i in range(len(s) - window)])[..., None]
    y = s[window:][:, None]
    n = int(len(x) * split)
    return (x[:n], y[:n]), (x[n:], y[n:])
