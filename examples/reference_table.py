"""The reference work's experiment on our flow: ts_transformer on the weather series
(multivariate: 4 features -> next day's temp_max), window 6/12/24, d_model 16/32/64, one head,
FFN 4 * d_model. Prints markdown tables (used in examples/README.md):

1. every uniform 4/6/8-bit configuration: fits the XC7S15 or not (at 1 lane, the smallest
   engine), binding resource, test RMSE, and the fastest fitting lane count (and softmax
   dividers) with its cycles next to the model's MAC count;
2. for the sizes whose uniform 8-bit design does not fit, or not with 10x fewer cycles than
   MACs: the tuner's mixed-precision / storage / lanes result (asked for at most MACs / 10
   cycles; when that is out of reach, at most the cycles of the fastest fitting uniform design),
   its test RMSE against the uniform 8-bit model's, and against that model given the same
   fine-tuning as the tuner's candidates (so that the extra epochs are not what the tuner wins).

8-bit models are trained with quantization-aware training (vhdlspartan.training's recipe:
early stopping on the validation split); 6- and 4-bit models start from the 8-bit weights and
are fine-tuned, the same way the tuner fine-tunes its candidates. Every RMSE stands next to
persistence and the linear AR model on the same test split. `--readout pool --skip none` is
the reference work's model (the table before 2026-12-02).

    python examples/reference_table.py [--windows 6,12,24] [--d-models 16,32,64] [--bits 8,6,4]
"""

import argparse
import os
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

