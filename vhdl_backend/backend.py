"""The VHDLSpartan backend: hls4ml's flow ending in VHDL for small AMD 7-series parts.

Like hls4ml's own FPGA backends: generic conversion passes, then the backend's flows
(validate, write), and `compile` / `predict` / `build` for emulation, simulation and synthesis.
"""

from __future__ import annotations

import types

import numpy as np

from hls4ml.backends import FPGABackend
from hls4ml.model.attributes import ConfigurableAttribute
from hls4ml.model.flow import get_flow, register_flow
from hls4ml.model.layers import LayerNormalization
from hls4ml.model.optimizer import model_optimizer

from ..errors import TimingWarning, UnsupportedError
from ..resource_model.devices import get_device
from .design import lower

DEFAULT_PART = 'xc7s15ftgb196-2'
DEFAULT_CLOCK_NS = 10


class VHDLSpartanBackend(FPGABackend):
    def __init__(self):
        super().__init__('VHDLSpartan')
        self._register_attributes()
        self._register_flows()

    def _register_attributes(self):
        # Layer config keys read by our lowering beyond FPGABackend's: hls4ml's own names where
        # hls4ml's C++ backends have one (TableSize of a LayerNormalization).
        from .units.layernorm import PTQ_TABLE_SIZE

        attrs = self.attribute_map.setdefault(LayerNormalization, [])
        attrs.append(ConfigurableAttribute('table_size', default=PTQ_TABLE_SIZE,
                                           description='entries of the inverse square root table'))  # fmt: skip

    def _register_flows(self):
        # hls4ml's generic conversion, with our fix-ups placed before the passes they guard.
        convert = list(get_flow('convert').optimizers)
        convert.insert(convert.index('merge_linear_activation'), 'vhdlspartan:keep_linear_quantizer')
        convert.insert(convert.index('qkeras_factorize_alpha'), 'vhdlspartan:check_quantizers')
        convert.insert(convert.index('infer_precision_types'), 'vhdlspartan:layer_norm_result')
        convert.insert(convert.index('infer_precision_types'), 'vhdlspartan:softmax_result')
        convert.insert(convert.index('infer_precision_types'), 'vhdlspartan:exact_weight_types')  # po2, binary
        # A Dense over (time, features) runs per time step as it is; hls4ml's rewrite into a
        # Conv1D drops the QKeras weight quantizer (the weights are then truncated, not rounded).
        convert.remove('replace_multidimensional_dense_with_conv')
        convert = register_flow('convert', convert, requires=['parse_qonnx'], backend=self.name)
        optimize = register_flow('optimize', get_flow('optimize').optimizers, requires=[convert], backend=self.name)
        validate = register_flow('validate', ['vhdlspartan:fit_to_part', 'vhdlspartan:validate_design'],
                                 requires=[optimize], backend=self.name)  # fmt: skip
        self._writer_flow = register_flow('write', ['vhdlspartan:write_vhdl'], requires=[validate], backend=self.name)
        self._default_flow = register_flow('ip', None, requires=[validate], backend=self.name)

    def get_default_flow(self):
        return self._default_flow

    def get_writer_flow(self):
        return self._writer_flow

    def create_initial_config(self, part=DEFAULT_PART, clock_period=DEFAULT_CLOCK_NS, io_type='io_parallel', **_):
        """Project configuration: the part and the clock (ns). ``io_type`` is accepted for
        hls4ml compatibility; the design always exchanges data through memories."""
        from ..handlers import wrap_parsers

        wrap_parsers()  # hls4ml's parsers are all registered by now (Conv1D dilation, ReLU options)
        get_device(part)  # raises for an unknown part, naming the known ones
        if not isinstance(clock_period, (int, float)) or clock_period <= 0:
            raise UnsupportedError(f'clock_period {clock_period!r} is not valid; give the period in ns, > 0')
        return {
            'Part': part,
            'ClockPeriod': clock_period,
            'IOType': io_type,
            'HLSConfig': {},
            'WriterConfig': {},
        }

    # -- passes ---------------------------------------------------------------------------
    @model_optimizer()
    def fit_to_part(self, model):
        """With Model FitToPart: choose lanes, DSP share and weight bits so the design fits (no training)."""
        from ..resource_model.fit_pass import fit_to_part

        return fit_to_part(model)

    @model_optimizer()
    def validate_design(self, model):
        """Lower the model once at conversion, so unsupported input fails before anything is written,
        and check the clock asked for against the design's estimated worst path."""
        from .interfaces import check_design, link_of

        design = lower(model)
        check_design(design, link_of(model.config))  # Interface / BaudRate, before anything is written
        check_clock(model, design)
        return False

    @model_optimizer()
    def write_vhdl(self, model):
        self.writer.write_hls(model)
        return False

    # -- compile / predict / trace / build ------------------------------------------------
    def compile(self, model):
        """Prepare the NumPy emulation (no C++ library: the emulation is the model)."""
        model._vhdlspartan_design = lower(model)
        model.trace = types.MethodType(_trace, model)
        return None

    def predict(self, model, x, *args, **kwargs):
        design = _design(model)
        q_out, _ = design.run(design.quantize_input(x))
        return _shape_like_hls4ml(design, x, design.output.type.to_float(q_out))

    def build(self, model, sim=False, synth=False, x=None, n_samples=200, seed=0, **kwargs):
        """Simulate in GHDL (``sim``) and/or synthesize with GHDL + Yosys (``synth``).

        ``x``: inputs for the simulation (default: ``n_samples`` random inputs on the input
        type's grid, edges included). Returns a dict with 'sim' and/or 'synth' reports.
        """
        from . import simulation, synthesis

        unknown = set(kwargs) - {'reset', 'csim', 'export', 'vsynth', 'cosim', 'validation'}
        if unknown:
            raise UnsupportedError(f'build() got unknown options {sorted(unknown)}; VHDLSpartan supports sim, synth, x')
        from . import interfaces

        design = lower(model)
        link = interfaces.link_of(model.config)
        model.write()  # the project on disk always matches the model being built
        out_dir = model.config.get_output_dir()
        hw_id = interfaces.project_hardware_id(out_dir)
        report = {'cycles_estimated': design.cycles(), 'macs': design.macs(), 'interface': link.kind,
                  'hardware_id': f'0x{hw_id:08x}'}  # fmt: skip
        if sim:
            if x is None:
                q_in = simulation.random_inputs(design, n_samples, np.random.default_rng(seed))
            else:
                q_in = design.quantize_input(x)
            if link.kind == 'memory':
                report['sim'] = simulation.simulate(design, out_dir, q_in)
            else:  # through the wrapper's pins (pin_sim.py)
                from .pin_sim import simulate_pins

                report['sim'] = simulate_pins(design, link, out_dir, q_in, hw_id, seed)
        if synth:
            from ..resource_model.estimate import RESOURCES, estimate_design

            syn = synthesis.synthesize(design, out_dir, model.config.get_config_value('ClockPeriod'))
            est = estimate_design(design, model.config.get_config_value('Part'))
            if link.kind != 'memory':  # the wrapper's own small cost (resource_model/interface_cost.py)
                from ..resource_model.interface_cost import add_interface

                est = add_interface(est, design, link)
            syn['estimate'] = est.total
            syn['estimate_error'] = {r: (est.total[r] - syn[r]) / syn[r] if syn[r] else float(est.total[r])
                                     for r in RESOURCES}  # fmt: skip
            report['synth'] = syn
        return report


