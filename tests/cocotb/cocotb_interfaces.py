"""cocotb tests of the board interfaces' wrappers, with PyPI protocol models: cocotbext-uart
(UartSource / UartSink), cocotbext-axi (AxiStreamSource / AxiStreamSink with random pauses) and,
for SPI, a mode-0 master written here (cocotbext-spi 0.5 imports cocotb.clock.BaseClock and reads
bits with `.value.integer`, both gone in cocotb 2; see tests/test_interfaces_cocotb.py).

The case (INTERFACE_CASE_FILE, JSON): kind, hw_id, baud, value widths and signedness, inputs
(lists of raw integers) and the outputs the emulation computes for them.
"""

from __future__ import annotations

import itertools
import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, Timer

NOP, WRITE, START, STATUS, READ, ID, CLEAR = 0x00, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6
CASE = json.loads(open(os.environ['INTERFACE_CASE_FILE']).read()) if 'INTERFACE_CASE_FILE' in os.environ else {}


def pack(values, width):
    n = (width + 7) // 8
    return b''.join(int(v).to_bytes(n, 'little', signed=True) for v in values)


def unpack(data, width, signed):
    n = (width + 7) // 8
    return [int.from_bytes(data[k:k + n], 'little', signed=signed) for k in range(0, len(data), n)]


async def start(dut, reset_name='rst', active=1):
    cocotb.start_soon(Clock(dut.clk, 10, unit='ns').start())
    rst = getattr(dut, reset_name)
    rst.value = active
    await ClockCycles(dut.clk, 5)
    rst.value = 1 - active
    await ClockCycles(dut.clk, 5)


class UartHost:
    def __init__(self, dut):
        from cocotbext.uart import UartSink, UartSource

        self.src = UartSource(dut.rx, baud=CASE['baud'], bits=8, stop_bits=1)
        self.sink = UartSink(dut.tx, baud=CASE['baud'], bits=8, stop_bits=1)

    async def exchange(self, data: bytes, n: int) -> bytes:
        await self.src.write(data)
        await self.src.wait()
        if not n:
            return b''
        got = b''
        for _ in range(n):
            got += bytes(await self.sink.read(1))
        return got


class SpiHost:
    """SPI mode 0 master, sclk = clk / 10: one chip-select transaction per exchange; the answer
    follows the command and one filler byte (vs_spi_link.vhd)."""

    def __init__(self, dut, half_ns=50):
        self.dut, self.half = dut, half_ns
        dut.cs_n.value = 1
        dut.sclk.value = 0
        dut.mosi.value = 0

    async def transfer(self, data: list) -> list:
        d = self.dut
        d.cs_n.value = 0
        await Timer(4 * self.half, unit='ns')
        miso = []
        for b in data:
            r = 0
            for k in range(7, -1, -1):
                d.mosi.value = (b >> k) & 1
                await Timer(self.half, unit='ns')
                d.sclk.value = 1
                r |= int(d.miso.value) << k
                await Timer(self.half, unit='ns')
                d.sclk.value = 0
            miso.append(r)
        await Timer(self.half, unit='ns')
        d.cs_n.value = 1
        await Timer(4 * self.half, unit='ns')
        return miso

    async def exchange(self, data: bytes, n: int) -> bytes:
        miso = await self.transfer(list(data) + ([NOP] * (1 + n) if n else []))
        return bytes(miso[len(data) + 1:]) if n else b''


