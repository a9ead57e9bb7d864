"""Piecewise-linear activations without tables (``vs_pwl.vhd``):
y = clamp(cast(x * (x < 0 ? A : P) + B), LO, HI), x * slope + B exact.

- LeakyReLU(alpha) (hls4ml ParametrizedActivation): P = 1, A = alpha as hls4ml's ``param_t``
  (``Precision: param``; hls4ml derives it from alpha when 'auto').
- PReLU: A = the learned alpha of each element (hls4ml's ``param`` weights, as ``Precision: param``)
  in a ROM read beside the input, one word per element of the smallest period of the alphas
  (one per channel when every time step has the same alphas).
- HardActivation (hls4ml): hard_sigmoid = clip(slope * x + shift, 0, 1), hard_tanh =
  2 * hard_sigmoid - 1 clipped to [-1, 1], slope and shift as hls4ml's slope_t and shift_t. That
  is Keras' Activation('hard_sigmoid') (slope 0.2, shift 0.5) and QKeras' quantized_sigmoid /
  quantized_tanh without use_real_* (slope 0.5, shift 0.5: QKeras' default hard sigmoid), whose
  result is then clipped as QKeras clips it (symmetric included) - bit-exact with QKeras.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ...errors import UnsupportedError
from ...fixed import FixedType, bits_for_range, fixed_type_from_hls4ml, requantize
from .base import Emitted, Rom, WalkTiming, addr_width, configured_type, pack_words, unit_instance
from .table_activation import lut_rom_meets_budget, qkeras_quantizer

MAX_GENERIC = (1 << 31) - 1  # VHDL integer generics
MAX_PRODUCT_FRAC = 28  # x frac + slope frac of a float hard sigmoid: its shift 0.5 then fits MAX_GENERIC
HARD_INPUT = FixedType(16, 12, True, 'RND', 'SAT')  # [-8, 8) in steps of 2^-12: a float hard sigmoid's wide input
HARD_QUANTIZERS = ('quantized_sigmoid', 'quantized_tanh')


def _what(layer) -> str:
    return f'layer {layer.name!r} ({layer.class_name})'


def _param_type(layer, attr: str, default: FixedType) -> FixedType:
    t = layer.get_attr(attr)
    prec = getattr(t, 'precision', None)
    if prec is None:
        return default
    return fixed_type_from_hls4ml(prec, f'{_what(layer)} {attr}')


def _codes_at(codes, t: FixedType, frac: int) -> np.ndarray:
    """Codes on t's grid moved to `frac` fraction bits (frac >= t.frac: exact)."""
    return np.asarray(codes, dtype=np.int64) << (frac - t.frac)


