"""Requantization against an independent reference: exact rational arithmetic."""

from fractions import Fraction
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vhdlspartan.fixed import ROUNDING_MODES, SATURATION_MODES, FixedType, divide_requantize, requantize


def reference_cast(value: Fraction, t: FixedType) -> int:
    """ap_fixed's cast of an exact value, written from the mode definitions."""
    scaled = value * (1 << t.frac) if t.frac >= 0 else value / (1 << -t.frac)
    lo = math.floor(scaled)
    rem = scaled - lo
    half = Fraction(1, 2)
    mode = t.rounding
    if mode == 'TRN':
        q = lo
    elif mode == 'TRN_ZERO':
        q = math.trunc(scaled)
    elif mode == 'RND':
        q = lo + (rem >= half)
    elif mode == 'RND_ZERO':
        q = lo + (rem > half or (rem == half and scaled < 0))
    elif mode == 'RND_INF':
        q = lo + (rem > half or (rem == half and scaled > 0))
    elif mode == 'RND_MIN_INF':
        q = lo + (rem > half)
    else:  # RND_CONV
        q = lo + (rem > half or (rem == half and lo % 2 == 1))
    if t.saturation == 'WRAP':
        q &= (1 << t.width) - 1
        if t.signed and q >= 1 << (t.width - 1):
            q -= 1 << t.width
        return q
    lo_b, hi_b = t.min_int, t.max_int
    if t.saturation == 'SAT_SYM' and t.signed:
        lo_b = -hi_b
    if q > hi_b or q < lo_b:
        if t.saturation == 'SAT_ZERO':
            return 0
        return hi_b if q > hi_b else lo_b
    return q


types = st.builds(
    FixedType,
    width=st.integers(1, 20),
    frac=st.integers(-4, 20),
    signed=st.booleans(),
    rounding=st.sampled_from(ROUNDING_MODES),
    saturation=st.sampled_from(SATURATION_MODES),
).filter(lambda t: t.width > 1 or not t.signed)


@settings(max_examples=400, deadline=None)
@given(t=types, values=st.lists(st.integers(-(2**30), 2**30), min_size=1, max_size=20), frac=st.integers(0, 24))
def test_requantize_matches_exact_reference(t, values, frac):
    got = requantize(np.array(values), frac, t)
    want = [reference_cast(Fraction(v, 1 << frac), t) for v in values]
    assert got.tolist() == want


@settings(max_examples=300, deadline=None)
@given(t=types, values=st.lists(st.integers(-(2**24), 2**24), min_size=1, max_size=20), den=st.integers(1, 97))
def test_divide_requantize_matches_exact_reference(t, values, den):
    got = divide_requantize(np.array(values), den, t)
    want = [reference_cast(Fraction(v, den) / (1 << t.frac) if t.frac >= 0 else Fraction(v, den) * (1 << -t.frac), t)
            for v in values]  # fmt: skip
    assert got.tolist() == want


@settings(max_examples=200, deadline=None)
@given(t=types, values=st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=20))
def test_from_float_matches_exact_reference(t, values):
    got = t.from_float(np.array(values))
    assert got.tolist() == [reference_cast(Fraction(v), t) for v in values]


def test_ties_round_as_the_mode_says():
    t = FixedType(8, 0, True, 'RND_CONV', 'SAT')
    assert requantize(np.array([1, 3, -1, -3]), 1, t).tolist() == [0, 2, 0, -2]  # 0.5, 1.5, -0.5, -1.5
    t = FixedType(8, 0, True, 'RND_INF', 'SAT')
    assert requantize(np.array([1, -1]), 1, t).tolist() == [1, -1]
    t = FixedType(4, 0, True, 'TRN', 'SAT')
    assert requantize(np.array([100, -100]), 0, t).tolist() == [7, -8]
