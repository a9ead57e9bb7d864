"""Integer arithmetic of the quantized Transformer layers, without TensorFlow.

The Keras layers (`vhdlspartan.layers`) compute exactly these functions in their forward
pass, and the hardware units (`vhdl_backend/units`) emulate and implement them; keeping them
here lets the backend use them without importing Keras.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import UnsupportedError
from .fixed import FixedType, bits_for_range, divide_requantize, requantize

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


def min_exp_table_size(input_type: FixedType, exp_type: FixedType) -> int:
    """The smallest exp table that reaches the first entry rounding to 0 (clamping to it is exact)."""
    return exp_zero_index(input_type, exp_type) + 1


def check_exp_table(input_type: FixedType, exp_type: FixedType, table_size: int, what: str) -> None:
    """The table must reach the index where exp rounds to 0, or clamping changes results."""
    if not 2 <= table_size <= MAX_TABLE_SIZE:
        raise UnsupportedError(f'{what}: table_size {table_size} is not valid; use 2..{MAX_TABLE_SIZE}')
    needed = min_exp_table_size(input_type, exp_type)
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


# -- layer normalization -----------------------------------------------------------------------
# Over rows of n elements x (codes): S = sum(x), D = n*x - S (= n*(x - mean), exact),
# V = sum(D^2) (= n^3 * variance, exact). The normalized value (x - mean)/std is
# D * sqrt(n) / sqrt(V). V is brought to a table index idx in [2^(TB-2), 2^TB) by an even
# shift sh (V ~ idx * 2^sh, sh may be negative), the table holds sqrt(n / idx) with
# inv_frac fraction bits, so z = D * table[idx] * 2^-(inv_frac + sh/2), cast once to z_type
# (computed as a left shift by EMAX - sh/2 and a constant cast, EMAX the largest sh/2).
# V = 0 means every D is 0, and then z is 0 whatever the table says.


def bit_length(v) -> np.ndarray:
    """Bit length of non-negative int64 values (0 for 0)."""
    v = np.asarray(v, dtype=np.int64)
    out = np.zeros(v.shape, dtype=np.int64)
    for k in range(63):
        out += (v >> k) > 0
    return out


@dataclass(frozen=True)
class LayerNormSpec:
    """Everything the integer layer normalization of rows of n inputs of in_type needs."""

    n: int
    in_type: FixedType
    table_bits: int
    inv_bits: int
    z_type: FixedType
    # V + eps_m * 2^eps_shift stands for Keras' variance + epsilon (post-training quantized
    # LayerNormalization; `epsilon_terms`); QLayerNormalization's integer forward pass uses 0.
    eps_m: int = 0
    eps_shift: int = 0

    def __post_init__(self):
        if not 2 <= self.n:
            raise UnsupportedError(f'layer normalization over {self.n} features; use at least 2')
        if not 4 <= self.table_bits <= 12:
            raise UnsupportedError(f'table_bits {self.table_bits} is not valid; use 4..12 (2^table_bits entries)')
        if not 4 <= self.inv_bits <= 24:
            raise UnsupportedError(f'inv_bits {self.inv_bits} is not valid; use 4..24')
        if self.product_width > 62:
            raise UnsupportedError(
                f'layer normalization over {self.n} inputs of {self.in_type} needs a {self.product_width}-bit '
                'product; narrow the input type or inv_bits'
            )

    @property
    def d_width(self) -> int:
        """Signed width of D = n*x - S."""
        span = self.n * (self.in_type.max_int - self.in_type.min_int)
        return bits_for_range(-span, span)

    @property
    def v_add(self) -> int:
        return self.eps_m << self.eps_shift

    @property
    def v_width(self) -> int:
        """Unsigned width of V = sum(D^2) + v_add."""
        d_max = 1 << (self.d_width - 1)
        return (self.n * d_max * d_max + self.v_add).bit_length()

    @property
    def e_min(self) -> int:
        return -((self.table_bits - 1) // 2)  # sh/2 for V = 1: ceil((1 - TB) / 2)

    @property
    def e_max(self) -> int:
        return max(0, -((self.table_bits - self.v_width) // 2))  # ceil((v_width - TB) / 2)

    @property
    def inv_frac(self) -> int:
        """Fraction bits of the table: the largest entry sqrt(n / 2^(TB-2)) fits in inv_bits."""
        top = math.sqrt(self.n / 2 ** (self.table_bits - 2))
        frac = self.inv_bits + 8
        while round(top * 2.0**frac) > (1 << self.inv_bits) - 1:
            frac -= 1
        return frac

    @property
    def product_width(self) -> int:
        """Signed width of D * table[idx] * 2^(EMAX - e)."""
        return self.d_width + self.inv_bits + self.e_max - self.e_min

    def table(self) -> np.ndarray:
        """sqrt(n / idx) for idx = 0..2^TB-1 as unsigned codes (entries below 2^(TB-2) are never read
        except idx 0, which is 0)."""
        idx = np.arange(1 << self.table_bits, dtype=np.float64)
        lo = 1 << (self.table_bits - 2)
        vals = np.where(idx >= lo, np.sqrt(self.n / np.maximum(idx, 1.0)), 0.0)
        return FixedType(self.inv_bits, self.inv_frac, False, 'RND_CONV', 'SAT').from_float(vals)


EPS_MANTISSA_BITS = 16  # epsilon's term in V to 16 significant bits (relative error <= 2^-16)


def epsilon_terms(n: int, in_type: FixedType, epsilon: float) -> tuple:
    """(eps_m, eps_shift) with eps_m * 2^eps_shift ~ n^3 * epsilon * 2^(2 * frac): epsilon on the
    scale of V = n^3 * variance of the codes."""
    value = n**3 * float(epsilon) * 4.0**in_type.frac
    if value <= 0:
        return 0, 0
    shift = max(0, math.floor(math.log2(value)) - (EPS_MANTISSA_BITS - 1))
    m = round(value / 2.0**shift)
    if m >> EPS_MANTISSA_BITS:
        m, shift = m >> 1, shift + 1
    return int(m), int(shift)


def reference_layernorm(q_in, spec: LayerNormSpec) -> np.ndarray:
    """Normalized codes (z_type) of rows (last axis, spec.n long) of in_type codes."""
    q = np.asarray(q_in, dtype=np.int64)
    s = q.sum(axis=-1, keepdims=True)
    d = spec.n * q - s
    v = (d * d).sum(axis=-1, keepdims=True) + spec.v_add
    length = bit_length(v)
    tb = spec.table_bits
    sh = (length - tb) + ((length - tb) & 1)  # rounded up to even
    idx = np.where(sh >= 0, v >> np.maximum(sh, 0), v << np.maximum(-sh, 0))
    inv = spec.table()[idx]
    p = (d * inv) << (spec.e_max - sh // 2)
    return requantize(p, spec.inv_frac + spec.e_max, spec.z_type)


def cast_sum(acc, acc_frac: int, bias, b_frac: int, out_type: FixedType, extra_shift: int = 0):
    """cast((acc + bias) * 2^-extra_shift): acc and bias (int codes at their fracs) added exactly on
    the finer scale, one cast. Dense layers, matrix products and affine maps all end this way."""
    frac = max(acc_frac, b_frac)
    total = (np.asarray(acc, np.int64) << (frac - acc_frac)) + (np.asarray(bias, np.int64) << (frac - b_frac))
    return requantize(total, frac + extra_shift, out_type)


def reference_affine(z, z_frac: int, gamma, g_frac: int, beta, b_frac: int, out_type: FixedType):
    """cast(z * gamma + beta) per feature (last axis): the exact sum on a common scale, one cast."""
    return cast_sum(np.asarray(z, np.int64) * gamma, z_frac + g_frac, beta, b_frac, out_type)
