"""The static schedule: a unit that streams what the unit before it writes starts a few cycles
after it, not after its last write. GHDL must stay bit-exact with cycles equal to the schedule,
and the overlaps must be tight: starting any kind of streaming unit one cycle earlier than the
schedule allows makes it read a word before it is written, which the simulation catches."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import grid_inputs
from ghdl_runner import needs_ghdl
from test_transformer import random_weights
from vhdlspartan.models import hls_config, ts_transformer

# Every kind of unit the schedule may start early, as a consumer (the kind it moves 1 cycle earlier).
STREAMING = ('ActivationUnit', 'AddUnit', 'BatchNormUnit', 'PositionalEncodingUnit', 'DenseUnit', 'GlobalAvgUnit')


def encoder(tmp_path, lanes=4):
    """A window-6 encoder whose input needs a cast (input integer bits 2), so that a Dense layer
    (the embedding) streams from an element-wise unit with the engine free."""
    import hls4ml

    tf.keras.utils.set_random_seed(3)
    model = random_weights(ts_transformer(6, 2, 8, 1, 16, 1, bits=6, norm='batch', integer=2), seed=3)
    cfg = hls_config(model, lanes=lanes, integer=2)
    cfg['LayerName']['x']['Precision']['result'] = 'fixed<10,5>'  # wider than the model's input quantizer
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='VHDLSpartan',
                                                    output_dir=str(tmp_path / 'prj'), part='xc7s15ftgb196-2')  # fmt: skip
    hm.compile()
    return model, hm


def test_overlapping_units_shorten_the_schedule(tmp_path):
    _, hm = encoder(tmp_path)
    design = hm._vhdlspartan_design
    sched = design.schedule()
    kinds = {type(u).__name__ for k, u in enumerate(design.units) if not sched.chained[k] and k > 0}
    assert set(STREAMING) <= kinds, f'no early start for {set(STREAMING) - kinds}'
    assert design.cycles() < 0.9 * sum(u.cycles() for u in design.units)
    # the shared engine runs one product at a time, in order
    jobs = [(s, s + u.cycles()) for s, u in zip(sched.starts, design.units) if getattr(u, 'uses_engine', False)]
    assert all(end <= nxt for (_, end), (nxt, _) in zip(jobs, jobs[1:]))
    assert design.cycles() == max(s + u.cycles() for s, u in zip(sched.starts, design.units))


@needs_ghdl
@pytest.mark.parametrize('early', [None, *STREAMING])
def test_schedule_is_exact_and_tight_in_ghdl(tmp_path, monkeypatch, early):
    import vhdlspartan.vhdl_backend.schedule as schedule

    if early is not None:
        exact = schedule.earliest_start

        def one_cycle_early(producer, p_start, consumer, buf):
            start = exact(producer, p_start, consumer, buf)
            overlapped = start < p_start + producer.cycles()
            return start - 1 if overlapped and type(consumer).__name__ == early else start

        monkeypatch.setattr(schedule, 'earliest_start', one_cycle_early)
    model, hm = encoder(tmp_path)
    x = grid_inputs(hm, 12, seed=5)
    assert np.array_equal(np.asarray(hm.predict(x)).reshape(12, -1), np.asarray(model(x)).reshape(12, -1))
    sim = hm.build(sim=True, x=x)['sim']
    assert sim['cycles'] == sim['cycles_min'] == hm._vhdlspartan_design.cycles()
    if early is None:
        assert sim['bit_exact'], f'{sim["mismatches"]} outputs differ from the emulation'
    else:
        assert not sim['bit_exact'], f'{early} started a cycle early and still read only written words'
