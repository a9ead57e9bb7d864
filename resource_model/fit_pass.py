"""The tuner's no-training path as an hls4ml optimizer pass (`vhdlspartan:fit_to_part`).

Enabled by the model-level config key `FitToPart` (true, or a mapping with `margin`,
`latency_cycles`, `lanes`, `dsp_share`, `min_weight_bits`). On a converted model it chooses
engine lanes, the DSP share of the lanes and `Storage: auto` so that the design fits the part
with the fewest cycles; when even one lane does not fit it narrows Dense weights one bit at a
time (the layer whose weights take the most bits first, down to `min_weight_bits`), which is
post-training quantization: the weights round to the coarser grid. What it chose is written
back into the config (`Lanes`, `DSPLanes`, each changed layer's weight Precision) and kept in
`model.config.config['FitToPart']['result']`. Nothing fits: a clear error naming the binding
resource and the smallest design's needs.
"""

from __future__ import annotations

import math

from ..errors import UnsupportedError
from .estimate import estimate_guard
from .tuning.tuner import DEFAULT_DSP_SHARE, DEFAULT_LANES, check_margin

OPTIONS = {'margin', 'latency_cycles', 'lanes', 'dsp_share', 'min_weight_bits'}


def fit_options(model) -> dict | None:
    raw = model.config.config.get('HLSConfig', {}).get('Model', {}).get('FitToPart')
    if not raw:
        return None
    opts = {} if raw is True else raw
    if not isinstance(opts, dict) or set(opts) - OPTIONS:
        bad = sorted(set(opts) - OPTIONS) if isinstance(opts, dict) else opts
        raise UnsupportedError(f'Model FitToPart: {bad!r} is not valid; use true or a mapping with keys {sorted(OPTIONS)}')
    margin = check_margin(float(opts.get('margin', 0.0)), 'Model FitToPart margin')
    return {'margin': margin, 'latency_cycles': opts.get('latency_cycles'),
            'lanes': tuple(sorted(int(n) for n in opts.get('lanes', DEFAULT_LANES))),
            'dsp_share': tuple(float(s) for s in opts.get('dsp_share', DEFAULT_DSP_SHARE)),
            'min_weight_bits': int(opts.get('min_weight_bits', 4))}  # fmt: skip


def _measure(model, part, lanes, dsp_lanes):
    """The estimate of the model lowered with these lanes (set in its config)."""
    from ..vhdl_backend.design import lower
    from .estimate import estimate_design

    model.config.config['HLSConfig'].setdefault('Model', {}).update(Lanes=lanes, DSPLanes=dsp_lanes)
    return estimate_design(lower(model), part)


def _best_lanes(model, part, opts):
    """(cycles, lanes, dsp_lanes, estimate) of the fastest fitting lane choice, or None."""
    best = None
    limit = opts['latency_cycles'] or math.inf
    for lanes in opts['lanes']:
        for share in opts['dsp_share']:
            dsp = round(share * lanes)
            est = _measure(model, part, lanes, dsp)
            if est.fits_within(opts['margin'], estimate_guard()) and est.cycles <= limit and (best is None or (est.cycles, est.total['LUT']) < best[0]):
                best = ((est.cycles, est.total['LUT']), lanes, dsp, est)
    return best


def _dense_weights(model):
    """[(bits of all weights, layer, weight variable)] of layers with a weight matrix, largest first."""
    out = []
    for layer in model.get_layers():
        w = layer.weights.get('weight') if hasattr(layer, 'weights') else None
        if w is not None and hasattr(w.type.precision, 'width') and w.data.size > 1:
            out.append((w.data.size * w.type.precision.width, layer, w))
    return sorted(out, key=lambda t: -t[0])


def _narrow(w) -> None:
    """One bit less for a weight variable, keeping its integer bits (the caller keeps min_weight_bits)."""
    from hls4ml.model.types import FixedPrecisionType

    p = w.type.precision
    w.type.precision = FixedPrecisionType(p.width - 1, min(p.integer, p.width - 1), p.signed, p.rounding_mode,
                                          p.saturation_mode)  # fmt: skip


def fit_to_part(model) -> bool:
    opts = fit_options(model)
    if opts is None:
        return False
    part = model.config.get_config_value('Part') or 'xc7s15'
    saved = dict(model.config.config['HLSConfig'].get('Model', {}))
    narrowed = {}
    best = _best_lanes(model, part, opts)
    while best is None:
        candidates = [(bits, layer, w) for bits, layer, w in _dense_weights(model)
                      if w.type.precision.width > opts['min_weight_bits']]  # fmt: skip
        if not candidates:
            est = _measure(model, part, min(opts['lanes']), 0)
            model.config.config['HLSConfig']['Model'] = saved
            raise UnsupportedError(f'FitToPart: nothing fits {part} with margin {opts["margin"]:.0%}: the smallest '
                                   f'design ({min(opts["lanes"])} lane, weights at {opts["min_weight_bits"]} bits) '
                                   f'needs {est.needs()}; binding resource {est.binding}')  # fmt: skip
        _, layer, w = candidates[0]
        _narrow(w)
        narrowed[layer.name] = w.type.precision.width
        best = _best_lanes(model, part, opts)
    _, lanes, dsp, est = best
    model_cfg = model.config.config['HLSConfig']['Model']
    model_cfg.update(Lanes=lanes, DSPLanes=dsp)
    for name, width in narrowed.items():
        layer_cfg = model.config.config['HLSConfig'].setdefault('LayerName', {}).setdefault(name, {})
        layer_cfg.setdefault('Precision', {})['weight'] = str(model.graph[name].weights['weight'].type.precision)
    model.config.config['FitToPart'] = {'result': {'lanes': lanes, 'dsp_lanes': dsp, 'weight_bits': narrowed,
                                                   'cycles': est.cycles, 'estimate': dict(est.total),
                                                   'binding': est.binding}}  # fmt: skip
    return False
