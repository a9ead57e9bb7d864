"""Integer arithmetic of the quantized Transformer layers, without TensorFlow.

The Keras layers (`vhdlspartan.layers`) compute exactly these functions in their forward
pass, and the hardware units (`vhdl_backend/units`) emulate and implement them; keeping them
here lets the backend use them without importing Keras.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import UnsupportedError
from .fixed import FixedType, divide_requantize, requantize

MAX_TABLE_SIZE = 4096  # entries of an exp table kept in one ROM


def signed_type(bits: int, integer: int) -> FixedType:
    """QKeras quantized_bits(bits, integer) as a fixed-point type."""
    if bits < 2 or integer < 0 or integer >= bits:
        raise UnsupportedError(f'quantizer ({bits}, {integer}) is not valid; use bits >= 2 and 0 <= integer < bits')
    return FixedType(bits, bits - integer - 1, True, 'RND_CONV', 'SAT')


def unsigned_unit_type(bits: int) -> FixedType:
    """Values in [0, 1]: one integer bit, so that 1.0 itself is representable."""
    return FixedType(bits, bits - 1, False, 'RND_CONV', 'SAT')


def exp_table(input_type: FixedType, exp_type: FixedType, table_size: int) -> np.ndarray:
    """exp(-k * LSB) for k = 0..table_size-1, as exp_type codes."""
    k = np.arange(table_size, dtype=np.float64)
    return exp_type.from_float(np.exp(-k * 2.0**-input_type.frac))


def exp_zero_index(input_type: FixedType, exp_type: FixedType) -> int:
    """The first distance whose exp entry rounds to 0 (every larger distance is 0 too)."""
    k = math.ceil((exp_type.frac + 1) * math.log(2) * 2.0**input_type.frac)  # exp(-k LSB) <= 1/2 LSB
    while k > 0 and exp_table(input_type, exp_type, k)[-1] == 0:  # float rounding at the edge
        k -= 1
    while exp_table(input_type, exp_type, k + 1)[-1] != 0:
        k += 1
    return k


def check_exp_table(input_type: FixedType, exp_type: FixedType, table_size: int, what: str) -> None:
    """The table must reach the index where exp rounds to 0, or clamping changes results."""
    if not 2 <= table_size <= MAX_TABLE_SIZE:
        raise UnsupportedError(f'{what}: table_size {table_size} is not valid; use 2..{MAX_TABLE_SIZE}')
    needed = exp_zero_index(input_type, exp_type) + 1
    if table_size < needed:
        raise UnsupportedError(
            f'{what}: table_size {table_size} is too small for input {input_type} and exp {exp_type}: '
            f'exp is non-zero up to distance {needed - 2}; use table_size >= {needed} (or fewer exp bits, '
            'or fewer input fraction bits)'
        )


def reference_softmax(q_in: np.ndarray, input_type: FixedType, exp_type: FixedType, out_type: FixedType,
                      table_size: int) -> np.ndarray:  # fmt: skip
    """Integer softmax over the last axis: distance to the row maximum, exp by table (index
    clamped to the last entry), exact sum, each entry's exact quotient cast once to out_type."""
    table = exp_table(input_type, exp_type, table_size)
    q = np.asarray(q_in, dtype=np.int64)
    dist = np.minimum(q.max(axis=-1, keepdims=True) - q, table_size - 1)
    e = table[dist]
    total = e.sum(axis=-1, keepdims=True)
    num, den = e << out_type.frac, total  # e / total is a ratio: its code at out_type's scale
    out = np.empty_like(e)
    flat_num, flat_den, flat_out = num.reshape(-1, num.shape[-1]), den.reshape(-1, 1), out.reshape(-1, out.shape[-1])
    for r in range(flat_num.shape[0]):  # divide_requantize takes one divisor
        flat_out[r] = divide_requantize(flat_num[r], int(flat_den[r, 0]), out_type)
    return out


def sinusoid_table(window: int, d_model: int) -> np.ndarray:
    """The fixed sin/cos encoding (Vaswani et al.): even features sin, odd features cos."""
    pos = np.arange(window, dtype=np.float64)[:, None]
    i = np.arange(d_model, dtype=np.float64)[None, :]
    angle = pos / np.power(10000.0, (2 * (i // 2)) / d_model)
    return np.where(i % 2 == 0, np.sin(angle), np.cos(angle))


def reference_add_encoding(q_in, table_codes, input_type, pe_type, out_type):
    """(x + pe): the exact sum on the finer scale, cast once to out_type."""
    frac = max(input_type.frac, pe_type.frac)
    total = (np.asarray(q_in, np.int64) << (frac - input_type.frac)) + (table_codes << (frac - pe_type.frac))
    return requantize(total, frac, out_type)
