"""BatchNormalization folded to a per-channel scale and shift: y = cast(x * s[c] + b[c]).

hls4ml folds (Q)BatchNormalization (and QKeras power-of-2 alpha) into ``scale`` and
``bias`` weights of its own precisions; the product and the sum are exact, the cast is the
only rounding. VHDL: ``vs_affine.vhd``, with scale and bias packed in one ROM word.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ...fixed import FixedType
from ...integer_ops import reference_affine, signed_type
from .activation import cast_input
from .base import Emitted, Rom, WalkTiming, addr_width, pack_words, unit_instance
from .weights import weight_codes


@dataclass
class BatchNormUnit(WalkTiming):
    entity = 'vs_affine'  # vhdl/vs_affine.vhd
    label = 'affine'  # instance label suffix in the top level
    name: str
    layer_name: str
    x: object
    y: object
    channels: int
    s_type: FixedType
    b_type: FixedType
    scale: np.ndarray
    bias: np.ndarray
    storage: str

    @classmethod
    def from_layer(cls, layer, design):
        what = f'layer {layer.name!r} ({layer.class_name})'
        x = design.input_buffer(layer)
        s_type, scale = weight_codes(layer.weights['scale'], f'{what} scale')  # a po2 alpha: ExponentPrecisionType
        b_type, bias = weight_codes(layer.weights['bias'], f'{what} bias')
        scale, bias = scale.reshape(-1), bias.reshape(-1)
        channels = scale.size
        if x.depth % channels:
            raise ValueError(f'{what}: {x.depth} elements do not split into {channels} channels')
        storage = design.storage(layer, 'weight', channels * (s_type.width + b_type.width))
        return cls(design.unit_name(layer), layer.name, x, design.output_buffer(layer), channels,
                   s_type, b_type, scale, bias, storage)  # fmt: skip

    @classmethod
    def from_folded(cls, layer, design):
        """vhdlspartan.layers.QFoldedBatchNorm: the input cast to the layer's input type, then the
        folded scale and shift quantized to the layer's types."""
        units, x = cast_input(design, layer, signed_type(layer.get_attr('input_bits'), layer.get_attr('input_integer')))
        s_type = signed_type(layer.get_attr('scale_bits'), layer.get_attr('scale_integer'))
        b_type = signed_type(layer.get_attr('shift_bits'), layer.get_attr('shift_integer'))
        scale = s_type.from_float(np.asarray(layer.get_attr('scale_data'), dtype=np.float64).reshape(-1))
        shift = b_type.from_float(np.asarray(layer.get_attr('shift_data'), dtype=np.float64).reshape(-1))
        storage = design.storage(layer, 'weight', scale.size * (s_type.width + b_type.width))
        return units + [cls(design.unit_name(layer), layer.name, x, design.output_buffer(layer), scale.size,
                            s_type, b_type, scale, shift, storage)]  # fmt: skip

    @property
    def prod_frac(self) -> int:
        return self.x.type.frac + self.s_type.frac

    @property
    def frac(self) -> int:
        return max(self.prod_frac, self.b_type.frac)

    def emulate(self, env):
        x = env[self.x.name].reshape(-1, self.x.depth // self.channels, self.channels)
        y = reference_affine(x, self.x.type.frac, self.scale, self.s_type.frac, self.bias, self.b_type.frac, self.y.type)
        return y.reshape(x.shape[0], -1)

    WALK_LAT = 6  # vs_affine: read, x as read, product, sum, floor + rounding decision, their sum + saturation

    def rom(self) -> Rom:
        return Rom(f'{self.name}_sb', self._rom_words, self.s_type.width + self.b_type.width, self.storage)

    @cached_property
    def _rom_words(self):
        return [
            s | (b << self.s_type.width)
            for s, b in zip(pack_words(self.scale.reshape(-1, 1), self.s_type.width),
                            pack_words(self.bias.reshape(-1, 1), self.b_type.width))
        ]  # fmt: skip

    def generics(self, engine) -> dict:
        """The VHDL generics of the unit's entity (also what the resource model reads)."""
        xt, yt = self.x.type, self.y.type
        return dict(
            N=self.x.depth, C=self.channels, AW=self.x.aw, CW=addr_width(self.channels),
            X_W=xt.width, X_SIGNED=xt.signed, S_W=self.s_type.width, S_SIGNED=self.s_type.signed,
            BIAS_W=self.b_type.width, BIAS_SIGNED=self.b_type.signed,
            PROD_SHIFT=self.frac - self.prod_frac, BIAS_SHIFT=self.frac - self.b_type.frac,
            SHIFT=self.frac - yt.frac, Y_W=yt.width, Y_SIGNED=yt.signed, RND=yt.rounding_code, SAT=yt.saturation_code,
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        return unit_instance(self, engine, {'x': self.x}, {'sb': self.rom()})
