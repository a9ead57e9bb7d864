"""Calibrate the resource and timing model of vs_merge, vs_pool and vs_gather from a handful of small
synthesized designs (the random sweep of calibrate.py draws none of them).

    python -m vhdlspartan.resource_model.calibrate_merge_pool   # synthesize, append, refit these kinds only

Each design (two per-step QDense branches, every merge op, max/average/global max pooling,
Concatenate, UpSampling1D, ZeroPadding1D; widths varied) is converted and synthesized like a sweep design; only its vs_merge, vs_pool and
vs_gather records are appended to calibration_records.jsonl (seeds 39100+). Then only the 'vs_merge',
'vs_pool' and 'vs_gather' entries of coefficients.json (and their '_timing' figures) are refitted from every
current record of theirs. The read-modify-write of both files holds /tmp/resource_model.lock.
"""

from __future__ import annotations

from pathlib import Path

from .calibrate_kinds import calibrate, synth_kind_records

KINDS = ('vs_merge', 'vs_pool', 'vs_gather')
SEED0 = 39100
# (time steps, features, branch a (bits, integer), branch b (bits, integer), merge result precision)
DESIGNS = (
    (8, 3, (6, 2), (5, 1), 'fixed<16,8,RND_CONV,SAT>'),
    (16, 5, (8, 3), (4, 1), 'fixed<10,5,RND_CONV,SAT>'),
    (8, 2, (10, 4), (9, 3), 'fixed<20,10,TRN,WRAP>'),
)


def merge_pool_model(steps: int, feats: int, qa: tuple, qb: tuple, seed: int):
    import numpy as np
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    L = tf.keras.layers
    x = tf.keras.Input((steps, feats), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    qw = quantized_bits(6, 0, alpha=1)
    a = QActivation(quantized_bits(*qa), name='qa')(QDense(feats, kernel_quantizer=qw, bias_quantizer=qw, name='da')(h))
    b = QActivation(quantized_bits(*qb), name='qb')(QDense(feats, kernel_quantizer=qw, bias_quantizer=qw, name='db')(h))
    m = [getattr(L, c)(name=c.lower())([a, b]) for c in ('Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum')]
    m = [QActivation(quantized_bits(8, 3), name=f'm{k}_q')(t) for k, t in enumerate(m)]
    p1 = L.MaxPooling1D(2, name='mp')(m[0])
    p2 = L.AveragePooling1D(2, name='ap')(m[1])
    p3 = L.AveragePooling1D(4, strides=2, name='ap4')(m[2])
    g = [L.GlobalMaxPooling1D(name=f'g{k}')(t) for k, t in enumerate((p1, p2, p3, m[3], m[4]))]
    y = L.Add(name='s1')([L.Add(name='s0')([g[0], g[1]]), L.Add(name='s2')([g[2], L.Add(name='s3')([g[3], g[4]])])])
    moved = (L.Concatenate(name='cat_f')([a, b]), L.Concatenate(axis=1, name='cat_t')([p1, p2]),
             L.UpSampling1D(2, name='up')(p1), L.UpSampling1D(3, name='up3')(m[3]), L.ZeroPadding1D((1, 2), name='zp')(m[4]))
    gm = [L.GlobalMaxPooling1D(name=f'gm{k}')(t) for k, t in enumerate(moved)]
    y = L.Concatenate(name='cat_o')([L.Concatenate(name='cat_o1')([y, gm[0]]), L.Concatenate(name='cat_o2')(gm[1:3])])
    y = L.Concatenate(name='cat_o3')([y, L.Concatenate(name='cat_o4')(gm[3:])])
    model = tf.keras.Model(x, QActivation(quantized_bits(8, 3), name='out')(y))
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(size=w.shape) * 0.5 for w in layer.get_weights()])
    return model


def synth_design(k: int, out_root: str, spec: tuple | None = None) -> dict:
    """Design k of DESIGNS (or `spec`) synthesized: its vs_merge and vs_pool records."""
    import hls4ml

    steps, feats, qa, qb, merge_t = spec or DESIGNS[k]
    model = merge_pool_model(steps, feats, qa, qb, SEED0 + k)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = 'fixed<8,3,RND_CONV,SAT>'
    for name in ('subtract', 'multiply', 'average', 'maximum', 'minimum', 'ap', 'ap4'):
        cfg['LayerName'][name]['Precision']['result'] = merge_t
    return synth_kind_records(model, cfg, Path(out_root) / f'merge_pool{k}', SEED0 + k, KINDS)


def main(argv=None):
    calibrate(synth_design, len(DESIGNS), KINDS)


if __name__ == '__main__':
    main()
