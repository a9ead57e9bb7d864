"""Main demo: train a small QKeras forecaster on real data, convert it with the VHDLSpartan
backend, check the VHDL bit for bit in GHDL, synthesize it with Yosys, print a report.

Run with `make demo` (about 2 minutes on 2 cores). Output project: demo_out/.
"""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, str(Path(__file__).parent))

import hls4ml  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from forecast_data import windows  # noqa: E402
from qkeras import QActivation, QDense, quantized_bits, quantized_relu  # noqa: E402

WINDOW, OUT = 12, Path('demo_out')


def build_model():
    q = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1))
    x_in = tf.keras.Input((WINDOW, 1), name='window')
    h = QActivation(quantized_bits(8, 0), name='q_in')(x_in)
    h = QDense(8, **q, name='embed')(h)  # per time step
    h = QActivation(quantized_relu(6, 2), name='embed_relu')(h)
    h = tf.keras.layers.Flatten(name='flatten')(h)
    h = QDense(16, **q, name='hidden')(h)
    h = QActivation(quantized_relu(6, 2), name='hidden_relu')(h)
    h = QDense(1, **q, name='head')(h)
    y = QActivation(quantized_bits(10, 1), name='forecast')(h)
    return tf.keras.Model(x_in, y)


def main():
    tf.keras.utils.set_random_seed(0)
    (x_tr, y_tr), (x_te, y_te) = windows(WINDOW)
    model = build_model()
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss='mse')
    t0 = time.time()
    model.fit(x_tr, y_tr, epochs=4, batch_size=64, verbose=0)
    print(f'trained 4 epochs in {time.time() - t0:.1f} s; test RMSE (Keras, quantized) '
          f'{np.sqrt(np.mean((model.predict(x_te, verbose=0) - y_te) ** 2)):.4f}')

    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='VHDLSpartan')
    cfg['LayerName']['window']['Precision']['result'] = 'fixed<8,1,RND_CONV,SAT>'  # what q_in computes
    cfg['Model'].update({'Lanes': 4, 'DSPLanes': 4})
    t0 = time.time()
    hm = hls4ml.converters.convert_from_keras_model(
        model, hls_config=cfg, backend='VHDLSpartan', output_dir=str(OUT), part='xc7s15ftgb196-2', clock_period=10
    )
    hm.compile()
    print(f'converted and wrote {OUT}/ in {time.time() - t0:.1f} s')

    y_keras = model.predict(x_te, verbose=0).reshape(-1)
    y_hls = hm.predict(x_te).reshape(-1)
    print(f'predict == Keras on {np.sum(y_hls == y_keras)}/{len(y_hls)} test windows; '
          f'RMSE {np.sqrt(np.mean((y_hls - y_te.reshape(-1)) ** 2)):.4f}')

    sim = hm.build(sim=True, x=x_te[:200])['sim']
    print(f'GHDL: {sim["samples"]} windows, bit-exact: {sim["bit_exact"]} ({sim["mismatches"]} mismatches), '
          f'{sim["cycles"]} cycles per inference (model: {sim["cycles_expected"]}) = '
          f'{sim["cycles"] * 10 / 1000:.2f} us at 100 MHz')
    t0 = time.time()
    syn = hm.build(synth=True)['synth']
    print(f'Yosys synth_xilinx ({time.time() - t0:.0f} s): LUT {syn["LUT"]} (of which LUTRAM {syn["LUTRAM"]}), '
          f'FF {syn["FF"]}, BRAM18 {syn["BRAM18"]}, DSP {syn["DSP"]}, CARRY4 {syn["CARRY4"]}, latches {syn["latches"]}')
    est = syn['estimate']
    print(f'resource model estimate: LUT {est["LUT"]:.0f} ({syn["estimate_error"]["LUT"]:+.1%}), '
          f'FF {est["FF"]:.0f} ({syn["estimate_error"]["FF"]:+.1%}), BRAM18 {est["BRAM18"]:.0f}, DSP {est["DSP"]:.0f}')
    print(f'XC7S15 use: LUT {syn["LUT"] / 8000:.1%}, DSP {syn["DSP"] / 20:.0%}, BRAM18 {syn["BRAM18"] / 20:.0%}')
    print(f'project: {OUT}/vhdl (VHDL), {OUT}/tb (testbench), {OUT}/synth (logs), {OUT}/vivado (Tcl + XDC)')
    return 0 if sim['bit_exact'] and syn['latches'] == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
