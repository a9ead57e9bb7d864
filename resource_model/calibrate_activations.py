"""Calibrate the resource and timing model of vs_table_map and vs_pwl (table and piecewise-linear
activations) from a handful of small synthesized designs (the random sweep of calibrate.py draws
no such activation).

    python -m vhdlspartan.resource_model.calibrate_activations   # synthesize, append, refit these two kinds only

Each design is a chain of LeakyReLU, PReLU, ELU, tanh, sigmoid and hard_sigmoid (random element
count, alphas, TableSize and result precisions), then QKeras quantized_tanh(use_real_tanh) and
quantized_sigmoid on a quantized input: four vs_table_map and four vs_pwl instances. Only their
records are appended to calibration_records.jsonl (seeds 38000+, below the sweep's, so that
`calibrate --heldout` keeps picking the sweep's newest); then only the 'vs_table_map' and
'vs_pwl' entries of coefficients.json (coefficients and '_timing') are refitted from every
current record of these kinds. The read-modify-write of both files holds /tmp/resource_model.lock.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .calibrate_kinds import calibrate, synth_kind_records

KINDS = ('vs_table_map', 'vs_pwl')
SEED0 = 38000
DESIGNS = 5
FLOAT_LAYERS = ('leaky', 'prelu', 'elu', 'tanh', 'sig', 'hsig')


def activation_model(seed: int):
    """(model, hls4ml config) of calibration design `seed`."""
    import hls4ml
    import numpy as np
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits, quantized_sigmoid, quantized_tanh

    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 17))
    L = tf.keras.layers
    x = tf.keras.Input((n,), name='x')
    h = QActivation(quantized_bits(8, 2), name='q_in')(x)
    h = L.LeakyReLU(float(rng.uniform(0.01, 0.4)), name='leaky')(h)
    h = L.PReLU(name='prelu')(h)
    h = L.ELU(float(rng.uniform(0.3, 1.5)), name='elu')(h)
    h = L.Activation('tanh', name='tanh')(h)
    h = L.Activation('sigmoid', name='sig')(h)
    h = L.Activation('hard_sigmoid', name='hsig')(h)
    h = QActivation(quantized_bits(int(rng.integers(6, 11)), 2), name='q_mid')(h)
    h = QActivation(quantized_tanh(int(rng.integers(4, 9)), use_real_tanh=True), name='rtanh')(h)
    h = QActivation(quantized_sigmoid(int(rng.integers(4, 9)), symmetric=bool(rng.integers(2))), name='qsig')(h)
    model = tf.keras.Model(x, h)
    model.get_layer('prelu').set_weights([rng.uniform(-0.6, 0.6, size=n)])
    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['x']['Precision']['result'] = 'fixed<8,3,RND_CONV,SAT>'
    for name in FLOAT_LAYERS:
        w = int(rng.integers(6, 19))
        i = int(rng.integers(2, min(w, 7)))
        rnd, sat = ('RND', 'TRN')[int(rng.integers(2))], ('SAT', 'WRAP')[int(rng.integers(2))]
        cfg['LayerName'][name]['Precision']['result'] = f'fixed<{w},{i},{rnd},{sat}>'
        if name in ('elu', 'tanh', 'sig'):
            cfg['LayerName'][name]['TableSize'] = int(2 ** rng.integers(6, 12))
    return model, cfg


def synth_activation_design(k: int, out_root: str) -> dict:
    """Design k synthesized: its vs_table_map and vs_pwl records."""
    model, cfg = activation_model(SEED0 + k)
    return synth_kind_records(model, cfg, Path(out_root) / f'act{k}', SEED0 + k, KINDS)


def main(argv=None):
    calibrate(synth_activation_design, int(argv[0]) if argv else DESIGNS, KINDS)


if __name__ == '__main__':
    main(sys.argv[1:])
