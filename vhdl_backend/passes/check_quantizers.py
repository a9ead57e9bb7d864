"""Refuse QKeras quantizers the integer hardware cannot follow, before hls4ml rewrites them.

Runs before hls4ml's ``qkeras_factorize_alpha``, which would turn a non-power-of-2 alpha
into a rounded scaling layer and so silently break bit-exactness with QKeras.
"""

from hls4ml.model.optimizer import OptimizerPass

from ...errors import UnsupportedError

# weight and bias quantizers: hls4ml stores each one's exact values (units/weights.py reads them)
QUANTIZERS_SUPPORTED = ('quantized_bits', 'quantized_po2', 'ternary', 'binary')
ALPHAS_SUPPORTED = (None, 1, 1.0, 'auto_po2')


class CheckQuantizers(OptimizerPass):
    def match(self, node):
        attrs = ('weight_quantizer', 'depthwise_quantizer', 'pointwise_quantizer', 'bias_quantizer', 'activation_quantizer')
        return any(node.get_attr(a) is not None for a in attrs)

    def transform(self, model, node):
        check_quantizers(node)
        return False


def check_quantizers(layer):
    what = f'layer {layer.name!r} ({layer.class_name})'
    for attr in ('weight_quantizer', 'depthwise_quantizer', 'pointwise_quantizer', 'bias_quantizer'):
        quantizer = layer.get_attr(attr)
        if quantizer is None or not hasattr(quantizer, 'qkeras_config'):
            continue
        cls_name = quantizer.qkeras_config['class_name']
        if cls_name not in QUANTIZERS_SUPPORTED:
            raise UnsupportedError(f'{what}: {attr} {cls_name} is not supported; supported: {QUANTIZERS_SUPPORTED}')
        cfg = quantizer.qkeras_config.get('config', {})
        alpha = getattr(quantizer, 'alpha', None)  # hls4ml's po2 wrapper has none (quantized_po2 takes no alpha)
        if cls_name == 'binary' and cfg.get('use_01'):
            raise UnsupportedError(f'{what}: {attr} binary(use_01=True) is not supported (hls4ml stores binary '
                                   'weights as signs); use binary() for -1/+1')  # fmt: skip
        if alpha not in ALPHAS_SUPPORTED:
            raise UnsupportedError(
                f'{what}: {attr} {cls_name} with alpha={alpha!r} is not supported: the hardware scales by powers of '
                f'2 only; use alpha in {ALPHAS_SUPPORTED}'
            )
    aq = layer.get_attr('activation_quantizer')
    if isinstance(aq, dict) and aq.get('class_name') == 'quantized_relu':
        cfg = aq.get('config', {})
        if cfg.get('negative_slope', 0) or cfg.get('relu_upper_bound') is not None or cfg.get('use_sigmoid', 0):
            raise UnsupportedError(
                f'{what}: quantized_relu with negative_slope, relu_upper_bound or use_sigmoid is not supported; '
                'supported: quantized_relu(bits, integer)'
            )
