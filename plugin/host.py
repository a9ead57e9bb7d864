"""Host driver: call a board that carries a VHDLSpartan design over its UART or SPI link.

    from vhdlspartan.host import Board, UartTransport
    board = Board(UartTransport('/dev/ttyUSB1', 115200), 'prj')   # or Board(transport, hls_model)
    y = board.predict(x)                                          # == hm.predict(x), bit for bit

`Board` reads the board's hardware id first and refuses a board that carries another design.
`predict` quantizes each sample exactly as `hm.predict` does (the input type's rounding and
saturation), sends the frame, starts, polls the status, reads the outputs and dequantizes them.

Transports move bytes of the byte protocol (README, "Board interfaces"); each has
`exchange(data, n)`: send the bytes, return the n answer bytes that follow them.

- `UartTransport`: a serial port through pyserial.
- `SpiTransport`: Linux spidev (optional dependency: `pip install hls4ml-vhdlspartan[spi]`), mode 0;
  each exchange is one chip-select transaction, clocking a filler byte and the answer after the command.
- `SimTransport`: the GHDL simulation of the project's own wrapper, driven through its pins by the
  file-driven testbench (vhdl_backend/pin_sim.py). The simulation restarts from reset for each
  answer and replays everything the host sent before (the hardware is deterministic, so the
  replayed answers are the ones it gave), which is slow for long sessions and exact.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .errors import UnsupportedError
from .fixed import FixedType
from .vhdl_backend import interfaces as itf


class BoardError(RuntimeError):
    """The board answered with an error status, did not answer, or carries another design."""


class Board:
    def __init__(self, transport, project, poll_s: float = 0.0, max_polls: int = 100_000):
        self.transport = transport
        self.spec = _spec(project)
        if self.spec['interface'] not in ('uart', 'spi'):
            raise UnsupportedError(f"Board talks the byte protocol of Interface uart or spi; project "
                                   f"{self.spec['project']!r} has Interface {self.spec['interface']!r}")  # fmt: skip
        self.in_type = FixedType(**self.spec['input']['type'])
        self.out_type = FixedType(**self.spec['output']['type'])
        self.poll_s, self.max_polls = poll_s, max_polls
        self.check_hardware_id()

    # -- the protocol --------------------------------------------------------------------
    def hardware_id(self) -> int:
        return int.from_bytes(self._ask([itf.ID], 4), 'little')

    def check_hardware_id(self) -> None:
        want, got = int(self.spec['hardware_id'], 16), self.hardware_id()
        if got != want:
            raise BoardError(f"the board carries hardware id 0x{got:08x}, but project {self.spec['project']!r} is "
                             f"0x{want:08x}: it was built from another design (or another version of this one). "
                             f"Load this project's bitstream, or give Board the project the board was built from")  # fmt: skip

    def status(self) -> tuple[str, str]:
        state, code = self._ask([itf.STATUS], 2)
        return itf.STATES.get(state, f'unknown state {state}'), itf.ERRORS.get(code, f'unknown error {code}')

    def clear(self) -> None:
        self.transport.exchange(bytes([itf.CLEAR]), 0)

    def run(self, q_in) -> np.ndarray:
        """One inference on input integers (the input type's raw values); returns output integers."""
        frame = itf.pack(q_in, self.in_type)
        self.transport.exchange(bytes([itf.WRITE, len(frame) & 0xFF, len(frame) >> 8]) + frame, 0)
        self.transport.exchange(bytes([itf.START]), 0)
        for _ in range(self.max_polls):
            state, error = self.status()
            if state != 'busy':
                break
            if self.poll_s:
                time.sleep(self.poll_s)
        else:
            raise BoardError(f'the board is still busy after {self.max_polls} status polls')
        if state != 'done':
            raise BoardError(f'the board reports {state} ({error}) after START; send CLEAR (Board.clear()) and retry')
        n_out = self.spec['output']['depth'] * itf.value_bytes(self.out_type)
        answer = self._ask([itf.READ], 1 + n_out)
        if answer[0] != 2:
            raise BoardError(f'READ answered state {answer[0]}, not done')
        return itf.unpack(answer[1:], self.out_type)

    def predict(self, x) -> np.ndarray:
        """hls4ml's convention (as hm.predict): one row per sample; a single sample gives one row."""
        shape = tuple(self.spec['input']['shape'])
        x = np.asarray(x, dtype=np.float64)
        single = x.ndim == len(shape)
        q = self.in_type.from_float(x.reshape(-1, self.spec['input']['depth']))
        y = self.out_type.to_float(np.stack([self.run(row) for row in q]))
        return y[0] if single else y

    def _ask(self, command: list, n: int) -> bytes:
        answer = self.transport.exchange(bytes(command), n)
        if len(answer) != n:
            raise BoardError(f'command 0x{command[0]:02x}: {len(answer)} of {n} answer bytes came back (no board, '
                             f'wrong baud rate or wiring?)')  # fmt: skip
        return answer


def _spec(project) -> dict:
    """interface.json of a project directory, or of an hls4ml model's output directory."""
    if hasattr(project, 'config'):
        project = project.config.get_output_dir()
    path = Path(project) / 'interface.json'
    if not path.exists():
        raise UnsupportedError(f'{path} does not exist: write the project with Model Interface uart or spi '
                               '(hm.write() or hm.build())')  # fmt: skip
    return json.loads(path.read_text())


# -- transports ----------------------------------------------------------------------------
class UartTransport:
    """A serial port (pyserial): 8N1 at the project's BaudRate. `port` is a device ('/dev/ttyUSB1',
    'COM3') or a pyserial URL ('socket://host:port' for a networked UART, 'loop://' for a loopback)."""

    def __init__(self, port: str, baud_rate: int, timeout_s: float = 2.0):
        import serial  # pyserial

        self.port = serial.serial_for_url(port, baudrate=baud_rate, bytesize=8, parity='N', stopbits=1,
                                          timeout=timeout_s)  # fmt: skip
        self.port.reset_input_buffer()  # bytes from before (a board that just came up) are not answers

    def exchange(self, data: bytes, n: int) -> bytes:
        self.port.write(data)
        self.port.flush()
        return self.port.read(n) if n else b''

    def close(self):
        self.port.close()


class SpiTransport:
    """Linux spidev, mode 0. The board's sclk must be at most its clock / 8 (vs_spi_link.vhd)."""

    def __init__(self, bus: int = 0, device: int = 0, max_speed_hz: int = 1_000_000):
        try:
            import spidev
        except ImportError as e:  # the optional extra
            raise UnsupportedError('SpiTransport needs spidev: pip install "hls4ml-vhdlspartan[spi]"') from e
        self.spi = spidev.SpiDev()
        self.spi.open(bus, device)
        self.spi.mode = 0
        self.spi.max_speed_hz = max_speed_hz

    def exchange(self, data: bytes, n: int) -> bytes:
        miso = self.spi.xfer2(list(data) + [itf.NOP] * ((1 + n) if n else 0))
        return bytes(miso[len(data) + 1:]) if n else b''

    def close(self):
        self.spi.close()


class SimTransport:
    """The project's wrapper in GHDL, through its pins (uart or spi). `resets()` counts the runs."""

    def __init__(self, project):
        from .vhdl_backend import pin_sim

        self.spec = _spec(project)
        self.dir = Path(self.spec_dir(project)).resolve()
        self.link = itf.Link(self.spec['interface'], self.spec['baud_rate'], self.spec['clks_per_bit'])
        if self.link.kind not in ('uart', 'spi'):
            raise UnsupportedError(f'SimTransport simulates Interface uart or spi, not {self.link.kind!r}')
        self.run_dir = self.dir / 'sim' / f'host_{self.link.kind}'
        self.work = self.run_dir / 'work'
        pin_sim.prepare(self.dir, self.link, self.work)
        self.ops, self.runs = [], 0

    @staticmethod
    def spec_dir(project):
        return project.config.get_output_dir() if hasattr(project, 'config') else project

    def exchange(self, data: bytes, n: int) -> bytes:
        from .vhdl_backend import pin_sim

        if self.link.kind == 'uart':
            self.ops.append(('W', list(data)))
            if not n:
                return b''  # sent with the next run: nothing to wait for
            self.ops.append(('R', [n], n))
        else:
            self.ops.append(('X', list(data) + [itf.NOP] * ((1 + n) if n else 0), n) if n else ('X', list(data)))
            if not n:
                return b''
        replies, _ = pin_sim.run_script(self.dir, self.link, self.ops, self.work, self.run_dir)
        self.runs += 1
        last = pin_sim.answers(self.ops, replies)[-1]
        return bytes(last) if last is not None else b''
