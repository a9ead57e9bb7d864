"""Lowering: an hls4ml ModelGraph becomes a `Design`, the schedule of hardware units.

This is the one place that reads the converted model; the writer, the emulation and the
resource estimate all work from the `Design`. Lowering raises `UnsupportedError` for
anything the hardware cannot implement, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UnsupportedError
from ..fixed import fixed_type_from_hls4ml
from .units import ALIAS_LAYERS, KERAS_LAYERS_SUPPORTED, UNIT_FOR_LAYER
from .units.base import Buffer, buffer_readers, check_storage, vhdl_name
from .schedule import schedule
from .units.dense import Engine

MAX_IO_WIDTH = 31  # the file-driven testbench moves values through VHDL integers


@dataclass
class Design:
    project: str
    lanes: int
    dsp_lanes: int
    model_config: object = None  # hls4ml's config, for per-layer keys
    buffers: dict = field(default_factory=dict)  # hls4ml tensor name -> Buffer (aliases share)
    units: list = field(default_factory=list)
    input: Buffer = None
    output: Buffer = None
    input_shape: tuple = ()
    engine: Engine = None
    _names: set = field(default_factory=set)

    # -- lowering helpers the units call -----------------------------------------------
    def buffer_of(self, tensor: str) -> Buffer:
        return self.buffers[tensor]

    def input_buffer(self, layer) -> Buffer:
        return self.buffer_of(layer.inputs[0])

    def _unique(self, ident: str) -> str:
        base, k = ident, 1
        while ident in self._names:
            k += 1
            ident = f'{base}_{k}'
        self._names.add(ident)
        return ident

    def unit_name(self, layer) -> str:
        return self._unique('u_' + vhdl_name(layer.name))

    def output_buffer(self, layer) -> Buffer:
        var = layer.get_output_variable()
        what = f'layer {layer.name!r} ({layer.class_name}) result'
        ftype = fixed_type_from_hls4ml(var.type.precision, what)
        depth = int(np.prod(var.shape))
        buf = Buffer(self._unique('t_' + vhdl_name(layer.name)), depth, ftype,
                     self.storage(layer, 'result', depth * ftype.width))  # fmt: skip
        self.buffers[layer.outputs[0]] = buf
        return buf

    def layer_config_value(self, layer, key: str, default=None, model_level: bool = True):
        """A backend config key of a layer: at its layer name, then its layer type, then (if
        model_level) the model level of the hls4ml config."""
        if self.model_config is None:
            return default
        hls_cfg = self.model_config.config.get('HLSConfig', {})
        scopes = [hls_cfg.get('LayerName', {}).get(layer.name), hls_cfg.get('LayerType', {}).get(layer.class_name)]
        for scope in scopes + ([hls_cfg.get('Model')] if model_level else []):
            if scope and key in scope:
                return scope[key]
        return default

    def storage(self, layer, tensor: str, bits: int) -> str:
        """Storage ('bram', 'lutram' or 'auto', resolved after lowering) of a layer's result
        buffer or weight memory."""
        kind = self.layer_config_value(layer, 'Storage', 'auto')
        if isinstance(kind, dict):
            kind = kind.get(tensor, 'auto')
        return check_storage(str(kind).lower(), f'layer {layer.name!r} {tensor}')

    # -- whole-design views ---------------------------------------------------------------
    @property
    def all_buffers(self) -> list:
        seen, out = set(), []
        for buf in self.buffers.values():
            if id(buf) not in seen:
                seen.add(id(buf))
                out.append(buf)
        return out

    def schedule(self):
        """The static schedule of the units (schedule.py); recomputed when the unit list changes."""
        key = tuple(map(id, self.units))
        cached = self.__dict__.get('_schedule')
        if cached is None or cached[0] != key:
            cached = self.__dict__['_schedule'] = (key, schedule(self.units))
        return cached[1]

    def cycles(self) -> int:
        """Clock cycles from the cycle start is seen to the cycle done is high."""
        return self.schedule().cycles

    def macs(self) -> int:
        return sum(u.macs() for u in self.units if hasattr(u, 'macs'))

    def quantize_input(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.input.depth)
        return self.input.type.from_float(x)

    def run(self, q_in: np.ndarray, trace: bool = False):
        """Integer emulation: input integers (batch, n_in) -> output integers (and per-unit outputs)."""
        env = {self.input.name: np.asarray(q_in, dtype=np.int64).reshape(-1, self.input.depth)}
        traced = {}
        for unit in self.units:
            env[unit.y.name] = unit.emulate(env)
            if trace:
                post = getattr(unit, 'post', None)
                if post is not None:  # a fused activation: the product's own output too
                    traced[unit.layer_name] = post.x.type.to_float(unit.dense_codes(env))
                traced[post.layer_name if post is not None else unit.layer_name] = unit.y.type.to_float(env[unit.y.name])
        return env[self.output.name], traced


def fuse_activations(design) -> None:
    """A product followed by an activation that alone reads its result (a Dense and its ReLU or
    quantizer) becomes one unit: the controller applies the activation as it writes, so the
    activation's pass over the tensor and the buffer between them disappear. Same codes."""
    from .units.activation import ActivationUnit
    from .units.dense import EngineJob

    readers = buffer_readers(design.units)
    fused = []
    for unit in design.units:
        prev = fused[-1] if fused else None
        if (isinstance(unit, ActivationUnit) and isinstance(prev, EngineJob) and prev.post is None
                and unit.x is prev.y and readers.get(id(prev.y)) == 1 and prev.y is not design.output
                and prev.y.banks == 1 and unit.y.banks == 1):  # fmt: skip
            mid = prev.y
            prev.post, prev.y = unit, unit.y
            for key in [k for k, b in design.buffers.items() if b is mid]:
                del design.buffers[key]
            continue
        fused.append(unit)
    design.units[:] = fused


