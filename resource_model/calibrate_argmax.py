"""Calibrate the resource and timing model of one component kind, vs_argmax, from a handful of
small synthesized designs (the random sweep of calibrate.py draws none: its models have no
softmax layer of hls4ml's own).

    python -m vhdlspartan.resource_model.calibrate_argmax   # synthesize, append, refit vs_argmax only

Each design (QDense -> softmax with Implementation argmax, rows, classes and widths varied) is
converted and synthesized like a sweep design; only its vs_argmax record is appended to
calibration_records.jsonl (seeds 39000+, below the sweep's, so that `calibrate --heldout` keeps
picking the sweep's newest). Then only the 'vs_argmax' entries of coefficients.json (its
coefficients and its '_timing' figure) are refitted from every current vs_argmax record; every
other entry is left as it is. The read-modify-write of both files holds /tmp/resource_model.lock.
"""

from __future__ import annotations

from pathlib import Path

from .calibrate_kinds import calibrate, synth_kind_records

KIND = 'vs_argmax'
SEED0 = 39000
# (time steps (1: 2-D), classes, Dense result precision, softmax result precision)
DESIGNS = (
    (1, 10, 'fixed<12,6,RND_CONV,SAT>', None),
    (1, 3, 'fixed<6,3,RND_CONV,SAT>', 'ufixed<8,1,RND_CONV,SAT>'),
    (1, 24, 'fixed<16,8,RND_CONV,SAT>', None),
    (4, 5, 'fixed<10,4,RND_CONV,SAT>', 'ufixed<2,1,RND_CONV,SAT>'),
    (6, 16, 'fixed<20,8,RND_CONV,SAT>', None),
    (1, 40, 'ufixed<9,4,RND_CONV,SAT>', 'fixed<4,2,RND_CONV,SAT>'),
)


def argmax_model(steps: int, classes: int, seed: int):
    import numpy as np
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    x = tf.keras.Input((steps, 4) if steps > 1 else (6,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    q = quantized_bits(6, 0, alpha=1)
    h = QDense(classes, kernel_quantizer=q, bias_quantizer=q, name='logits')(h)
    model = tf.keras.Model(x, tf.keras.layers.Activation('softmax', name='classify')(h))
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(size=w.shape) * 0.5 for w in layer.get_weights()])
    return model


def synth_argmax_design(k: int, out_root: str, spec: tuple | None = None) -> dict:
    """Design k of DESIGNS (or `spec`, a tuple like theirs) synthesized: its vs_argmax record."""
    import hls4ml

    steps, classes, logits_t, result_t = spec or DESIGNS[k]
    model = argmax_model(steps, classes, SEED0 + k)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = 'fixed<8,3,RND_CONV,SAT>'
    for name in ('logits', 'logits_linear'):  # hls4ml's linear activation after the QDense casts again
        cfg['LayerName'][name]['Precision']['result'] = logits_t
    cfg['LayerName']['classify']['Implementation'] = 'argmax'
    if result_t:
        cfg['LayerName']['classify']['Precision']['result'] = result_t
    return synth_kind_records(model, cfg, Path(out_root) / f'argmax{k}', SEED0 + k, (KIND,))


def main(argv=None):
    calibrate(synth_argmax_design, len(DESIGNS), (KIND,))


if __name__ == '__main__':
    main()
