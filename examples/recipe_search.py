"""Choose the forecaster's defaults by validation loss (never the test split): every readout /
skip option of ts_transformer, and the learning rate and batch size of the recipe, trained with
train_forecaster's recipe at the given sizes. Prints a markdown table of validation RMSE next to
the validation RMSE of persistence and the linear AR model (examples/README.md shows its output).

    python examples/recipe_search.py --sizes weather:6:16,weather:24:16,electricity:12:8
    python examples/recipe_search.py --options flatten/linear --lrs 1e-3,3e-3 --batch-sizes 32,64
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, str(Path(__file__).parent))

OPTIONS = 'pool/none,pool/linear,pool/last,flatten/none,flatten/linear'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', default='weather:6:16,weather:24:16,electricity:12:8',
                    help='series:window:d_model, comma separated')
    ap.add_argument('--options', default=OPTIONS, help='readout/skip pairs')
    ap.add_argument('--lrs', default='1e-3')
    ap.add_argument('--batch-sizes', default='32')
    ap.add_argument('--epochs', type=int, default=60)
    ap.add_argument('--limit', type=int, default=1500)
    args = ap.parse_args(argv)

    from train_forecaster import build, fit, load_data, parse

    from vhdlspartan.datasets import baselines

    rows = []
    for size in args.sizes.split(','):
        series, window, d = size.split(':')
        for option in args.options.split(','):
            readout, skip = option.split('/')
            for lr in args.lrs.split(','):
                for bs in args.batch_sizes.split(','):
                    import tensorflow as tf

                    a = parse(['--series', series, '--window', window, '--d-model', d, '--readout', readout,
                               '--skip', skip, '--lr', lr, '--batch-size', bs, '--epochs', str(args.epochs),
                               '--limit', str(args.limit)])  # fmt: skip
                    data = load_data(a)
                    tf.keras.utils.set_random_seed(a.seed)
                    tf.config.experimental.enable_op_determinism()
                    t0 = time.time()
                    model = build(a, data)
                    epochs = fit(model, data, a)
                    val = data.scaled_rmse(model.predict(data.x_val, verbose=0), 'val')
                    base = baselines(data, 'val')
                    rows.append((series, window, d, readout, skip, lr, bs, epochs, val, base))
                    print(f'{series} w{window} d{d} {readout}/{skip} lr {lr} batch {bs}: validation RMSE {val:.4f} '
                          f'(persistence {base["persistence"]:.4f}, linear AR {base["linear"]:.4f}), {epochs} epochs, '
                          f'{time.time() - t0:.0f} s', flush=True)  # fmt: skip
    print('\n| series | window | d_model | readout | skip | lr | batch | epochs | val RMSE | val persistence | val linear AR | '
          'vs persistence | vs linear |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for series, window, d, readout, skip, lr, bs, epochs, val, base in rows:
        print(f'| {series} | {window} | {d} | {readout} | {skip} | {lr} | {bs} | {epochs} | {val:.4f} | '
              f'{base["persistence"]:.4f} | {base["linear"]:.4f} | {val / base["persistence"]:.3f} | '
              f'{val / base["linear"]:.3f} |')  # fmt: skip


if __name__ == '__main__':
    main()