LANES = (1, 2, 4, 8, 12, 16)
DIVIDERS = (0, 8, 16)  # softmax dividers: 0 is the default, min(lanes, 4)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--windows', default='6,12,24')
    ap.add_argument('--d-models', default='16,32,64')
    ap.add_argument('--epochs', type=int, default=60, help='at most this many QAT epochs of the 8-bit models')
    ap.add_argument('--bits', default='8,6,4', help='uniform widths (8 first: the others start from it)')
    ap.add_argument('--readout', default='flatten', choices=('pool', 'flatten'))
    ap.add_argument('--skip', default='linear', choices=('none', 'linear', 'last'))
    ap.add_argument('--finetune-epochs', type=int, default=3)
    ap.add_argument('--trials', type=int, default=40, help='tuner trials per size that does not fit')
    ap.add_argument('--part', default='xc7s15')
    ap.add_argument('--skip-tuner', action='store_true', help='only train and tabulate the uniform designs')
    ap.add_argument('--models-dir', default='reference_models',
                    help='trained models are saved here and reused by later runs (delete to retrain)')
    args = ap.parse_args(argv)

    from pathlib import Path

    import tensorflow as tf

    from vhdlspartan import load_model
    from vhdlspartan.datasets import baselines, windows
    from vhdlspartan.training import fit_forecaster, skip_integer
    from vhdlspartan.models import ts_transformer
    from vhdlspartan.quiet import quiet_keras
    from vhdlspartan.resource_model.tuning.bits import quantized_layers, with_bits
    from vhdlspartan.resource_model.tuning.tuner import (Candidate, HardwareModel, TuneError, TuneSpace, default_groups,
                                                  mse, sensitivity, tune)
    from vhdlspartan.resource_model.tuning.tuner import finetune as tuner_finetune

    tf.config.experimental.enable_op_determinism()  # the same table from the same seeds

    uniform, tuned = [], []
    for window in [int(w) for w in args.windows.split(',')]:
        data = windows('weather', window)
        base = baselines(data)
        for d in [int(v) for v in args.d_models.split(',')]:
            t0 = time.time()
            store = Path(args.models_dir)
            store.mkdir(exist_ok=True)

            def cached(bits, train):
                path = store / f'weather_w{window}_d{d}_{args.readout}_{args.skip}_b{bits}.h5'
                if path.exists():
                    return load_model(path)
                m = train()
                with quiet_keras():
                    m.save(path)
                return m

            def train8():
                tf.keras.utils.set_random_seed(0)
                skip = None if args.skip == 'none' else args.skip
                m = ts_transformer(window, data.x_train.shape[2], d, 1, 4 * d, 1, bits=8, norm='batch', integer=2,
                                   input_integer=1, readout=args.readout, skip=skip,
                                   skip_integer=skip_integer(data, skip), target=data.columns.index(data.target))  # fmt: skip
                fit_forecaster(m, data, epochs=args.epochs)
                return m

            m8 = cached(8, train8)
            groups = default_groups(m8)
            hw = HardwareModel(m8, groups, args.part)
            rmse8 = None
            for bits in [int(b) for b in args.bits.split(',')]:
                def finetune(b=bits, pick_integer=False):
                    drop = {}
                    if pick_integer:  # the integer bits the tuner's sensitivity picks at this width
                        _, _, drops = sensitivity(m8, groups, (b,), data.x_val, data.y_val, drop_integer=(0, 1, 2))
                        drop = {layer: drops[g][b] for g, layers in groups.items() for layer in layers}
                    m = with_bits(m8, dict.fromkeys(quantized_layers(m8), b), drop)
                    m.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss='mse')
                    m.fit(data.x_train, data.y_train, epochs=args.finetune_epochs, batch_size=32, verbose=0)
                    return m

                m = m8 if bits == 8 else cached(bits, finetune)
                rmse = data.scaled_rmse(m.predict(data.x_test, verbose=0))
                rmse_drop = None if bits == 8 else data.scaled_rmse(
                    cached(f'{bits}i', lambda: finetune(pick_integer=True)).predict(data.x_test, verbose=0))
                rmse8 = rmse if bits == 8 else rmse8
                gb = dict.fromkeys(groups, bits)
                small = hw.cost(Candidate(gb, 1, 1, 'auto'))
                fastest = None
                for lanes in LANES:
                    for dsp in sorted({lanes, lanes // 2}, reverse=True):
                        for divs in DIVIDERS if lanes >= 8 else (0,):
                            cost = hw.cost(Candidate(gb, lanes, dsp, 'auto', divs))
                            if cost.fits and (fastest is None or cost.cycles < fastest[1].cycles):
                                fastest = (lanes, cost)
                uniform.append(dict(window=window, d=d, bits=bits, fits=small.fits, binding=small.binding, base=base,
                                    util=max(small.utilization.values()), rmse=rmse, rmse_drop=rmse_drop, macs=small.macs,
                                    lanes=fastest[0] if fastest else None,
                                    cycles=fastest[1].cycles if fastest else None,
                                    lut=fastest[1].totals['LUT'] if fastest else small.totals['LUT']))  # fmt: skip
                print(f'window {window} d_model {d} {bits}-bit: fits {small.fits} ({small.binding} '
                      f'{max(small.utilization.values()):.0%}), RMSE {rmse:.4f}, fastest '
                      f'{fastest[0] if fastest else "-"} lanes ({time.time() - t0:.0f} s)', flush=True)  # fmt: skip
            u8 = next(u for u in uniform if (u['window'], u['d'], u['bits']) == (window, d, 8))
            if args.skip_tuner or (u8['fits'] and u8['cycles'] * 10 <= u8['macs']):
                continue  # uniform 8 bits fits and is 10x faster than its MACs: nothing to tune
            # the 8-bit model given the tuner's fine-tuning (epochs, batch, rate, best epoch by validation)
            m8ft = with_bits(m8, {})
            tuner_finetune(m8ft, data.x_train, data.y_train, data.x_val, data.y_val, args.finetune_epochs, 32, 1e-3, mse, 0)
            rmse8ft = data.scaled_rmse(m8ft.predict(data.x_test, verbose=0))
            try:
                xy = (data.x_train, data.y_train, data.x_val, data.y_val)

                def tune_dir(cycles):  # the tuned model and its hls4ml config; one study per latency target
                    return store / f'tuned_w{window}_d{d}_c{cycles}'

                kw = dict(part=args.part, space=TuneSpace(lanes=LANES, softmax_dividers=DIVIDERS), trials=args.trials,
                          finetune_top=3, finetune_epochs=args.finetune_epochs, batch_size=32, progress=False)
                try:
                    target = u8['macs'] // 10
                    r = tune(m8, xy, latency_cycles=target, out_dir=tune_dir(target), **kw)
                except TuneError as e:  # the target is out of reach, or no trial both fits and meets it
                    if e.kind not in ('latency', 'no_feasible_trial'):
                        raise
                    # as fast as the fastest fitting uniform design, else no target
                    target = min((u['cycles'] for u in uniform if (u['window'], u['d']) == (window, d) and u['cycles']),
                                 default=None)  # fmt: skip
                    print(f'  tuner: {e}; tuning for at most {target} cycles', flush=True)
                    r = tune(m8, xy, latency_cycles=target, out_dir=tune_dir(target), **kw)
                rmse = data.scaled_rmse(r.model.predict(data.x_test, verbose=0))
                tuned.append(dict(window=window, d=d, bits=r.bits, drop=r.integer_drop, lanes=r.candidate.lanes,
                                  divs=r.candidate.softmax_dividers or 'default',
                                  dsp=r.candidate.dsp_lanes, cost=r.cost, rmse=rmse, rmse8=rmse8,
                                  rmse8ft=rmse8ft, base=base))  # fmt: skip
                print(f'  tuned (in {r.files["config"].parent}): {r.bits} {r.candidate.lanes} lanes, '
                      f'RMSE {rmse:.4f} vs 8-bit {rmse8:.4f} (fine-tuned {rmse8ft:.4f}), '
                      f'{r.cost.cycles} cycles for {r.cost.macs} MACs ({time.time() - t0:.0f} s)', flush=True)  # fmt: skip
            except TuneError as e:
                tuned.append(dict(window=window, d=d, error=str(e), rmse8=rmse8, rmse8ft=rmse8ft))
                print(f'  tuner: {e}', flush=True)

    print(f'\nreadout {args.readout}, skip {args.skip}')
    print('\n| window | d_model | bits | fits at 1 lane | binding (use) | test RMSE | persistence | linear AR | vs persistence | vs linear AR | test RMSE, integer bits by sensitivity | MACs | fastest fitting lanes | cycles | MACs/cycle | LUT |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for u in uniform:
        ratio = f'{u["macs"] / u["cycles"]:.1f}' if u['cycles'] else '-'
        dropped = f'{u["rmse_drop"]:.4f}' if u['rmse_drop'] else '-'
        print(f'| {u["window"]} | {u["d"]} | {u["bits"]} | {"yes" if u["fits"] else "no"} | {u["binding"]} '
              f'({u["util"]:.0%}) | {u["rmse"]:.4f} | {u["base"]["persistence"]:.4f} | {u["base"]["linear"]:.4f} | '
              f'{u["rmse"] / u["base"]["persistence"]:.3f} | {u["rmse"] / u["base"]["linear"]:.3f} | {dropped} | '
              f'{u["macs"]:,} | {u["lanes"] or "-"} | '
              f'{u["cycles"] or "-"} | {ratio} | {u["lut"]:,} |')  # fmt: skip
    if tuned:
        print('\n| window | d_model | tuned bits (per group) | integer bits dropped | lanes (DSP), softmax dividers | LUT | BRAM18 | DSP | cycles | MACs | MACs/cycle | test RMSE | persistence | linear AR | 8-bit RMSE | ratio | 8-bit fine-tuned RMSE | ratio |')
        print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
        for t in tuned:
            if 'error' in t:
                print(f'| {t["window"]} | {t["d"]} | {t["error"]} |')
                continue
            c = t['cost']
            bits = ' '.join(f'{g}:{b}' for g, b in t['bits'].items())
            drop = ' '.join(f'{g}:{k}' for g, k in t['drop'].items() if k) or 'none'
            print(f'| {t["window"]} | {t["d"]} | {bits} | {drop} | {t["lanes"]} ({t["dsp"]}), {t["divs"]} | {c.totals["LUT"]:,} | '
                  f'{c.totals["BRAM18"]} | {c.totals["DSP"]} | {c.cycles:,} | {c.macs:,} | {c.macs / c.cycles:.1f} | '
                  f'{t["rmse"]:.4f} | {t["base"]["persistence"]:.4f} | {t["base"]["linear"]:.4f} | '
                  f'{t["rmse8"]:.4f} | {t["rmse"] / t["rmse8"]:.3f} | {t["rmse8ft"]:.4f} | '
                  f'{t["rmse"] / t["rmse8ft"]:.3f} |')  # fmt: skip


if __name__ == '__main__':
    main()
