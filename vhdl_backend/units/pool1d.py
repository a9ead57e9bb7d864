"""MaxPooling1D, AveragePooling1D ('valid' windows) and GlobalMaxPooling1D over (time, features):
y[o, c] = cast(op_k x[o * stride + k, c]). Max: the largest element, cast to the output type.
Average: the exact sum divided by the pool size, which must be a power of 2 so that the mean is
exact before its one cast to the output type (hls4ml's result precision). hls4ml's own
AveragePooling divides its accumulator (accum_t) by the pool size in C++; here the quotient is
exact and rounded once by the result type's rounding mode.

VHDL: ``vs_pool.vhd`` (one read a cycle, window after window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedError
from ...fixed import requantize
from .base import Emitted, unit_instance

POOL_OPS = {'max': 0, 'average': 1}  # vs_pool's OP


@dataclass
class PoolUnit:
    entity = 'vs_pool'  # vhdl/vs_pool.vhd
    label = 'pool'  # instance label suffix in the top level
    LAT = 4  # vs_pool: read, running result, floor + rounding decision, their sum + saturation
    name: str
    layer_name: str
    op: str
    x: object
    y: object
    steps: int  # T
    channels: int  # C
    pool: int  # P
    stride: int  # S
    outs: int  # NO

    @classmethod
    def from_layer(cls, layer, design):
        what = f'layer {layer.name!r} ({layer.class_name})'
        op = str(layer.get_attr('pool_op', '')).lower()
        if op not in POOL_OPS:
            raise UnsupportedError(f'{what}: pool_op {op!r} is not supported; supported: Max, Average')
        if layer.get_attr('data_format', 'channels_last') != 'channels_last':
            raise UnsupportedError(f'{what}: data_format {layer.get_attr("data_format")!r} is not supported; '
                                   'use channels_last')  # fmt: skip
        shape = list(layer.get_input_variable().shape)
        if len(shape) != 2:
            raise UnsupportedError(f'{what}: input shape {shape} is not supported; use (time, features)')
        steps, channels = shape
        if layer.class_name == 'GlobalPooling1D':
            pool = stride = steps
        else:
            pads = int(layer.get_attr('pad_left', 0) or 0), int(layer.get_attr('pad_right', 0) or 0)
            if any(pads):  # hls4ml keeps only the padding amounts
                raise UnsupportedError(f"{what}: padding 'same' (pad_left {pads[0]}, pad_right {pads[1]}) is not "
                                       "supported; use padding='valid'")  # fmt: skip
            pool, stride = int(layer.get_attr('pool_width')), int(layer.get_attr('stride_width'))
        if op == 'average' and pool & (pool - 1):
            raise UnsupportedError(f'{what}: pool size {pool} is not supported for average pooling; use a power '
                                   'of 2 (the mean is then exact before its one cast)')  # fmt: skip
        outs = (steps - pool) // stride + 1
        if outs < 1:
            raise UnsupportedError(f'{what}: pool size {pool} is longer than the input ({steps} steps)')
        x = design.input_buffer(layer)
        return cls(design.unit_name(layer), layer.name, op, x, design.output_buffer(layer), steps, channels, pool,
                   stride, outs)  # fmt: skip

    @property
    def log2_pool(self) -> int:
        return (self.pool - 1).bit_length() if self.op == 'average' else 0

    @property
    def shift(self) -> int:  # the window result's frac bits minus the output's
        return self.x.type.frac + self.log2_pool - self.y.type.frac

    def windows(self, values):
        """values (batch, T * C) -> (batch, NO, C, P): each output's window."""
        v = values.reshape(-1, self.steps, self.channels)
        idx = np.arange(self.outs)[:, None] * self.stride + np.arange(self.pool)[None, :]  # (NO, P)
        return v[:, idx, :].transpose(0, 1, 3, 2)

    def emulate(self, env):
        w = self.windows(np.asarray(env[self.x.name], dtype=np.int64))
        exact = w.max(axis=-1) if self.op == 'max' else w.sum(axis=-1)
        return requantize(exact.reshape(exact.shape[0], -1), self.x.type.frac + self.log2_pool, self.y.type)

    def read_order(self) -> np.ndarray:
        """The element address of read r (r = 0 .. NO * C * P - 1)."""
        o, c, k = np.meshgrid(np.arange(self.outs), np.arange(self.channels), np.arange(self.pool), indexing='ij')
        return ((o * self.stride + k) * self.channels + c).reshape(-1)

    def cycles(self) -> int:
        return self.outs * self.channels * self.pool + self.LAT

    def first_reads(self) -> dict:
        """Read r's address is presented in cycle r + 1; elements no window reads are never read."""
        from .base import NEVER

        order = self.read_order()
        first = np.full(self.x.depth, NEVER, dtype=np.int64)
        np.minimum.at(first, order, np.arange(order.size, dtype=np.int64) + 1)
        return {self.x.name: first}

    def write_cycles(self) -> np.ndarray:
        return (np.arange(self.outs * self.channels, dtype=np.int64) + 1) * self.pool + self.LAT

    def generics(self, engine) -> dict:
        """The VHDL generics of the unit's entity (also what the resource model reads)."""
        xt, yt = self.x.type, self.y.type
        return dict(
            NO=self.outs, C=self.channels, P=self.pool, S=self.stride, AW=self.x.aw, YAW=self.y.aw,
            OP=POOL_OPS[self.op], X_W=xt.width, X_SIGNED=xt.signed, ACC_W=xt.width + 1 + self.log2_pool,
            SHIFT=self.shift, Y_W=yt.width, Y_SIGNED=yt.signed, RND=yt.rounding_code, SAT=yt.saturation_code,
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        return unit_instance(self, engine, {'x': self.x})


def lower_global_pooling(layer, design):
    """GlobalPooling1D: Average on vs_gavg (any length, exact divider), Max on vs_pool."""
    from .pooling import GlobalAvgUnit

    if str(layer.get_attr('pool_op', 'Average')).lower() == 'max':
        return PoolUnit.from_layer(layer, design)
    return GlobalAvgUnit.from_layer(layer, design)
