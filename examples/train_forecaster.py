"""Train the integer-only Transformer forecaster (vhdlspartan.models.ts_transformer) with
quantization-aware training on a shipped series, and save it for the tuner / hls4ml.

    python examples/train_forecaster.py --series electricity --window 12 --d-model 16 --bits 8 \
        --epochs 8 --out forecaster.h5

Prints the test RMSE (in the scaled units: the series mapped to [-1, 1] over its training split).
"""

import argparse
import os
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--series', default='electricity', choices=('electricity', 'weather'))
    ap.add_argument('--window', type=int, default=12, help='past time steps per input')
    ap.add_argument('--d-model', type=int, default=16)
    ap.add_argument('--heads', type=int, default=1)
    ap.add_argument('--ffn', type=int, help='feed-forward width (default 4 * d_model)')
    ap.add_argument('--layers', type=int, default=1, help='encoder layers')
    ap.add_argument('--bits', type=int, default=8, help='one bitwidth for every tensor and weight')
    ap.add_argument('--norm', default='batch', choices=('batch', 'layer'))
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--limit', type=int, help='use at most this many windows per split (quick runs)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='forecaster.h5', help='where to save the trained model (HDF5)')
    return ap.parse_args(argv)


def train(args):
    import numpy as np
    import tensorflow as tf

    from vhdlspartan.datasets import windows
    from vhdlspartan.models import ts_transformer

    data = windows(args.series, args.window, limit=args.limit)
    tf.keras.utils.set_random_seed(args.seed)
    model = ts_transformer(args.window, data.x_train.shape[2], args.d_model, args.heads, args.ffn or 4 * args.d_model,
                           args.layers, bits=args.bits, norm=args.norm, integer=2)  # fmt: skip
    model.compile(optimizer=tf.keras.optimizers.Adam(args.lr), loss='mse')
    t0 = time.time()
    model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=args.epochs,
              batch_size=args.batch_size, verbose=0)  # fmt: skip
    rmse = data.scaled_rmse(model.predict(data.x_test, verbose=0))
    naive = data.scaled_rmse(data.x_test[:, -1, data.columns.index(data.target)])  # tomorrow = today
    print(f'{model.name}: {model.count_params():,} parameters, {args.epochs} epochs in {time.time() - t0:.0f} s; '
          f'test RMSE {rmse:.4f} (persistence forecast {naive:.4f})')  # fmt: skip
    from vhdlspartan.quiet import quiet_keras

    with quiet_keras():  # the known, harmless Keras/QKeras save warnings
        model.save(args.out)
    print(f'saved {args.out}')
    return model, data, float(np.float64(rmse))


if __name__ == '__main__':
    train(parse())
