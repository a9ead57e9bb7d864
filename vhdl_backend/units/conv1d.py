"""Conv1D, DepthwiseConv1D (and hls4ml's split of a SeparableConv1D) on the shared engine.

An output step t of a Conv1D over (time, channels) is a Dense over the K * C consecutive input
elements from t * S * C on: taps k and channels c in the order k * C + c, which is hls4ml's
(K, C, F) weight order. The controller reads that window in place; its row stride X_T = S * C is
all a Conv1D needs (dense.DenseUnit with x_row). 'same' and 'causal' padding read a copy of the
input with the zero steps in place, written by one vs_gather pass (units/gather.py) before the
product; 'valid' reads the input itself. A dilated Conv1D (dilation D) reads its K taps of C
elements D steps apart: the controller adds (D - 1) * C to the address after each tap (X_TAP = C,
X_GAP = (D - 1) * C), so the window is still read in place.
"""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedError
from .base import Buffer, vhdl_name

SUPPORTED = ("supported: Conv1D/QConv1D/DepthwiseConv1D/SeparableConv1D on (time, channels), channels_last, any "
             "kernel, stride, dilation and padding ('valid', 'same', 'causal')")  # fmt: skip


def conv1d_geometry(layer, in_shape, x_depth: int, what: str) -> tuple:
    """(rows, n_in, x_row, x_gap) of the product, reading a buffer of x_depth elements: the input
    with the layer's zero steps before and after it (pad_left, pad_right). x_gap: elements skipped
    after each tap of C (a dilated kernel's holes)."""
    k, s, dil = layer.get_attr('filt_width'), layer.get_attr('stride_width'), layer.get_attr('dilation', 1)
    pad_left, pad_right = layer.get_attr('pad_left'), layer.get_attr('pad_right')
    if len(in_shape) != 2 or layer.get_attr('data_format', 'channels_last') != 'channels_last':
        raise UnsupportedError(f'{what}: input shape {in_shape} ({layer.get_attr("data_format")}); {SUPPORTED}')
    if not isinstance(dil, int) or dil < 1:
        raise UnsupportedError(f'{what}: dilation_rate {dil!r}; {SUPPORTED}')
    t_in, c = in_shape
    t_in += pad_left + pad_right
    if x_depth != t_in * c:  # the padded copy (lower_conv1d) holds the zero steps
        raise ValueError(f'{what}: reads {x_depth} elements, its padded input has {t_in * c}')
    t_out = (t_in - (k - 1) * dil - 1) // s + 1
    if t_out != layer.get_output_variable().shape[0]:
        raise UnsupportedError(f'{what}: {layer.get_output_variable().shape[0]} output steps, expected {t_out}')
    return t_out, k * c, s * c, (dil - 1) * c


def block_diagonal(codes: np.ndarray, k: int, c: int) -> np.ndarray:
    """A DepthwiseConv1D's kernel (K, C, M) as a Conv1D's (K * C, C * M): output channel c * M + m
    (Keras' order) reads only input channel c. The zeros cost multiply-accumulates and ROM words,
    not exactness; a per-channel address step in the controller would avoid them."""
    codes = codes.reshape(k, c, -1)
    m = codes.shape[2]
    full = np.zeros((k, c, c * m), dtype=np.int64)
    for ch in range(c):
        full[:, ch, ch * m : (ch + 1) * m] = codes[:, ch, :]
    return full.reshape(k * c, c * m)


def lower_conv1d(layer, design):
    """The product, after a pass that writes the zero-padded input when the layer pads."""
    from .dense import DenseUnit
    from .gather import GatherUnit

    pad_left, pad_right = layer.get_attr('pad_left', 0), layer.get_attr('pad_right', 0)
    if not pad_left and not pad_right:
        return DenseUnit.from_layer(layer, design)
    x = design.input_buffer(layer)
    shape = list(layer.get_input_variable().shape)
    if len(shape) != 2:
        raise UnsupportedError(f'layer {layer.name!r} ({layer.class_name}): input shape {shape}; {SUPPORTED}')
    steps, channels = shape
    out_t = pad_left + steps + pad_right
    padded = Buffer(design._unique(f't_{vhdl_name(layer.name)}_pad'), out_t * channels, x.type,
                    design.storage(layer, 'result', 0))  # fmt: skip
    design.buffers[f'{layer.outputs[0]}:pad'] = padded
    pad = GatherUnit(design._unique(f'u_{vhdl_name(layer.name)}_pad'), layer.name, x, None, padded, out_t, channels,
                     (pad_left, pad_left + steps), channels, 1)  # fmt: skip
    return [pad, DenseUnit.from_layer(layer, design, x=padded)]
