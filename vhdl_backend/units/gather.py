"""Pure data movement over (time, features): Concatenate (feature or time axis, two tensors),
UpSampling1D (each time step repeated) and ZeroPadding1D (zero time steps before and after).
One output element a cycle in stored order, each source read in its stored order (UpSampling1D
reads each row `size` times); each value cast once to the output type (hls4ml's result
precision: the inputs' own type for ZeroPadding1D and UpSampling1D, a type holding both for
Concatenate), so that the movement is exact whenever that type holds the inputs.

VHDL: ``vs_gather.vhd``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedError
from ...fixed import requantize
from .base import Emitted, NEVER, unit_instance


@dataclass
class GatherUnit:
    entity = 'vs_gather'  # vhdl/vs_gather.vhd
    label = 'gather'  # instance label suffix in the top level
    LAT = 4  # vs_gather: read, the selected value, floor + rounding decision, their sum + saturation
    name: str
    layer_name: str
    a: object
    b: object  # a Buffer, or None
    y: object
    out_t: int
    out_c: int
    a_rows: tuple  # [t0, t1) of the output rows a fills
    a_c: int  # a fills columns [0, a_c)
    rep: int  # each row of a repeated rep times
    b_rows: tuple = (0, 0)
    b_c0: int = 0  # b fills columns [b_c0, out_c)

    @classmethod
    def from_layer(cls, layer, design):
        what = f'layer {layer.name!r} ({layer.class_name})'
        shapes = [list(layer.get_input_variable(name).shape) for name in layer.inputs]
        out = list(layer.get_output_variable().shape)
        name, y = design.unit_name(layer), None
        if layer.get_attr('data_format', 'channels_last') != 'channels_last':
            raise UnsupportedError(f'{what}: data_format {layer.get_attr("data_format")!r} is not supported; '
                                   'use channels_last')  # fmt: skip
        if layer.class_name == 'Concatenate':
            if len(layer.inputs) != 2 or any(len(s) not in (1, 2) for s in shapes) or len(shapes[0]) != len(shapes[1]):
                raise UnsupportedError(f'{what}: inputs of shapes {shapes} are not supported; Concatenate takes two '
                                       'tensors of shape (features) or (time, features)')  # fmt: skip
            a, b = (design.buffer_of(n) for n in layer.inputs)
            if a is b:
                raise UnsupportedError(f'{what}: concatenating a tensor with itself is not supported')
            sa, sb = ([1, *s] if len(s) == 1 else s for s in shapes)
            axis = int(layer.get_attr('axis', -1))
            axis = axis + len(shapes[0]) + 1 if axis < 0 else axis  # Keras axis, with the batch axis 0
            if axis == len(shapes[0]):  # features
                if sa[0] != sb[0]:
                    raise UnsupportedError(f'{what}: inputs of {sa[0]} and {sb[0]} time steps; unequal lengths')
                y = design.output_buffer(layer)
                return cls(name, layer.name, a, b, y, sa[0], sa[1] + sb[1], (0, sa[0]), sa[1], 1,
                           (0, sa[0]), sa[1])  # fmt: skip
            if axis == 1 and len(shapes[0]) == 2:  # time
                if sa[1] != sb[1]:
                    raise UnsupportedError(f'{what}: inputs of {sa[1]} and {sb[1]} features; unequal widths')
                y = design.output_buffer(layer)
                return cls(name, layer.name, a, b, y, sa[0] + sb[0], sa[1], (0, sa[0]), sa[1], 1,
                           (sa[0], sa[0] + sb[0]), 0)  # fmt: skip
            raise UnsupportedError(f'{what}: axis {layer.get_attr("axis")} is not supported')
        if len(shapes[0]) != 2:
            raise UnsupportedError(f'{what}: input shape {shapes[0]} is not supported; use (time, features)')
        steps, feats = shapes[0]
        x = design.input_buffer(layer)
        if layer.class_name == 'Resize':  # UpSampling1D
            if str(layer.get_attr('algorithm', 'nearest')) != 'nearest' or layer.get_attr('in_height', 1) != 1:
                raise UnsupportedError(f'{what}: only UpSampling1D (nearest, 1-D) is supported')
            size = int(layer.get_attr('width_factor', out[0] // steps))
            return cls(name, layer.name, x, None, design.output_buffer(layer), steps * size, feats, (0, steps * size),
                       feats, size)  # fmt: skip
        left, right = int(layer.get_attr('pad_left')), int(layer.get_attr('pad_right'))  # ZeroPadding1D
        return cls(name, layer.name, x, None, design.output_buffer(layer), left + steps + right, feats,
                   (left, left + steps), feats, 1)  # fmt: skip

    @property
    def n_out(self) -> int:
        return self.out_t * self.out_c

    def sources(self):
        """Per output element: 0 (zero), 1 (a) or 2 (b), and the element address read."""
        t, c = np.divmod(np.arange(self.n_out, dtype=np.int64), self.out_c)
        in_a = (t >= self.a_rows[0]) & (t < self.a_rows[1]) & (c < self.a_c)
        in_b = (t >= self.b_rows[0]) & (t < self.b_rows[1]) & (c >= self.b_c0) & ~in_a
        src = np.where(in_a, 1, np.where(in_b, 2, 0))
        addr = np.zeros(self.n_out, dtype=np.int64)
        addr[in_a] = ((t[in_a] - self.a_rows[0]) // self.rep) * self.a_c + c[in_a]
        addr[in_b] = (t[in_b] - self.b_rows[0]) * (self.out_c - self.b_c0) + c[in_b] - self.b_c0
        return src, addr

    @property
    def frac(self) -> int:
        return max(self.a.type.frac, self.b.type.frac if self.b is not None else self.a.type.frac)

    def emulate(self, env):
        src, addr = self.sources()
        xa = np.asarray(env[self.a.name], dtype=np.int64) << (self.frac - self.a.type.frac)
        v = np.zeros((xa.shape[0], self.n_out), dtype=np.int64)
        v[:, src == 1] = xa[:, addr[src == 1]]
        if self.b is not None:
            xb = np.asarray(env[self.b.name], dtype=np.int64) << (self.frac - self.b.type.frac)
            v[:, src == 2] = xb[:, addr[src == 2]]
        return requantize(v, self.frac, self.y.type)

    def cycles(self) -> int:
        return self.n_out + self.LAT

    def first_reads(self) -> dict:
        src, addr = self.sources()
        out = {}
        for k, buf in ((1, self.a), (2, self.b)):
            if buf is not None:
                first = np.full(buf.depth, NEVER, dtype=np.int64)
                np.minimum.at(first, addr[src == k], np.flatnonzero(src == k).astype(np.int64) + 1)
                out[buf.name] = first
        return out

    def write_cycles(self) -> np.ndarray:
        return np.arange(self.n_out, dtype=np.int64) + 1 + self.LAT

    def generics(self, engine) -> dict:
        """The VHDL generics of the unit's entity (also what the resource model reads)."""
        at, yt, b = self.a.type, self.y.type, self.b
        return dict(
            OUT_T=self.out_t, OUT_C=self.out_c, AAW=self.a.aw, BAW=b.aw if b else 1, YAW=self.y.aw,
            A_T0=self.a_rows[0], A_T1=self.a_rows[1], A_C=self.a_c, REP=self.rep,
            B_T0=self.b_rows[0], B_T1=self.b_rows[1], B_C0=self.b_c0,
            A_W=at.width, A_SIGNED=at.signed, A_SHIFT=self.frac - at.frac,
            B_W=b.type.width if b else 1, B_SIGNED=b.type.signed if b else True,
            B_SHIFT=self.frac - b.type.frac if b else 0,
            SHIFT=self.frac - yt.frac, Y_W=yt.width, Y_SIGNED=yt.signed, RND=yt.rounding_code, SAT=yt.saturation_code,
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        if self.b is not None:
            return unit_instance(self, engine, {'a': self.a, 'b': self.b})
        return unit_instance(self, engine, {'a': self.a}, tied='b_addr => open, b_data => "0"')