def _model_value(model, key, default):
    return model.config.config.get('HLSConfig', {}).get('Model', {}).get(key, default)


def _check_lanes(model):
    lanes = _model_value(model, 'Lanes', 1)
    dsp_lanes = _model_value(model, 'DSPLanes', lanes)
    if not isinstance(lanes, int) or lanes < 1:
        raise UnsupportedError(f'Model Lanes {lanes!r} is not valid; use an integer >= 1')
    if not isinstance(dsp_lanes, int) or not 0 <= dsp_lanes <= lanes:
        raise UnsupportedError(f'Model DSPLanes {dsp_lanes!r} is not valid; use an integer 0..Lanes ({lanes})')
    return lanes, dsp_lanes


SHIFT_LANES = ('auto', 'off')


def _check_shift_lanes(model) -> str:
    """ShiftLanes: 'auto' builds shift lanes when every engine weight is 0 or +-2^e; 'off' keeps multipliers."""
    value = _model_value(model, 'ShiftLanes', 'auto')
    if value not in SHIFT_LANES:
        raise UnsupportedError(f'Model ShiftLanes {value!r} is not valid; use one of {SHIFT_LANES}')
    return value


def lower(model) -> Design:
    """Build the hardware schedule of a converted hls4ml model (ModelGraph)."""
    lanes, dsp_lanes = _check_lanes(model)
    shift_lanes = _check_shift_lanes(model)
    design = Design(vhdl_name(model.config.get_project_name()), lanes, dsp_lanes, model.config)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedError(
            f'a model with {len(model.inputs)} inputs and {len(model.outputs)} outputs is not supported; '
            'VHDLSpartan supports one input and one output'
        )
    for layer in model.get_layers():
        cls_name = layer.class_name
        if cls_name == 'Input':
            buf = design.output_buffer(layer)
            design.input, design.input_shape = buf, tuple(layer.get_output_variable().shape)
        elif cls_name in ALIAS_LAYERS:
            design.buffers[layer.outputs[0]] = design.input_buffer(layer)
        elif cls_name in UNIT_FOR_LAYER:
            made = UNIT_FOR_LAYER[cls_name](layer, design)  # a unit, or units in order
            design.units.extend(made if isinstance(made, list) else [made])
        else:
            keras_cls = layer.attributes.get('class_name', cls_name)
            raise UnsupportedError(
                f'layer {layer.name!r} of type {keras_cls} (hls4ml {cls_name}) is not supported by VHDLSpartan; '
                f'supported: {KERAS_LAYERS_SUPPORTED}'
            )
    if not design.units:
        raise UnsupportedError('the model has no compute layer; VHDLSpartan needs at least one')
    design.output = design.buffer_of(model.outputs[0])
    for buf, what in ((design.input, 'input'), (design.output, 'output')):
        if buf.type.width > MAX_IO_WIDTH:
            raise UnsupportedError(f'the model {what} type {buf.type} is {buf.type.width} bits wide; '
                                   f'VHDLSpartan supports model inputs and outputs up to {MAX_IO_WIDTH} bits')  # fmt: skip
    if design.input is design.output:
        raise UnsupportedError('the model output is its input; VHDLSpartan needs at least one compute layer')
    fuse_activations(design)
    design.engine = Engine.for_units(design.units, lanes, dsp_lanes, shift_lanes)
    from ..resource_model.storage import choose_storage

    choose_storage(design, model.config.get_config_value('Part') or 'xc7s15')
    return design
