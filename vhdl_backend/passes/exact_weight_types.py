"""Give power-of-2 and binary weights an exact fixed-point type before precision inference.

hls4ml keeps quantized_po2 weights (and po2 alpha scales) as ExponentPrecisionType and binary
kernels as XnorPrecisionType (0/1 meaning -1/+1). Its ``infer_precision_types`` cannot size a
Dense's result from those, so an 'auto' result falls back to the default precision and the sum is
truncated where QKeras computes it exactly. Run just before the inference, this pass stores such a
weight as an ordinary fixed-point weight: the narrowest fixed type that holds every value the
layer uses (units/weights.py), with -1/+1 data for binary. The inferred result is then exact.
"""

import numpy as np
from hls4ml.model.optimizer import OptimizerPass
from hls4ml.model.types import ExponentPrecisionType, FixedPrecisionType, WeightVariable, XnorPrecisionType

from ..units.weights import weight_codes

SPECIAL = (ExponentPrecisionType, XnorPrecisionType)
# weight variable name -> the layer attributes that may hold its quantizer (hls4ml sizes results from it)
QUANTIZER_ATTRS = {'weight': ('weight_quantizer', 'depthwise_quantizer'), 'bias': ('bias_quantizer',),
                   'scale': ('scale_quantizer',)}  # fmt: skip


class ExactWeightTypes(OptimizerPass):
    def match(self, node):
        return any(isinstance(v.type.precision, SPECIAL) for v in node.weights.values())

    def transform(self, model, node):
        for name, var in list(node.weights.items()):
            if not isinstance(var.type.precision, SPECIAL):
                continue
            w_type, codes = weight_codes(var, f'layer {node.name!r} ({node.class_name}) {name}')
            precision = FixedPrecisionType(w_type.width, w_type.integer, signed=True)
            data = (codes / 2.0**w_type.frac).reshape(np.shape(var.data))
            new = WeightVariable(var.name, var.type.name, precision, data, quantizer=var.quantizer)
            new.data_unquantized = getattr(var, 'data_unquantized', data)
            node.set_attr(name, new)
            for attr in QUANTIZER_ATTRS.get(name, ()):
                quantizer = node.get_attr(attr)
                if quantizer is not None and hasattr(quantizer, 'hls_type'):
                    quantizer.hls_type = precision  # what infer_precision_types reads for weight_t / bias_t
            if name in ('weight', 'bias') and f'{name}_t' in node.types:
                node.types[f'{name}_t'].precision = precision
        return False
