"""Board interfaces (Model Interface uart / spi / axis): configuration errors, the hardware id,
GHDL through the wrappers' pins (file-driven testbenches, vhdl_backend/pin_sim.py), every
malformed command of the byte protocol, a reset mid-frame, the host driver through the simulated
transport, and the wrappers' synthesis (cost against the estimate, timing budget)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import convert, grid_inputs, mlp_model, timeseries_model
from ghdl_runner import needs_ghdl
from vhdlspartan.errors import UnsupportedError
from vhdlspartan.vhdl_backend import interfaces as itf
from vhdlspartan.vhdl_backend import pin_sim

FAST_UART = {'Interface': 'uart', 'BaudRate': 12_500_000}  # 8 clock cycles a bit at 100 MHz
FASTEST_UART = {'Interface': 'uart', 'BaudRate': 25_000_000}  # 4 cycles a bit: bytes shorter than an inference
CONFIGS = {'uart': FAST_UART, 'spi': {'Interface': 'spi'}, 'axis': {'Interface': 'axis'}}


@pytest.fixture(scope='module')
def small_models():
    return {'mlp': mlp_model(), 'timeseries': timeseries_model()}


# -- configuration ------------------------------------------------------------------------
@pytest.mark.parametrize('cfg, words', [
    ({'Interface': 'usb'}, ["Interface 'usb'", 'memory, uart, spi, axis']),
    ({'Interface': 3}, ['Interface 3', 'memory, uart, spi, axis']),
    ({'Interface': 'uart', 'BaudRate': 60_000_000}, ['BaudRate 60000000', 'cycles a bit']),
    ({'Interface': 'uart', 'BaudRate': 22_222_222}, ['BaudRate 22222222', '% off']),
    ({'Interface': 'uart', 'BaudRate': 'fast'}, ["BaudRate 'fast'"]),
    ({'Interface': 'spi', 'BaudRate': 9600}, ['BaudRate', 'only used with Interface uart']),
    ({'BoardConstraints': 'board.xdc'}, ['BoardConstraints', 'Interface uart, spi or axis']),
])  # fmt: skip
def test_bad_interface_config_is_refused_before_writing(small_models, tmp_path, cfg, words):
    with pytest.raises(UnsupportedError) as e:
        convert(small_models['mlp'], tmp_path, **cfg)
    for w in words:
        assert w in str(e.value)
    assert not (tmp_path / 'prj').exists()


def test_memory_interface_writes_the_same_files_as_before(small_models, tmp_path):
    """Interface memory is the default and adds nothing: no wrapper, no interface.json."""

    def files(root):
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob('*')) if p.is_file()}

    a = convert(small_models['mlp'], tmp_path / 'a')
    b = convert(small_models['mlp'], tmp_path / 'b', Interface='memory')
    a.write()
    b.write()
    fa, fb = files(tmp_path / 'a' / 'prj'), files(tmp_path / 'b' / 'prj')
    assert fa == fb
    assert 'interface.json' not in fa and not any('vs_byte_proto' in p or 'link' in p for p in fa)


def test_wrapper_files_are_deterministic_and_the_id_hashes_the_vhdl(small_models, tmp_path):
    a = convert(small_models['mlp'], tmp_path / 'a', **FAST_UART)
    b = convert(small_models['mlp'], tmp_path / 'b', **FAST_UART)
    c = convert(small_models['mlp'], tmp_path / 'c', lanes=2, **FAST_UART)
    for hm in (a, b, c):
        hm.write()
    root = tmp_path / 'a' / 'prj'
    vhdl = sorted(p.relative_to(root).as_posix() for p in root.rglob('*.vhd'))
    assert vhdl == sorted(p.relative_to(tmp_path / 'b' / 'prj').as_posix() for p in (tmp_path / 'b' / 'prj').rglob('*.vhd'))
    for rel in vhdl + ['interface.json', 'vhdl/compile_order.txt', 'vivado/build.tcl']:
        assert (root / rel).read_bytes() == (tmp_path / 'b' / 'prj' / rel).read_bytes(), rel
    spec = json.loads((root / 'interface.json').read_text())
    # the id: SHA-256 over the project's VHDL with the wrapper's id constant zeroed
    files = {rel: (root / rel).read_text() for rel in vhdl if rel.startswith('vhdl/')}
    wrapper = 'vhdl/myproject_uart.vhd'
    assert f'x"{spec["hardware_id"][2:].upper()}"' in files[wrapper]
    files[wrapper] = files[wrapper].replace(f'x"{spec["hardware_id"][2:].upper()}"', itf.ID_PLACEHOLDER)
    assert int(spec['hardware_id'], 16) == itf.hardware_id(files)
    other = json.loads((tmp_path / 'c' / 'prj' / 'interface.json').read_text())['hardware_id']
    assert other != spec['hardware_id']  # another design, another id
    order = (root / 'vhdl' / 'compile_order.txt').read_text().split()
    assert order[-3:] == ['vhdl/vs_byte_proto.vhd', 'vhdl/vs_uart_link.vhd', wrapper]
    tcl = (root / 'vivado' / 'build.tcl').read_text()
    assert 'synth_design -top myproject_uart' in tcl and 'read_vhdl -vhdl2008 ../vhdl/myproject_uart.vhd' in tcl


# -- through the pins ------------------------------------------------------------------------
@needs_ghdl
@pytest.mark.parametrize('kind', ['uart', 'spi', 'axis'])
@pytest.mark.parametrize('name', ['mlp', 'timeseries'])
def test_bit_exact_through_the_pins(small_models, tmp_path, kind, name):
    hm = convert(small_models[name], tmp_path, **CONFIGS[kind])
    x = grid_inputs(hm, 3, seed=3)  # three inferences back to back, edge values first
    report = hm.build(sim=True, x=x)
    sim, design = report['sim'], hm._vhdlspartan_design
    assert sim['interface'] == kind and sim['samples'] == 3
    assert sim['bit_exact'] and sim['mismatches'] == 0, sim
    np.testing.assert_array_equal(sim['outputs'], hm.predict(x).reshape(3, -1))
    assert sim['hardware_id_read'] == report['hardware_id'] == sim['hardware_id'] and sim['hardware_id_ok']
    assert sim['analysis_messages'] == ''
    # the core computes for its scheduled cycles (busy covers start to done); bytes cost the rest
    assert sim['compute_cycles'] == sim['compute_cycles_min'] == design.cycles() + (2 if kind == 'axis' else 1)
    assert sim['transfer_cycles'] > 0
    if kind == 'axis':
        assert sim['tlast_and_padding_ok']
    else:
        assert sim['status_after_wait'] == [(2, 0)] and sim['read_state'] == [2]
        in_bytes = design.input.depth * itf.value_bytes(design.input.type)
        per_byte = 10 * 8 if kind == 'uart' else 2 * pin_sim.SPI_HALF * 8
        assert sim['transfer_cycles'] >= (in_bytes + 3) * per_byte


@needs_ghdl
def test_axis_heavy_back_pressure_on_both_sides(small_models, tmp_path):
    """tvalid and tready low 6 cycles in 8, other seeds: no beat lost or repeated."""
    hm = convert(small_models['timeseries'], tmp_path, Interface='axis')
    hm.write()
    design = hm._vhdlspartan_design
    prj = tmp_path / 'prj'
    link = itf.Link('axis')
    q = grid_inputs(hm, 5, seed=9)
    q = design.quantize_input(q)
    run_dir = prj / 'sim' / 'stall'
    run_dir.mkdir(parents=True)
    pin_sim.prepare(prj, link, run_dir / 'work')
    np.savetxt(run_dir / 'input.txt', q, fmt='%d')
    for seed in (7, 1234):
        pin_sim.run(prj, link, run_dir / 'work', run_dir, {'SEED': seed, 'STALL': 6})
        rows = np.loadtxt(run_dir / 'output.txt', dtype=np.int64, ndmin=2)
        np.testing.assert_array_equal(rows[:, :-2], design.run(q)[0])
        assert rows[:, -1].all()  # tlast on each frame's last beat only, padding = sign
        assert rows[:, -2].min() > design.cycles() + design.input.depth  # the stalls did stall


class Session:
    """A uart/spi script with the answers it must get (pin_sim's script operations)."""

    def __init__(self, hm, kind):
        self.design, self.link = hm._vhdlspartan_design, itf.link_of(hm.config)
        self.kind, self.ops, self.expect = kind, [], []

    def send(self, *data):
        self.ops += pin_sim.send(self.link, list(data))

    def ask(self, data, n, expected, why):
        self.ops += pin_sim.query(self.link, list(data), n)
        self.expect.append((list(expected), why))

    def status(self, state, code, why):
        self.ask([itf.STATUS], 2, [state, code], why)

    def write(self, q, length=None, cut=None):
        frame = list(itf.pack(q, self.design.input.type))
        n = len(frame) if length is None else length
        body = [itf.WRITE, n & 0xFF, n >> 8, *(frame + [0] * max(0, n - len(frame)))[:n]]
        self.send(*(body if cut is None else body[:cut]))

    def wait(self, cycles=None):
        self.ops.append(('D', [cycles or self.design.cycles() + 16]))

    def read(self, q, why):
        o = self.design.output
        y = self.design.run(np.asarray(q).reshape(1, -1))[0][0]
        self.ask([itf.READ], 1 + o.depth * itf.value_bytes(o.type), [2, *itf.pack(y, o.type)], why)

    def infer(self, q, why):
        self.write(q)
        self.send(itf.START)
        self.wait()
        self.status(2, 0, why + ': done')
        self.read(q, why)

    def run(self, prj, tmp_path):
        work = tmp_path / 'work'
        pin_sim.prepare(prj, self.link, work)
        replies, busy = pin_sim.run_script(prj, self.link, self.ops, work, tmp_path / 'run')
        got = pin_sim.answers(self.ops, replies)
        assert len(got) == len(self.expect)
        for g, (e, why) in zip(got, self.expect):
            assert g == e, f'{why}: got {g}, expected {e}'
        return busy


@needs_ghdl
@pytest.mark.parametrize('kind, name', [('uart', 'mlp'), ('spi', 'timeseries')])
def test_every_malformed_command_gives_an_error_and_never_corrupts(small_models, tmp_path, kind, name):
    """The model's inference must outlast a START and a WRITE header on the link (the SPI
    testbench's bytes take 64 cycles, so SPI runs the 672-cycle time-series model)."""
    cfg = FASTEST_UART if kind == 'uart' else {'Interface': 'spi'}
    hm = convert(small_models[name], tmp_path, **cfg)
    hm.write()
    prj = tmp_path / 'prj'
    hw = int(json.loads((prj / 'interface.json').read_text())['hardware_id'], 16)
    design = hm._vhdlspartan_design
    qa, qb = design.quantize_input(grid_inputs(hm, 2, seed=5))
    frame = design.input.depth * itf.value_bytes(design.input.type)
    s = Session(hm, kind)
    clear = lambda: (s.send(itf.CLEAR), s.status(0, 0, 'CLEAR'))  # noqa: E731

    s.ask([itf.ID], 4, hw.to_bytes(4, 'little'), 'hardware id')
    s.status(0, 0, 'idle after reset')
    s.send(0x55)
    s.status(3, 1, 'unknown command')
    clear()
    if kind == 'uart':
        s.ask([itf.READ], 1, [0], 'READ before any inference answers the state alone')
    else:
        n_out = design.output.depth * itf.value_bytes(design.output.type)
        s.ask([itf.READ], 1 + n_out, [0] + [0] * n_out, 'READ before done: state, then fillers')
    s.status(3, 5, 'READ before done')
    clear()
    s.write(qa, length=frame + 1)
    s.status(3, 2, 'WRITE one byte too long, dropped whole')
    clear()
    s.write(qa, length=frame - 1)
    s.status(3, 2, 'WRITE one byte short of the frame length')
    clear()
    s.send(itf.WRITE, 0, 0)
    s.status(3, 2, 'WRITE of length 0')
    clear()
    # a WRITE that stops short: the UART times out (4 byte times), SPI ends it with chip select
    s.write(qa, cut=3 + frame // 2)
    if kind == 'uart':
        s.wait(50 * 4)
    s.status(3, 3, 'WRITE short of its bytes')
    clear()
    s.infer(qa, 'an inference after the errors is right')
    # START while busy: refused, the running inference goes on; START refused while the error is set
    s.write(qb)
    s.send(itf.START)
    s.send(itf.START)
    s.wait()
    s.status(3, 4, 'START while busy')
    s.ask([itf.READ], 1, [3], 'READ while an error is set answers the state alone')
    s.status(3, 4, 'the first error stays')
    s.send(itf.START)
    s.status(3, 4, 'START while an error is set is refused')
    clear_done = lambda: (s.send(itf.CLEAR), s.status(2, 0, 'CLEAR keeps the results'))  # noqa: E731
    clear_done()
    s.read(qb, 'the inference the second START hit is intact')
    # WRITE while busy: dropped, so neither the running inference nor the next sees its bytes
    s.send(itf.START)  # recomputes qb
    s.write(qa)
    s.wait()
    s.status(3, 6, 'WRITE while busy')
    clear_done()
    s.read(qb, 'the inference a WRITE hit while busy is intact')
    s.send(itf.START)
    s.wait()
    s.read(qb, 'the input memory still holds qb: the busy WRITE was dropped')
    if kind == 'uart':
        s.ops.append(('F', [0x41]))
        s.status(3, 8, 'a byte with its stop bit low')
    else:
        # one transaction: STATUS, then 0x55 while its answer goes out (MISO: filler, filler, answer)
        s.ops.append(('X', [itf.STATUS, 0x55, itf.NOP, itf.NOP], 3))
        s.expect.append(([0, 2, 0], 'STATUS answers in the bytes after the next'))
        s.status(3, 7, 'a command byte while an answer is being sent')
    clear_done()
    # a reset in the middle of a frame: everything back to idle, the next inference right
    s.write(qa, cut=3 + frame // 2)
    s.ops.append(('Z', [10]))
    s.status(0, 0, 'idle after a reset mid-frame')
    s.infer(qb, 'after the reset')
    s.infer(qa, 'back to back 1')
    s.infer(qb, 'back to back 2')
    busy = s.run(prj, tmp_path)
    assert len(busy) == 7 and all(b[1] == design.cycles() + 1 for b in busy)


@needs_ghdl
@pytest.mark.parametrize('kind', ['uart', 'spi'])
def test_reset_mid_inference_recovers(small_models, tmp_path, kind):
    """A reset while the core computes: no stale done, idle, and the next inference is right."""
    hm = convert(small_models['timeseries'], tmp_path, **CONFIGS[kind])
    hm.write()
    design = hm._vhdlspartan_design
    qa, qb = design.quantize_input(grid_inputs(hm, 2, seed=8))
    s = Session(hm, kind)
    s.write(qa)
    s.send(itf.START)
    s.wait(design.cycles() // 3)
    s.ops.append(('Z', [3]))
    s.wait()
    s.status(0, 0, 'idle after the reset, no stale done')
    s.infer(qb, 'after a reset mid-inference')
    s.run(tmp_path / 'prj', tmp_path)


# -- the host driver ------------------------------------------------------------------------
@needs_ghdl
@pytest.mark.parametrize('kind', ['uart', 'spi'])
def test_host_board_predict_equals_hm_predict(small_models, tmp_path, kind):
    from vhdlspartan.host import Board, SimTransport

    hm = convert(small_models['mlp'], tmp_path, **CONFIGS[kind])
    hm.write()
    x = grid_inputs(hm, 2, seed=11)
    board = Board(SimTransport(hm), tmp_path / 'prj')
    if kind == 'uart':  # shapes as hm.predict's: a batch of one gives (1, n), one sample gives (n,)
        for xs in (x[:1], x[1]):
            y = board.predict(xs)
            assert y.shape == hm.predict(xs).shape
            np.testing.assert_array_equal(y, hm.predict(xs))
    else:
        np.testing.assert_array_equal(board.predict(x), hm.predict(x))
    assert board.status() == ('done', 'none')


@needs_ghdl
def test_host_refuses_a_board_with_another_design(small_models, tmp_path):
    from vhdlspartan.host import Board, BoardError, SimTransport

    loaded = convert(small_models['mlp'], tmp_path / 'loaded', **FAST_UART)
    other = convert(small_models['mlp'], tmp_path / 'other', lanes=2, **FAST_UART)
    loaded.write()
    other.write()
    with pytest.raises(BoardError) as e:
        Board(SimTransport(loaded), other)
    want = json.loads((tmp_path / 'other' / 'prj' / 'interface.json').read_text())['hardware_id']
    got = json.loads((tmp_path / 'loaded' / 'prj' / 'interface.json').read_text())['hardware_id']
    assert want != got and want in str(e.value) and got in str(e.value) and 'another design' in str(e.value)


def test_host_refuses_memory_and_axis_projects(small_models, tmp_path):
    from vhdlspartan.host import Board

    hm = convert(small_models['mlp'], tmp_path / 'm')
    hm.write()
    with pytest.raises(UnsupportedError, match='interface.json'):
        Board(object(), hm)
    hm = convert(small_models['mlp'], tmp_path / 'a', Interface='axis')
    hm.write()
    with pytest.raises(UnsupportedError, match="Interface 'axis'"):
        Board(object(), hm)


def test_uart_transport_moves_bytes_through_pyserial(small_models, tmp_path):
    """The real pyserial path on its loopback URL: what is written comes back, n bytes of it;
    a Board on a line with no board behind it (the loopback echoes the ID command) is refused."""
    from vhdlspartan.host import Board, BoardError, UartTransport

    t = UartTransport('loop://', 115200, timeout_s=0.2)
    assert t.exchange(bytes([itf.ID, 1, 2, 3]), 4) == bytes([itf.ID, 1, 2, 3])
    assert t.exchange(b'\x00', 0) == b''
    assert t.exchange(b'', 2) == b'\x00'  # the byte left over, then the timeout: short
    hm = convert(small_models['mlp'], tmp_path, **FAST_UART)
    hm.write()
    with pytest.raises(BoardError, match='1 of 4 answer bytes'):
        Board(t, hm)
    t.close()


def test_pack_unpack_round_trip():
    from vhdlspartan.fixed import FixedType

    for t in (FixedType(10, 7), FixedType(8, 5), FixedType(6, 2, signed=False), FixedType(17, 3)):
        q = np.array([t.min_int, t.max_int, 0, t.max_int // 3])
        data = itf.pack(q, t)
        assert len(data) == 4 * ((t.width + 7) // 8)
        np.testing.assert_array_equal(itf.unpack(data, t), q)
    assert itf.pack([-2], FixedType(10, 7)) == b'\xfe\xff'  # little-endian, sign-extended


# -- synthesis --------------------------------------------------------------------------------
@needs_ghdl
@pytest.mark.slow
@pytest.mark.parametrize('kind', ['uart', 'spi', 'axis'])  # about 10 s each
def test_wrapper_synthesis_cost_and_timing(tmp_path, kind):
    """Yosys with the wrapper as top: no latches, the wrapper's LUT/FF within 10% (+5) of its
    estimate, and the timing budget met (the autouse fixture of conftest.py checks every design)."""
    from vhdlspartan.resource_model.estimate import estimate
    from vhdlspartan.resource_model.interface_cost import _design, interface_cost

    hm = _design(tmp_path / 'prj', kind, 6, 8, 6, 3)  # not a shape the table was fitted on
    syn = hm.build(synth=True)['synth']
    design, link = hm._vhdlspartan_design, itf.link_of(hm.config)
    assert syn['latches'] == 0
    assert set(syn['timing']['per_unit']) >= {'core', 'link'}  # the walk saw the whole wrapper
    cost = interface_cost(design, link)
    for r in ('LUT', 'FF'):
        assert abs(syn['wrapper'][r] - cost[r]) <= 0.1 * syn['wrapper'][r] + 5, (r, syn['wrapper'], cost)
        assert syn['wrapper'][r] == syn[r] - syn['core'][r] > 0
    est = estimate(hm)
    assert est.per_layer[f'interface:{kind}']['LUT'] == cost['LUT']
    assert syn['estimate']['LUT'] == est.total['LUT']  # build's estimate counts the wrapper too


# -- Vivado --------------------------------------------------------------------------------------
@pytest.mark.parametrize('kind', ['uart', 'spi'])
def test_example_board_xdc_pins_every_wrapper_port(small_models, tmp_path, kind):
    """build.tcl with Model BoardConstraints: the wrapper is the top, the board's pins are read,
    a bitstream is written; the example XDC constrains exactly the wrapper's ports."""
    import re
    from pathlib import Path

    xdc = Path(__file__).resolve().parents[1] / 'examples' / f'arty_s7_25_{kind}.xdc'
    hm = convert(small_models['mlp'], tmp_path, BoardConstraints=str(xdc), **CONFIGS[kind])
    hm.write()
    prj = tmp_path / 'prj'
    tcl = (prj / 'vivado' / 'build.tcl').read_text()
    assert f'synth_design -top myproject_{kind} -part' in tcl and 'out_of_context' not in tcl
    assert 'read_xdc board.xdc' in tcl and f'write_bitstream -force myproject_{kind}.bit' in tcl
    assert (prj / 'vivado' / 'board.xdc').read_text() == xdc.read_text()
    entity = (prj / 'vhdl' / f'myproject_{kind}.vhd').read_text()
    ports = set(re.findall(r'^\s{4}(\w+)\s+:\s+(?:in|out)\b', entity, re.M))
    pinned = set(re.findall(r'PACKAGE_PIN \w+ .*\[get_ports \{ (\w+) \}\]', xdc.read_text()))
    assert ports == pinned, (ports, pinned)
    with pytest.raises(UnsupportedError, match='BoardConstraints'):
        convert(small_models['mlp'], tmp_path / 'bad', BoardConstraints='no/such.xdc', **CONFIGS[kind]).write()
    assert not (tmp_path / 'bad' / 'prj' / 'vhdl').exists()


@needs_ghdl
@pytest.mark.parametrize('kind, in_bits, out_bits', [('uart', 16, 20), ('uart', 12, 31), ('spi', 4, 4),
                                                     ('spi', 24, 9), ('axis', 12, 31)])  # fmt: skip
def test_wrappers_pass_ghdl_synthesis_at_any_width(tmp_path, kind, in_bits, out_bits):
    """GHDL 2.0 synthesis of the wrapper (the Yosys step is left to the synthesis test). An earlier
    vs_byte_proto crashed it ('access check failed', synth-vhdl_context.adb:420) at 16-bit inputs
    and 20-bit outputs."""
    import subprocess

    from vhdlspartan.resource_model.interface_cost import _design
    from vhdlspartan.vhdl_backend.simulation import analyze

    hm = _design(tmp_path / 'prj', kind, in_bits, out_bits, 5, 3)
    hm.write()
    prj, work = tmp_path / 'prj', tmp_path / 'work'
    assert analyze(prj, work, (prj / 'vhdl' / 'compile_order.txt').read_text().split()) == ''
    res = subprocess.run(['ghdl', '--synth', '--std=08', f'--workdir={work}', '--out=verilog', f'myproject_{kind}'],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr[-1500:]
    assert f'module myproject_{kind}' in res.stdout
    ours = [w for w in res.stderr.splitlines() if 'warning' in w and ('vs_byte_proto' in w or 'link' in w)]
    assert ours == []


@needs_ghdl
@pytest.mark.parametrize('kind', ['uart', 'spi', 'axis'])
def test_multi_byte_and_unsigned_values_through_the_pins(small_models, tmp_path, kind):
    """Values of 2 and 3 bytes (16-bit input, 20-bit output, sign-extended), and an unsigned output
    (a final quantized_relu: zero-extended), bit-exact through each wrapper."""
    from vhdlspartan.resource_model.interface_cost import _design

    wide = _design(tmp_path / 'wide', kind, 16, 20, 5, 3)
    relu = convert(mlp_model(final_relu=True), tmp_path / 'relu', **CONFIGS[kind])
    assert not relu._vhdlspartan_design.output.type.signed
    d = wide._vhdlspartan_design
    assert (itf.value_bytes(d.input.type), itf.value_bytes(d.output.type), d.output.type.signed) == (2, 3, True)
    for hm in (wide, relu):
        if hm is wide and kind == 'uart':
            hm.config.config['HLSConfig']['Model']['BaudRate'] = 12_500_000
        x = grid_inputs(hm, 3, seed=6)
        sim = hm.build(sim=True, x=x)['sim']
        assert sim['bit_exact'] and sim['hardware_id_ok'], sim
        np.testing.assert_array_equal(sim['outputs'], hm.predict(x).reshape(3, -1))
