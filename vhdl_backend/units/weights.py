"""A layer's weights as integer codes on a fixed-point type, from hls4ml's weight variables.

hls4ml stores a QKeras-quantized weight in one of three forms:
- fixed / integer precision (quantized_bits, ternary): the quantized floats, read on the type's grid;
- ExponentPrecisionType (quantized_po2): the quantized floats, each 0 or +-2^e; here they become codes
  of the narrowest fixed type that holds every exponent the layer uses, so the product stays exact;
- XnorPrecisionType (binary kernels): 0/1 meaning -1/+1.
"""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedError
from ...fixed import FixedType, fixed_type_from_hls4ml


def weight_codes(var, what: str) -> tuple:
    """(FixedType, int64 codes) of an hls4ml weight variable, exactly its values."""
    from hls4ml.model.types import ExponentPrecisionType, XnorPrecisionType

    precision = var.type.precision
    data = np.asarray(var.data, dtype=np.float64)
    if isinstance(precision, XnorPrecisionType):
        if not np.isin(data, (0, 1)).all():
            raise UnsupportedError(f'{what}: binary weights must be stored as 0/1 (meaning -1/+1)')
        return FixedType(2, 0, True, 'TRN', 'SAT'), (2 * data - 1).astype(np.int64)
    if isinstance(precision, ExponentPrecisionType):
        w_type = po2_type(data, what)
        return w_type, w_type.from_float(data)
    w_type = fixed_type_from_hls4ml(precision, what)
    return w_type, w_type.from_float(data)


def po2_type(data: np.ndarray, what: str) -> FixedType:
    """The narrowest signed fixed type holding every value of ``data`` (each 0 or +-2^e) exactly."""
    nonzero = np.abs(data[data != 0])
    if nonzero.size == 0:
        return FixedType(2, 0, True, 'TRN', 'SAT')
    exps = np.log2(nonzero)
    if not np.array_equal(exps, np.round(exps)):
        raise UnsupportedError(f'{what}: power-of-2 weights that are not powers of 2 ({nonzero[exps != np.round(exps)][:3]})')
    e_min, e_max = int(exps.min()), int(exps.max())
    frac = max(0, -e_min)
    # codes reach 2^(e_max + frac); that and its negative fit in e_max + frac + 2 signed bits
    return FixedType(frac + e_max + 2, frac, True, 'TRN', 'SAT')