@dataclass
class PwlActivationUnit(WalkTiming):
    entity = 'vs_pwl'  # vhdl/vs_pwl.vhd
    label = 'pwl'  # instance label suffix in the top level
    WALK_LAT = 7  # vs_pwl: x_data, x, products, sum, floor/rounding, saturation, clamp
    name: str
    layer_name: str
    x: object
    y: object
    kind: str  # 'leaky_relu', 'prelu', 'hard_sigmoid', 'hard_tanh', 'relu' (Keras ReLU with options)
    s_frac: int  # slope fraction bits: products are at x.frac + s_frac
    p_code: int  # slope for x >= 0
    a_codes: np.ndarray  # slope for x < 0: one code, or one per element of a period K (PReLU)
    b_code: int  # added at the products' scale
    clamp: tuple | None  # (LO, HI) output codes
    table_storage: str | None = None  # the slope ROM (PReLU)

    @classmethod
    def from_layer(cls, layer, design):
        what = _what(layer)
        x, y = design.input_buffer(layer), design.output_buffer(layer)
        name, cls_name = design.unit_name(layer), layer.class_name
        act = str(layer.get_attr('activation', '')).lower()
        xt, yt = x.type, y.type
        if cls_name == 'PReLU':
            pt = _param_type(layer, 'param_t', FixedType(16, 10, True))
            alpha = np.asarray(layer.weights['param'].data, dtype=np.float64).reshape(-1)
            if alpha.size != x.depth:
                raise UnsupportedError(f'{what}: {alpha.size} alphas for {x.depth} elements; use shared_axes=None')
            f = max(pt.frac, 0)
            codes = _codes_at(pt.from_float(alpha), pt, f)
            period = element_period(codes, int(layer.get_input_variable().shape[-1]))
            storage = design.storage(layer, 'weight', 0) if period > 1 else None
            if period > 1 and not lut_rom_meets_budget(addr_width(period)):  # as for tables (table_activation)
                if storage == 'lutram':
                    raise UnsupportedError(f'{what}: a slope ROM of {period} words in LUTs misses the timing budget; '
                                           'use Storage bram for its weight')  # fmt: skip
                storage = 'bram'
            unit = cls(name, layer.name, x, y, 'prelu', f, 1 << f, codes[:period], 0, None, storage)
        elif cls_name == 'ParametrizedActivation' and act == 'leakyrelu':
            pt = _param_type(layer, 'param_t', FixedType(16, 10, True))
            f = max(pt.frac, 0)
            a = int(_codes_at(pt.from_float(float(layer.get_attr('activ_param'))), pt, f))
            unit = cls(name, layer.name, x, y, 'leaky_relu', f, 1 << f, np.array([a]), 0, None)
        elif cls_name == 'HardActivation' and act in ('hard_sigmoid', 'hard_tanh'):
            if not isinstance(layer.get_attr('activation_quantizer'), dict) and (
                    xt.frac + _param_type(layer, 'slope_t', FixedType(16, 16, False)).frac > MAX_PRODUCT_FRAC
                    or xt.width > 24):  # fmt: skip
                # float Keras on a wide input (a float Dense's sum): cast it first to HARD_INPUT (vs_map),
                # which holds the range where the function moves, so that the shift 0.5 at the products'
                # scale fits a VHDL integer and the product stays narrow
                from .activation import cast_input

                pre, x = cast_input(design, layer, HARD_INPUT, 'in')
                unit = cls._hard(layer, name, x, y, act)
                unit.check(what)
                return [*pre, unit]
            unit = cls._hard(layer, name, x, y, act)
        else:
            raise UnsupportedError(f'{what}: activation {act!r} is not supported; '
                                   'supported: LeakyReLU, PReLU, hard_sigmoid, hard_tanh')  # fmt: skip
        return unit.narrowed(layer, design)

    def narrowed(self, layer, design):
        """The unit (checked), after a cast of its input to fewer fraction bits when x * slope would
        be wider than 48 bits (a float Dense's sum; x keeps its integer bits and two fraction bits
        beyond the result's, rounded): [cast, unit], or the unit alone."""
        xt, yt = self.x.type, self.y.type
        if self.m_width <= 48 or isinstance(layer.get_attr('activation_quantizer'), dict):
            self.check(_what(layer))
            return self
        from .activation import cast_input

        frac = max(min(xt.frac, yt.frac + 2), 0)
        pre, x = cast_input(design, layer, FixedType(xt.integer + frac, frac, xt.signed, 'RND', 'SAT'), 'in')
        unit = replace(self, x=x)
        unit.check(_what(layer))
        return [*pre, unit]

    @classmethod
    def relu(cls, layer, design):
        """Keras ReLU(max_value, negative_slope) (threshold 0): x >= 0 ? x : x * negative_slope,
        clipped to max_value; the slope as `Precision: param` (default fixed<18,2>: 16 fraction bits)."""
        x, y = design.input_buffer(layer), design.output_buffer(layer)
        pt = configured_type(layer, 'param', 'fixed<18,2>')
        f = max(pt.frac, 0)
        a = int(_codes_at(pt.from_float(layer.get_attr('relu_negative_slope') or 0.0), pt, f))
        top = layer.get_attr('relu_max_value')
        yt = y.type
        clamp = None if top is None else (yt.min_int, int(np.clip(yt.from_float(top), yt.min_int, yt.max_int)))
        unit = cls(design.unit_name(layer), layer.name, x, y, 'relu', f, 1 << f, np.array([a]), 0, clamp)
        return unit.narrowed(layer, design)

    @classmethod
    def _hard(cls, layer, name, x, y, act):
        what = _what(layer)
        xt, yt = x.type, y.type
        st = _param_type(layer, 'slope_t', FixedType(16, 16, False))
        ht = _param_type(layer, 'shift_t', FixedType(2, 2, False))
        aq = layer.get_attr('activation_quantizer')
        slope, shift = int(st.from_float(layer.get_attr('slope'))), int(ht.from_float(layer.get_attr('shift')))
        f = max(st.frac, ht.frac - xt.frac, 0)  # slope frac bits, so that the shift is on the products' grid
        s_code = slope << (f - st.frac)
        b_code = shift << (xt.frac + f - ht.frac)
        one = 1 << (xt.frac + f)  # 1.0 at the products' scale
        lo_v, hi_v = (0.0, 1.0) if act == 'hard_sigmoid' else (-1.0, 1.0)
        if act == 'hard_tanh':  # 2 * (slope * x + shift) - 1
            s_code, b_code = 2 * s_code, 2 * b_code - one
        if isinstance(aq, dict):
            if aq.get('class_name') not in HARD_QUANTIZERS:
                raise UnsupportedError(f'{what}: activation quantizer {aq.get("class_name")} is not supported here; '
                                       f'supported: {HARD_QUANTIZERS}')  # fmt: skip
            q = qkeras_quantizer(layer, aq)
            from qkeras import quantizers

            if quantizers._sigmoid is not quantizers.hard_sigmoid:
                raise UnsupportedError(f'{what}: {aq["class_name"]} follows QKeras\' internal sigmoid, which is not '
                                       'hard_sigmoid (set_internal_sigmoid was called); supported: "hard"')  # fmt: skip
            lo_v, hi_v = float(q.min()), float(q.max())  # QKeras' clip after the rounding
        lo = int(np.clip(yt.from_float(lo_v), yt.min_int, yt.max_int))
        hi = int(np.clip(yt.from_float(hi_v), yt.min_int, yt.max_int))
        return cls(name, layer.name, x, y, act, f, s_code, np.array([s_code]), b_code, (lo, hi))

    def check(self, what):
        for v in (self.p_code, self.b_code, *self.a_codes.tolist()):
            if abs(int(v)) > MAX_GENERIC:
                raise UnsupportedError(f'{what}: a slope or offset code ({v}) does not fit 32 bits; narrow the '
                                       'param/slope/shift precision')  # fmt: skip
        if self.m_width > 48:
            raise UnsupportedError(f'{what}: x * slope + offset needs {self.m_width} bits, more than 48; '
                                   'narrow the input or the param/slope precision')  # fmt: skip

    # -- widths --------------------------------------------------------------------------
    @property
    def per_element(self) -> bool:
        return self.a_codes.size > 1

    @property
    def s_width(self) -> int:
        return bits_for_range(min(0, self.p_code, *self.a_codes.tolist()), max(0, self.p_code, *self.a_codes.tolist()))

    @property
    def m_width(self) -> int:
        xt, ends = self.x.type, []
        for s in (self.p_code, *self.a_codes.tolist()):
            ends += [xt.min_int * s, xt.max_int * s]
        return bits_for_range(min(ends) + min(self.b_code, 0), max(ends) + max(self.b_code, 0))

    # -- emulation ---------------------------------------------------------------------
    def emulate(self, env):
        x = env[self.x.name]
        a = np.resize(self.a_codes, x.shape[-1]) if self.per_element else self.a_codes[0]
        s = x * np.where(x < 0, a, self.p_code) + self.b_code
        y = requantize(s, self.x.type.frac + self.s_frac, self.y.type)
        return y if self.clamp is None else np.clip(y, *self.clamp)

    # -- VHDL --------------------------------------------------------------------------
    def roms(self) -> list:
        return [self.rom()] if self.per_element else []

    def rom(self) -> Rom:
        return Rom(f'{self.name}_alpha', self._rom_words, self.s_width, self.table_storage)

    @cached_property
    def _rom_words(self):  # padded to a power of 2 (never read there): no address compare in a LUT ROM
        padded = np.zeros(1 << addr_width(self.a_codes.size), dtype=np.int64)
        padded[:self.a_codes.size] = self.a_codes
        return pack_words(padded.reshape(-1, 1), self.s_width)

    def generics(self, engine) -> dict:
        xt, yt = self.x.type, self.y.type
        lo, hi = self.clamp if self.clamp is not None else (yt.min_int, yt.max_int)
        k = self.a_codes.size
        return dict(
            N=self.x.depth, AW=self.x.aw, X_W=xt.width, X_SIGNED=xt.signed, S_W=self.s_width,
            P_CODE=self.p_code, A_CODE=int(self.a_codes[0]), PER_ELEM=self.per_element, K=k, KA_W=addr_width(k),
            B_CODE=self.b_code, M_W=self.m_width, SHIFT=xt.frac + self.s_frac - yt.frac,
            Y_W=yt.width, Y_SIGNED=yt.signed, RND=yt.rounding_code, SAT=yt.saturation_code,
            CLAMP=self.clamp is not None, LO=lo, HI=hi,
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        if self.per_element:
            return unit_instance(self, engine, {'x': self.x}, {'t': self.rom()})
        return unit_instance(self, engine, {'x': self.x}, tied="t_addr => open, t_data => (others => '0')")


def element_period(codes: np.ndarray, channels: int) -> int:
    """The smallest period (1, the channel count, or every element) with which the codes repeat."""
    n = codes.size
    for k in sorted({1, channels, n}):
        if n % k == 0 and np.array_equal(codes, np.resize(codes[:k], n)):
            return k
    return n