def check_clock(model, design):
    """Warn (or, with Model StrictTiming: true, refuse) when ClockPeriod is below what the design's
    estimated worst path allows (resource_model.estimate.design_delay; after synthesis,
    build(synth=True)['synth']['timing'] has the walk of the real netlist)."""
    import warnings

    from ..resource_model.components import design_components
    from ..resource_model.estimate import design_delay
    from .design import _model_value

    strict = _model_value(model, 'StrictTiming', False)
    if not isinstance(strict, bool):
        raise UnsupportedError(f'Model StrictTiming {strict!r} is not valid; use true or false')
    clock = model.config.get_config_value('ClockPeriod') or DEFAULT_CLOCK_NS
    delay, kind = design_delay(design_components(design))
    if delay <= clock:
        return
    msg = (f'ClockPeriod {clock:g} ns ({1000 / clock:.0f} MHz) is shorter than the estimated worst path of '
           f'{design.project}, {delay:.2f} ns in a {kind} unit (Fmax about {1000 / delay:.0f} MHz); '
           f'use ClockPeriod >= {delay:.2f}')  # fmt: skip
    if strict:
        raise UnsupportedError(msg + ' (Model StrictTiming is true)')
    warnings.warn(msg, TimingWarning, stacklevel=2)


def _design(model):
    design = getattr(model, '_vhdlspartan_design', None)
    if design is None:
        raise RuntimeError('Model not compiled: call compile() before predict()')
    return design


def _shape_like_hls4ml(design, x, y):
    """hls4ml's convention: one row per sample, flattened; a single sample gives one row."""
    x = np.asarray(x)
    if x.ndim == len(design.input_shape):
        return y[0]
    return y


def _trace(model, x):
    """hls4ml's trace convention: (prediction, {layer name: per-layer outputs})."""
    design = _design(model)
    q_out, traced = design.run(design.quantize_input(x), trace=True)
    return _shape_like_hls4ml(design, x, design.output.type.to_float(q_out)), traced
