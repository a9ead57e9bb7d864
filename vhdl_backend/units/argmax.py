"""Softmax with hls4ml's Implementation argmax: a one-hot row, 1.0 at the row's largest input.

As hls4ml's softmax_argmax: no tables; the first of equal maxima wins (numpy's argmax). The
inputs are compared as they are (no cast: the order of the codes is the order of the values).
The 1 is the result type's code of 1.0 (saturated or wrapped as the type says, as hls4ml's
``(res_T)1``); default result type ufixed<1,1,RND_CONV,SAT>.

VHDL: ``vs_argmax.vhd``: reads stream over the rows one element a cycle, each row's writes run
while the next row is read; (ROWS + 1) * N + 4 cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedError
from .base import Emitted, addr_width, unit_instance, walk_reads

MAX_ONE_CODE = 2**31 - 1  # ONE is a VHDL natural generic


@dataclass
class ArgmaxUnit:
    entity = 'vs_argmax'  # vhdl/vs_argmax.vhd
    label = 'argmax'  # instance label suffix in the top level
    name: str
    layer_name: str
    x: object
    y: object
    rows: int
    n: int

    @classmethod
    def from_layer(cls, layer, design):
        x = design.input_buffer(layer)
        n = int(layer.get_input_variable().shape[-1])
        unit = cls(design.unit_name(layer), layer.name, x, design.output_buffer(layer), x.depth // n, n)
        if not 0 <= unit.one_code <= MAX_ONE_CODE:
            raise UnsupportedError(f'layer {layer.name!r} (hls4ml {layer.class_name}): Precision result {unit.y.type} '
                                   f'gives 1.0 the code {unit.one_code}; Implementation argmax needs a code in '
                                   f'0..{MAX_ONE_CODE}, e.g. ufixed<1,1,RND_CONV,SAT> (the default)')  # fmt: skip
        return unit

    @property
    def one_code(self) -> int:
        return int(self.y.type.from_float(1.0))

    def emulate(self, env):
        x = env[self.x.name].reshape(-1, self.rows, self.n)
        out = np.zeros(x.shape, dtype=np.int64)
        np.put_along_axis(out, np.argmax(x, axis=-1)[..., None], self.one_code, axis=-1)
        return out.reshape(x.shape[0], -1)

    def cycles(self) -> int:
        """vs_argmax.vhd's header: the last of ROWS * N writes, N + 5 cycles after its read."""
        return (self.rows + 1) * self.n + 4

    def first_reads(self) -> dict:
        return {self.x.name: walk_reads(self.rows * self.n)}

    def write_cycles(self) -> np.ndarray:
        return np.arange(self.rows * self.n, dtype=np.int64) + self.n + 5

    def generics(self, engine) -> dict:
        """The VHDL generics of the unit's entity (also what the resource model reads)."""
        return dict(ROWS=self.rows, N=self.n, AW=self.x.aw, X_W=self.x.type.width, X_SIGNED=self.x.type.signed,
                    JW=addr_width(self.n), Y_W=self.y.type.width, ONE=self.one_code)  # fmt: skip

    def emit(self, engine) -> Emitted:
        return unit_instance(self, engine, {'x': self.x})