async def infer(host, q):
    frame = pack(q, CASE['in_width'])
    await host.exchange(bytes([WRITE, len(frame) & 0xFF, len(frame) >> 8]) + frame, 0)
    await host.exchange(bytes([START]), 0)
    for _ in range(1000):
        state, code = await host.exchange(bytes([STATUS]), 2)
        if state != 1:
            break
    assert (state, code) == (2, 0), f'status after START: {(state, code)}'
    n_out = CASE['n_out'] * ((CASE['out_width'] + 7) // 8)
    answer = await host.exchange(bytes([READ]), 1 + n_out)
    assert answer[0] == 2
    return unpack(answer[1:], CASE['out_width'], CASE['out_signed'])


async def byte_protocol(dut, host):
    hw = int.from_bytes(await host.exchange(bytes([ID]), 4), 'little')
    assert hw == CASE['hw_id'], f'hardware id 0x{hw:08x}, expected 0x{CASE["hw_id"]:08x}'
    for q, y in zip(CASE['inputs'], CASE['outputs']):  # back to back
        assert await infer(host, q) == y
    await host.exchange(bytes([0x7E]), 0)
    assert list(await host.exchange(bytes([STATUS]), 2)) == [3, 1]  # unknown command
    await host.exchange(bytes([START]), 0)
    assert list(await host.exchange(bytes([STATUS]), 2)) == [3, 4]  # START refused while the error is set
    await host.exchange(bytes([CLEAR]), 0)
    assert list(await host.exchange(bytes([STATUS]), 2)) == [2, 0]
    # a reset in the middle of a frame
    frame = pack(CASE['inputs'][0], CASE['in_width'])
    await host.exchange(bytes([WRITE, len(frame) & 0xFF, len(frame) >> 8]) + frame[:len(frame) // 2], 0)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 8)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 8)
    assert list(await host.exchange(bytes([STATUS]), 2)) == [0, 0]
    assert await infer(host, CASE['inputs'][-1]) == CASE['outputs'][-1]


@cocotb.test(skip=CASE.get('kind') != 'uart', timeout_time=2, timeout_unit='ms')
async def uart_through_cocotbext_uart(dut):
    dut.rx.value = 1
    await start(dut)
    await byte_protocol(dut, UartHost(dut))


@cocotb.test(skip=CASE.get('kind') != 'spi', timeout_time=2, timeout_unit='ms')
async def spi_mode0(dut):
    host = SpiHost(dut)
    await start(dut)
    await byte_protocol(dut, host)


@cocotb.test(skip=CASE.get('kind') != 'axis', timeout_time=200, timeout_unit='us')
async def axis_through_cocotbext_axi(dut):
    from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

    dut.s_axis_tvalid.value = 0
    dut.m_axis_tready.value = 0
    await start(dut, 'aresetn', 0)
    src = AxiStreamSource(AxiStreamBus.from_prefix(dut, 's_axis'), dut.clk, dut.aresetn, reset_active_level=False)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, 'm_axis'), dut.clk, dut.aresetn, reset_active_level=False)
    rng = random.Random(5)
    src.set_pause_generator(iter(lambda: rng.random() < 0.5, None))
    sink.set_pause_generator(iter(lambda: rng.random() < 0.5, None))
    hw = int(dut.hw_id.value)
    assert hw == CASE['hw_id']
    # without tkeep, cocotbext-axi frames are bytes, tdata's byte lanes least significant first:
    # the same little-endian, sign-extended layout as the byte protocol's values
    def frame_of(q):
        return AxiStreamFrame(pack(q, CASE['in_width']))

    def values(frame):
        return unpack(bytes(frame.tdata), CASE['out_width'], CASE['out_signed'])

    for q in CASE['inputs']:  # queued at once: frames back to back, stalls on both sides
        await src.send(frame_of(q))
    for y in CASE['outputs']:
        frame = await sink.recv()  # one frame = the beats up to tlast
        assert values(frame) == y, 'tlast on the last output, no beat lost or repeated'
    # a reset in the middle of an input frame, then a whole frame
    dut._log.info('frames back to back: right; now a reset mid-frame')
    # (a generator of False rather than None: cocotbext-axi 0.1.28 on cocotb 2.1 kills the old pause
    # task and, with None, leaves the source paused if it was paused then)
    src.set_pause_generator(itertools.repeat(False))
    sink.set_pause_generator(itertools.repeat(False))
    width = (CASE['in_width'] + 7) // 8
    await src.send(AxiStreamFrame(pack(CASE['inputs'][0], CASE['in_width'])[: width * (CASE['n_in'] // 2)]))
    await src.wait()
    dut._log.info('half a frame sent')
    await RisingEdge(dut.clk)
    dut.aresetn.value = 0
    await ClockCycles(dut.clk, 8)
    dut.aresetn.value = 1
    await ClockCycles(dut.clk, 8)
    dut._log.info('reset done')
    await src.send(frame_of(CASE['inputs'][-1]))
    await src.wait()
    dut._log.info('whole frame sent')
    frame = await sink.recv()
    assert values(frame) == CASE['outputs'][-1], 'after a reset mid-frame'
    await ClockCycles(dut.clk, 50)
    assert sink.empty(), 'an output beat too many'
