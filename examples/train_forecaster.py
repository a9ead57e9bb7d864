"""Train the integer-only Transformer forecaster (vhdlspartan.models.ts_transformer) with
quantization-aware training on a shipped series or any CSV, and save it for the tuner / hls4ml.

    python examples/train_forecaster.py --series electricity --window 12 --d-model 16 --bits 8 --out forecaster.h5
    python examples/train_forecaster.py --csv my.csv --columns load,temp --target load --window 24

The recipe (chosen by validation loss, see examples/README.md): a linear skip started at the
least squares fit of the window, the encoder read out through a flattened Dense, Adam with the
rate halved when the validation loss stalls, early stopping on the validation split (the best
epoch's weights kept). Deterministic for a seed. Prints the test RMSE (scaled units: the series
mapped to [-1, 1] over its training split) next to persistence, seasonal naive (shipped series)
and the linear AR model, and the ratios to them.
"""

import argparse
import os
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

READOUTS = ('pool', 'flatten')
SKIPS = ('none', 'linear', 'last')


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_argument_group('data: a shipped series, or any CSV of numeric columns (rows in time order)')
    src.add_argument('--series', default='electricity', choices=('electricity', 'weather'))
    src.add_argument('--csv', help='a CSV file with a header row; replaces --series')
    src.add_argument('--columns', help='input columns of the CSV, comma separated (default: the target alone)')
    src.add_argument('--target', help='the column to forecast (one of --columns)')
    ap.add_argument('--window', type=int, default=12, help='past time steps per input')
    ap.add_argument('--d-model', type=int, default=16)
    ap.add_argument('--heads', type=int, default=1)
    ap.add_argument('--ffn', type=int, help='feed-forward width (default 4 * d_model)')
    ap.add_argument('--layers', type=int, default=1, help='encoder layers')
    ap.add_argument('--bits', type=int, default=8, help='one bitwidth for every tensor and weight')
    ap.add_argument('--norm', default='batch', choices=('batch', 'layer'))
    ap.add_argument('--readout', default='flatten', choices=READOUTS, help="'pool': the reference work's average")
    ap.add_argument('--skip', default='linear', choices=SKIPS, help='linear branch on the input window')
    ap.add_argument('--epochs', type=int, default=60, help='at most this many epochs (early stopping)')
    ap.add_argument('--patience', type=int, default=8, help='epochs without a better validation loss before stopping')
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--limit', type=int, help='use at most this many windows per split (quick runs)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='forecaster.h5', help='where to save the trained model (HDF5)')
    return ap.parse_args(argv)


def load_data(args):
    from vhdlspartan.datasets import windows
    from vhdlspartan.errors import UnsupportedError

    if args.csv is None:
        if args.columns or args.target:
            raise UnsupportedError('--columns and --target need --csv (the shipped series have theirs)')
        return windows(args.series, args.window, limit=args.limit)
    if not args.target:
        raise UnsupportedError(f'--csv {args.csv}: give --target, the column to forecast')
    columns = [c.strip() for c in args.columns.split(',')] if args.columns else [args.target]
    return windows(path=args.csv, columns=columns, target=args.target, window=args.window, limit=args.limit)


def build(args, data):
    from vhdlspartan.models import ts_transformer
    from vhdlspartan.training import skip_integer

    skip = None if args.skip == 'none' else args.skip
    return ts_transformer(args.window, data.x_train.shape[2], args.d_model, args.heads, args.ffn or 4 * args.d_model,
                          args.layers, bits=args.bits, norm=args.norm, integer=2, input_integer=1,
                          readout=args.readout, skip=skip, skip_integer=skip_integer(data, skip),
                          target=data.columns.index(data.target))  # fmt: skip


def fit(model, data, args) -> int:
    """The recipe (vhdlspartan.training); returns the epochs run."""
    from vhdlspartan.training import fit_forecaster

    return fit_forecaster(model, data, args.epochs, args.patience, args.batch_size, args.lr)


def train(args):
    import numpy as np
    import tensorflow as tf

    from vhdlspartan.datasets import against_baselines, baselines

    data = load_data(args)
    tf.keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()
    model = build(args, data)
    t0 = time.time()
    epochs = fit(model, data, args)
    rmse = data.scaled_rmse(model.predict(data.x_test, verbose=0))
    val = data.scaled_rmse(model.predict(data.x_val, verbose=0), 'val')
    print(f'{model.name} (readout {args.readout}, skip {args.skip}): {model.count_params():,} parameters, '
          f'{epochs or "no epoch better than the start:"} epochs in {time.time() - t0:.0f} s; '
          f'validation RMSE {val:.4f}')  # fmt: skip
    print(f'test RMSE {against_baselines(rmse, baselines(data))}')
    from vhdlspartan.quiet import quiet_keras

    with quiet_keras():  # the known, harmless Keras/QKeras save warnings
        model.save(args.out)
    print(f'saved {args.out}')
    return model, data, float(np.float64(rmse))


if __name__ == '__main__':
    from vhdlspartan.errors import UnsupportedError

    try:
        train(parse())
    except UnsupportedError as e:
        raise SystemExit(f'error: {e}') from None
