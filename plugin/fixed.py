"""Fixed-point types and the one definition of requantization.

Every tensor in a design is an integer array ``q`` standing for ``q * 2**-frac``.
`requantize` is the single place where a wider integer is cast to a narrower type
with hls4ml's (ap_fixed's) rounding and saturation modes; the VHDL package
``vs_fixed_pkg.vhd`` implements the same function bit for bit (same mode codes,
same order of operations), and the tests hold the two together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import UnsupportedError

# Mode codes shared with vs_fixed_pkg.vhd (generic integers there).
ROUNDING_MODES = ('TRN', 'TRN_ZERO', 'RND', 'RND_ZERO', 'RND_INF', 'RND_MIN_INF', 'RND_CONV')
SATURATION_MODES = ('WRAP', 'SAT', 'SAT_ZERO', 'SAT_SYM')

# numpy int64 carries the emulation; keep every intermediate well inside it.
MAX_TENSOR_WIDTH = 48  # model inputs and outputs: see design.MAX_IO_WIDTH
MAX_ACCUM_WIDTH = 48  # a DSP48E1 accumulator is 48 bits wide


@dataclass(frozen=True)
class FixedType:
    """A fixed-point type: ``width`` bits, ``frac`` of them after the binary point."""

    width: int
    frac: int
    signed: bool = True
    rounding: str = 'TRN'
    saturation: str = 'WRAP'

    @property
    def integer(self) -> int:
        return self.width - self.frac

    @property
    def min_int(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_int(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def signed_width(self) -> int:
        """Width of a signed vector that holds every value of this type."""
        return self.width if self.signed else self.width + 1

    @property
    def rounding_code(self) -> int:
        return ROUNDING_MODES.index(self.rounding)

    @property
    def saturation_code(self) -> int:
        return SATURATION_MODES.index(self.saturation)

    def __str__(self) -> str:
        kind = 'fixed' if self.signed else 'ufixed'
        return f'{kind}<{self.width},{self.integer},{self.rounding},{self.saturation}>'

    def holds(self, other: FixedType) -> bool:
        """Every value of `other` is a value of this type (same grid, range within), so a cast from
        `other` to this type changes nothing."""
        return other.frac == self.frac and self.min_int <= other.min_int and other.max_int <= self.max_int

    def to_float(self, q):
        return np.asarray(q, dtype=np.float64) * 2.0**-self.frac

    def from_float(self, x):
        """Cast real values to this type (exactly as an ap_fixed assignment from a double)."""
        x = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise UnsupportedError(f'cannot cast non-finite values (NaN or infinity) to {self}')
        scaled = np.ldexp(x, self.frac)  # exact: a power-of-2 scaling
        floor = np.floor(scaled)
        rem = scaled - floor  # in [0, 1), exact
        q = floor.astype(np.int64)
        inc = round_increment(self.rounding, q, np.sign(rem - 0.5).astype(np.int64), rem != 0, x < 0)
        return saturate(q + inc, self)


def fixed_type_from_hls4ml(precision, what: str) -> FixedType:
    """Translate an hls4ml precision object, refusing what the hardware cannot hold."""
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

    if not isinstance(precision, (FixedPrecisionType, IntegerPrecisionType)):
        raise UnsupportedError(
            f'{what}: precision {precision} ({type(precision).__name__}) is not supported; '
            'VHDLSpartan supports fixed<W,I>, ufixed<W,I>, int<W> and uint<W>'
        )
    width = int(precision.width)
    integer = int(precision.integer)
    rounding = getattr(precision, 'rounding_mode', None)
    saturation = getattr(precision, 'saturation_mode', None)
    rounding = 'TRN' if rounding is None else rounding.name
    saturation = 'WRAP' if saturation is None else saturation.name
    if getattr(precision, 'saturation_bits', None) not in (None, 0):
        raise UnsupportedError(f'{what}: saturation bits ({precision.saturation_bits}) are not supported; use 0')
    if not 1 <= width <= MAX_TENSOR_WIDTH:
        raise UnsupportedError(f'{what}: width {width} of {precision} is not supported; widths 1..{MAX_TENSOR_WIDTH}')
    if rounding not in ROUNDING_MODES:
        raise UnsupportedError(f'{what}: rounding mode {rounding} is not supported; supported: {ROUNDING_MODES}')
    if saturation not in SATURATION_MODES:
        raise UnsupportedError(f'{what}: saturation mode {saturation} is not supported; supported: {SATURATION_MODES}')
    return FixedType(width, width - integer, bool(precision.signed), rounding, saturation)


def round_increment(mode: str, q, rem_cmp_half, rem_nonzero, negative):
    """0/1 to add to the floor ``q`` of a value whose dropped part compares to one half as
    ``rem_cmp_half`` (-1, 0, +1), is non-zero as ``rem_nonzero``, and whose sign is ``negative``."""
    above = rem_cmp_half > 0
    tie = rem_cmp_half == 0
    if mode == 'TRN':
        inc = np.zeros_like(above)
    elif mode == 'TRN_ZERO':
        inc = negative & rem_nonzero
    elif mode == 'RND':
        inc = above | tie
    elif mode == 'RND_ZERO':
        inc = above | (tie & negative)
    elif mode == 'RND_INF':
        inc = above | (tie & ~negative)
    elif mode == 'RND_MIN_INF':
        inc = above
    elif mode == 'RND_CONV':
        inc = above | (tie & ((np.asarray(q) & 1) == 1))
    else:  # pragma: no cover - validated in fixed_type_from_hls4ml
        raise UnsupportedError(f'rounding mode {mode}')
    return np.asarray(inc, dtype=np.int64)


def saturate(v, t: FixedType):
    """Bring an integer at ``t``'s scale into ``t``'s range by its saturation mode."""
    v = np.asarray(v, dtype=np.int64)
    lo, hi = t.min_int, t.max_int
    if t.saturation == 'WRAP':
        low_bits = v & ((1 << t.width) - 1)
        if t.signed:
            return np.where(low_bits > hi, low_bits - (1 << t.width), low_bits)
        return low_bits
    if t.saturation == 'SAT':
        return np.clip(v, lo, hi)
    if t.saturation == 'SAT_ZERO':
        return np.where((v < lo) | (v > hi), 0, v)
    # SAT_SYM: the symmetric range, -max..max
    sym_lo = -hi if t.signed else lo
    return np.clip(v, sym_lo, hi)


def requantize(v, frac: int, t: FixedType):
    """Cast integers ``v`` standing for ``v * 2**-frac`` to type ``t``."""
    v = np.asarray(v, dtype=np.int64)
    shift = frac - t.frac
    if shift <= 0:
        return saturate(v << -shift, t)
    q = v >> shift
    rem = v - (q << shift)
    half = 1 << (shift - 1)
    inc = round_increment(t.rounding, q, np.sign(rem - half), rem != 0, v < 0)
    return saturate(q + inc, t)


def divide_requantize(num, den: int, t: FixedType):
    """Cast the exact quotient ``num / den`` (``num`` at ``t``'s scale, ``den`` > 0) to ``t``."""
    num = np.asarray(num, dtype=np.int64)
    q = num // den  # floor division, as the VHDL divider computes it
    rem = num - q * den
    inc = round_increment(t.rounding, q, np.sign(2 * rem - den), rem != 0, num < 0)
    return saturate(q + inc, t)


def bits_for_range(lo: int, hi: int) -> int:
    """Smallest signed width holding every integer in [lo, hi]."""
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi <= (1 << (width - 1)) - 1):
        width += 1
    return width


def to_twos(v, width: int):
    """Raw ``width``-bit two's complement patterns (as non-negative ints) of ``v``."""
    return np.asarray(v, dtype=np.int64) & ((1 << width) - 1)
