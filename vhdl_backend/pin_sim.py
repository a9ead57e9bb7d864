"""GHDL simulation of a wrapper through its pins, with file-driven testbenches (fast for long runs).

uart / spi: the testbench reads a script, one operation a line, and writes what it saw:

  W n b1 .. bn   (uart) send n bytes on rx, 8N1, back to back -> "W <cycle begun> <cycle ended>"
  F b            (uart) send one byte whose stop bit is low (a framing error)
  R n            (uart) wait for n more bytes from tx -> "R <cycle asked> <cycle got> b1 .. bn" (or "R -1" on timeout)
  X n b1 .. bn   (spi) one transaction: cs_n low, n bytes full duplex -> "X <cycle begun> <cycle ended> miso bytes"
  D n            wait n clock cycles
  Z n            hold rst high for n cycles

into replies.txt, and every stretch of `busy` high (the core computing) into busy.txt as
"<cycle it rose> <cycles high>". axis: input.txt (one frame of input integers a line) is sent as
beats with random gaps in tvalid, outputs taken with random gaps in tready, and written to
output.txt as "<cycles from the frame's first beat to its last output beat> <tlast right> outputs".
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from . import interfaces as itf
from .simulation import GHDL_FLAGS, analyze, ghdl
from .top import HEADER, USES, slv

SPI_HALF = 4  # clock cycles per half period of sclk in the testbench: sclk = clk / 8
TIMEOUT = 2_000_000  # cycles an R waits before it gives up


# both testbenches log each busy interval (start cycle, length): the compute cycles of an inference
BUSY_LOG = """  busy_log : process
    file fb : text open write_mode is "busy.txt";
    variable l : line;
    variable t0 : natural;
  begin
    wait until rising_edge(clk) and busy = '1';
    t0 := cycle;
    wait until rising_edge(clk) and busy = '0';
    write(l, t0);
    write(l, string'(" "));
    write(l, cycle - t0);
    writeline(fb, l);
  end process;
"""


def testbench_vhdl(design, link) -> str:
    if link.kind == 'axis':
        return _axis_tb(design, link)
    name = link.entity(design.project)
    if link.kind == 'uart':
        pins = 'rx => rx, tx => tx'
        cpb = link.clks_per_bit
    else:
        pins = 'sclk => sclk, cs_n => cs_n, mosi => mosi, miso => miso'
        cpb = 1
    return f"""{HEADER}-- Script-driven testbench of {name} (vhdl_backend/pin_sim.py): script.txt -> replies.txt, busy.txt.
{USES}use std.textio.all;

entity tb_{name} is
end entity;

architecture sim of tb_{name} is
  constant CPB : positive := {cpb};      -- UART clock cycles a bit
  constant HALF : positive := {SPI_HALF};    -- SPI: cycles a half period of sclk
  signal clk, rst, busy : std_logic := '0';
  signal rx, tx, cs_n : std_logic := '1';
  signal sclk, mosi, miso : std_logic := '0';
  signal running : boolean := true;
  signal cycle : natural := 0;
  type ring_t is array (0 to 4095) of natural range 0 to 255;
  signal ring : ring_t := (others => 0);
  signal n_rx : natural := 0;            -- bytes seen on tx so far
begin
  clk <= not clk after 5 ns when running else '0';
  cycle <= cycle + 1 when rising_edge(clk);

  dut : entity work.{name}
    port map (clk => clk, rst => rst, {pins}, busy => busy);

  -- UART: every byte on tx, sampled in the middle of each bit
  receive : process
    variable b : natural;
  begin
    wait until rising_edge(clk) and tx = '0';
    for j in 1 to CPB / 2 loop wait until rising_edge(clk); end loop;
    b := 0;
    for k in 0 to 7 loop
      for j in 1 to CPB loop wait until rising_edge(clk); end loop;
      if tx = '1' then b := b + 2 ** k; end if;
    end loop;
    for j in 1 to CPB loop wait until rising_edge(clk); end loop;
    ring(n_rx mod 4096) <= b;
    n_rx <= n_rx + 1;
    wait until rising_edge(clk);
  end process;

{BUSY_LOG}
  stimulus : process
    file fs : text open read_mode is "script.txt";
    file fo : text open write_mode is "replies.txt";
    variable li, lo : line;
    variable op : character;
    variable n, v, t0, taken : natural := 0;
    variable good : boolean;
    type bytes_t is array (0 to 65535 + 16) of natural range 0 to 255;
    variable buf : bytes_t;

    procedure cycles(k : natural) is
    begin
      for j in 1 to k loop wait until rising_edge(clk); end loop;
    end procedure;

    procedure uart_send(b : natural; stop : std_logic) is
      variable u : unsigned(7 downto 0);
    begin
      u := to_unsigned(b, 8);
      rx <= '0';
      cycles(CPB);
      for k in 0 to 7 loop
        rx <= u(k);
        cycles(CPB);
      end loop;
      rx <= stop;
      cycles(CPB);
      rx <= '1';
      if stop = '0' then cycles(CPB); end if;
    end procedure;

    procedure spi_byte(b : natural; got : out natural) is
      variable u, r : unsigned(7 downto 0);
    begin
      u := to_unsigned(b, 8);
      for k in 7 downto 0 loop
        mosi <= u(k);
        cycles(HALF);
        sclk <= '1';
        r(k) := miso;
        cycles(HALF);
        sclk <= '0';
      end loop;
      got := to_integer(r);
    end procedure;
  begin
    rst <= '1';
    cycles(4);
    rst <= '0';
    cycles(4);
    while not endfile(fs) loop
      readline(fs, li);
      read(li, op);
      read(li, n);
      case op is
        when 'W' =>
          t0 := cycle;
          for k in 1 to n loop
            read(li, v);
            uart_send(v, '1');
          end loop;
          write(lo, string'("W "));
          write(lo, t0);
          write(lo, string'(" "));
          write(lo, cycle);
          writeline(fo, lo);
        when 'F' =>
          uart_send(n, '0');
        when 'R' =>
          t0 := cycle;
          while n_rx < taken + n and cycle - t0 < {TIMEOUT} loop
            wait until rising_edge(clk);
          end loop;
          if n_rx < taken + n then
            write(lo, string'("R -1"));
          else
            write(lo, string'("R "));
            write(lo, t0);
            write(lo, string'(" "));
            write(lo, cycle);
            for k in 0 to n - 1 loop
              write(lo, string'(" "));
              write(lo, ring((taken + k) mod 4096));
            end loop;
            taken := taken + n;
          end if;
          writeline(fo, lo);
        when 'X' =>
          t0 := cycle;
          cs_n <= '0';
          cycles(4 * HALF);
          for k in 0 to n - 1 loop
            read(li, v);
            spi_byte(v, buf(k));
          end loop;
          cycles(HALF);
          cs_n <= '1';
          write(lo, string'("X "));
          write(lo, t0);
          write(lo, string'(" "));
          write(lo, cycle);
          for k in 0 to n - 1 loop
            write(lo, string'(" "));
            write(lo, buf(k));
          end loop;
          writeline(fo, lo);
          cycles(4 * HALF);
        when 'D' =>
          cycles(n);
        when 'Z' =>
          rst <= '1';
          cycles(n);
          rst <= '0';
          cycles(4);
        when others =>
          report "unknown script operation " & op severity failure;
      end case;
    end loop;
    cycles(16);
    running <= false;
    wait;
  end process;
end architecture;
"""


def _axis_tb(design, link) -> str:
    name = link.entity(design.project)
    i, o = design.input, design.output
    s_w, m_w = 8 * itf.value_bytes(i.type), 8 * itf.value_bytes(o.type)
    from_out = 'signed' if o.type.signed else 'unsigned'
    return f"""{HEADER}-- File-driven AXI4-Stream testbench of {name} (vhdl_backend/pin_sim.py): random stalls on both sides.
{USES}use std.textio.all;

entity tb_{name} is
  generic (SEED : positive := 1; STALL : natural := 3);   -- a beat waits when lfsr mod 8 < STALL
end entity;

architecture sim of tb_{name} is
  signal clk, aresetn, busy : std_logic := '0';
  signal s_tvalid, s_tready, s_tlast, m_tvalid, m_tready, m_tlast : std_logic := '0';
  signal s_tdata : {slv(s_w)} := (others => '0');
  signal m_tdata : {slv(m_w)};
  signal hw_id : std_logic_vector(31 downto 0);
  signal running : boolean := true;
  signal cycle : natural := 0;
  signal lfsr_s, lfsr_m : unsigned(15 downto 0) := to_unsigned(SEED, 16);
  signal sent_all : boolean := false;
begin
  clk <= not clk after 5 ns when running else '0';
  cycle <= cycle + 1 when rising_edge(clk);
  -- two Galois LFSRs (x^16 + x^14 + x^13 + x^11 + 1) decide the stalls of each side
  process (clk)
  begin
    if rising_edge(clk) then
      lfsr_s <= shift_right(lfsr_s, 1) xor (x"B400" and (15 downto 0 => lfsr_s(0)));
      lfsr_m <= shift_right(lfsr_m, 1) xor (x"B400" and (15 downto 0 => lfsr_m(0))) xor x"0001";
    end if;
  end process;

  dut : entity work.{name}
    port map (clk => clk, aresetn => aresetn, s_axis_tdata => s_tdata, s_axis_tvalid => s_tvalid,
              s_axis_tready => s_tready, s_axis_tlast => s_tlast, m_axis_tdata => m_tdata,
              m_axis_tvalid => m_tvalid, m_axis_tready => m_tready, m_axis_tlast => m_tlast, busy => busy,
              hw_id => hw_id);

  source : process
    file fin : text open read_mode is "input.txt";
    variable lin : line;
    variable v : integer;
  begin
    aresetn <= '0';
    for j in 1 to 4 loop wait until rising_edge(clk); end loop;
    aresetn <= '1';
    for j in 1 to 4 loop wait until rising_edge(clk); end loop;
    while not endfile(fin) loop
      readline(fin, lin);
      for k in 0 to {i.depth - 1} loop
        read(lin, v);
        while to_integer(lfsr_s(2 downto 0)) < STALL loop   -- a gap before the beat
          wait until rising_edge(clk);
        end loop;
        s_tvalid <= '1';
        s_tdata <= std_logic_vector(resize(to_signed(v, {i.type.width + 1}), {s_w}));
        if k = {i.depth - 1} then s_tlast <= '1'; else s_tlast <= '0'; end if;
        loop   -- tvalid and tdata stay until the beat is taken
          wait until rising_edge(clk);
          exit when s_tready = '1';
        end loop;
        s_tvalid <= '0';
      end loop;
    end loop;
    sent_all <= true;
    wait;
  end process;

  m_tready <= '1' when to_integer(lfsr_m(2 downto 0)) >= STALL else '0';

{BUSY_LOG}

  sink : process
    file fout : text open write_mode is "output.txt";
    file fid : text open write_mode is "hw_id.txt";
    variable lout : line;
    variable t0 : natural;
    variable last_ok : boolean;
  begin
    wait until rising_edge(clk) and aresetn = '1';
    write(lout, to_integer(unsigned(hw_id(31 downto 16))));
    write(lout, string'(" "));
    write(lout, to_integer(unsigned(hw_id(15 downto 0))));
    writeline(fid, lout);
    loop
      wait until rising_edge(clk) and (s_tvalid = '1' or sent_all);
      exit when sent_all;
      t0 := cycle;
      last_ok := true;
      for k in 0 to {o.depth - 1} loop
        loop
          wait until rising_edge(clk);
          exit when m_tvalid = '1' and m_tready = '1';
        end loop;
        if (m_tlast = '1') /= (k = {o.depth - 1}) then last_ok := false; end if;
        write(lout, string'(" "));
        write(lout, to_integer({from_out}(m_tdata({o.type.width - 1} downto 0))));
        if {'true' if m_w > o.type.width else 'false'} then   -- the padding is the sign (or zero) extension
          if {from_out}(m_tdata) /= resize({from_out}(m_tdata({o.type.width - 1} downto 0)), {m_w}) then
            last_ok := false;
          end if;
        end if;
      end loop;
      write(lout, string'(" "));
      write(lout, cycle - t0);
      write(lout, string'(" "));
      write(lout, boolean'pos(last_ok));
      writeline(fout, lout);
    end loop;
    -- nothing more may come out
    for j in 1 to 200 loop
      wait until rising_edge(clk);
      assert m_tvalid = '0' report "an extra output beat" severity failure;
    end loop;
    running <= false;
    wait;
  end process;
end architecture;
"""


# -- running -----------------------------------------------------------------------------
def prepare(project_dir: Path, link, workdir: Path) -> str:
    """Analyse the project and the wrapper's testbench into workdir; returns GHDL's messages."""
    if workdir.exists():
        shutil.rmtree(workdir)
    order = (project_dir / 'vhdl' / 'compile_order.txt').read_text().split()
    tb = f'tb/tb_{link.entity(project_dir_project(project_dir))}.vhd'
    return analyze(project_dir, workdir, [*order, tb])


def project_dir_project(project_dir: Path) -> str:
    import json

    return json.loads((project_dir / 'interface.json').read_text())['project']


def run(project_dir: Path, link, workdir: Path, run_dir: Path, generics: dict | None = None) -> None:
    name = link.entity(project_dir_project(project_dir))
    gens = [f'-g{k}={v}' for k, v in (generics or {}).items()]
    res = subprocess.run([ghdl(), '--elab-run', *GHDL_FLAGS, f'--workdir={workdir}', f'tb_{name}', *gens,
                          '--ieee-asserts=disable'], cwd=run_dir, capture_output=True, text=True)  # fmt: skip
    (run_dir / 'ghdl.log').write_text(res.stdout + res.stderr)
    if res.returncode != 0:
        raise RuntimeError(f'GHDL simulation of {name} failed (log: {run_dir / "ghdl.log"}):\n'
                           f'{res.stdout[-2000:]}{res.stderr[-2000:]}')  # fmt: skip


def run_script(project_dir, link, ops: list, workdir: Path, run_dir: Path) -> tuple[list, list]:
    """Run a uart/spi script (list of (op, [ints])); returns (replies, busy) as lists of int lists."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for op, args, *_ in ops:
        args = list(args)
        lines.append(' '.join([op, str(len(args)) if op in 'WX' else '', *map(str, args)]).replace('  ', ' '))
    (run_dir / 'script.txt').write_text('\n'.join(lines) + '\n')
    run(Path(project_dir), link, workdir, run_dir)

    def rows(name):
        text = (run_dir / name).read_text().split('\n')
        return [line.split() for line in text if line.strip()]

    replies = [[r[0], *map(int, r[1:])] for r in rows('replies.txt')]
    busy = [list(map(int, r)) for r in rows('busy.txt')]
    return replies, busy


def inference_ops(design, link, q_in: np.ndarray) -> list:
    """The script of the inferences: hardware id, then per sample WRITE, START, wait, STATUS, READ."""
    i, o = design.input, design.output
    out_bytes = o.depth * itf.value_bytes(o.type)
    ops = [*query(link, [itf.ID], 4)]
    for row in q_in:
        frame = itf.pack(row, i.type)
        ops += send(link, [itf.WRITE, len(frame) & 0xFF, len(frame) >> 8, *frame])
        ops += send(link, [itf.START])
        ops.append(('D', [design.cycles() + 8]))
        ops += query(link, [itf.STATUS], 2)
        ops += query(link, [itf.READ], 1 + out_bytes)
    return ops


def send(link, data: list) -> list:
    return [('W', data)] if link.kind == 'uart' else [('X', data)]


def query(link, data: list, n: int) -> list:
    """A command and its n answer bytes: uart, send then read; spi, one transaction with a filler
    byte and n more clocked after the command (vs_spi_link.vhd). The third element marks a query."""
    if link.kind == 'uart':
        return [('W', data), ('R', [n], n)]
    return [('X', [*data, *([itf.NOP] * (1 + n))], n)]


def answers(ops: list, replies: list) -> list:
    """The answer bytes of each query of the script, in order (None: the UART answer timed out)."""
    rows = [op for op in ops if op[0] in 'WRX']
    assert len(rows) == len(replies), f'{len(rows)} operations, {len(replies)} replies'
    out = []
    for op, r in zip(rows, replies):
        if len(op) < 3:
            continue
        if r[0] == 'R':
            out.append(r[3:] if r[1] >= 0 else None)
        else:  # the command, its filler, then the answer: the last n bytes
            out.append(r[len(r) - op[2]:])
    return out


def simulate_pins(design, link, out_dir, q_in: np.ndarray, hw_id: int, seed: int = 1) -> dict:
    """build(sim=True) through the wrapper's pins: same verdict as simulation.simulate, plus cycles."""
    project_dir = Path(out_dir).resolve()
    sim_dir = project_dir / 'sim' / link.kind
    sim_dir.mkdir(parents=True, exist_ok=True)
    work = sim_dir / 'work'
    messages = prepare(project_dir, link, work)
    q_in = np.asarray(q_in, dtype=np.int64).reshape(-1, design.input.depth)
    o = design.output
    report = {'interface': link.kind, 'analysis_messages': messages, 'samples': len(q_in), 'log': str(sim_dir / 'ghdl.log')}
    if link.kind == 'axis':
        np.savetxt(sim_dir / 'input.txt', q_in, fmt='%d')
        run(project_dir, link, work, sim_dir, {'SEED': 1 + seed % 60000})
        rows = np.loadtxt(sim_dir / 'output.txt', dtype=np.int64, ndmin=2)
        q_sim, transfer, framing = rows[:, :-2], rows[:, -2], rows[:, -1]
        report['tlast_and_padding_ok'] = bool(framing.all())
        hi, lo = map(int, (sim_dir / 'hw_id.txt').read_text().split())
        report['hardware_id_read'] = f'0x{(hi << 16) | lo:08x}'
        busy = [list(map(int, r.split())) for r in (sim_dir / 'busy.txt').read_text().splitlines() if r.strip()]
        report['frame_cycles'] = int(transfer.max())  # first input beat to last output beat, stalls included
        report['compute_cycles'] = int(max(b[1] for b in busy))
        report['compute_cycles_min'] = int(min(b[1] for b in busy))
        report['transfer_cycles'] = report['frame_cycles'] - report['compute_cycles']
    else:
        ops = inference_ops(design, link, q_in)
        replies, busy = run_script(project_dir, link, ops, work, sim_dir)
        ans = answers(ops, replies)
        if any(a is None for a in ans):
            raise RuntimeError(f'{link.entity(design.project)} did not answer over its pins within {TIMEOUT} cycles '
                               f'(script and replies in {sim_dir})')  # fmt: skip
        report['hardware_id_read'] = f'0x{int.from_bytes(bytes(ans[0] or []), "little"):08x}'
        status, reads = ans[1::2], ans[2::2]
        q_sim = np.array([itf.unpack(bytes(r[1:]), o.type) for r in reads]).reshape(len(q_in), o.depth)
        report['status_after_wait'] = sorted({tuple(s) for s in status})
        report['read_state'] = sorted({r[0] for r in reads})
        per = 6 if link.kind == 'uart' else 4  # script rows of one inference (inference_ops)
        first = 2 if link.kind == 'uart' else 1
        spans = [sum(r[2] - r[1] for r in replies[k:k + per]) for k in range(first, len(replies), per)]
        report['transfer_cycles'] = int(max(spans))  # moving bytes: write, start, status, read
        report['compute_cycles'] = int(max(b[1] for b in busy)) if busy else 0
        report['compute_cycles_min'] = int(min(b[1] for b in busy)) if busy else 0
    q_emu, _ = design.run(q_in)
    mismatched = np.any(q_sim != q_emu, axis=1) if q_sim.shape == q_emu.shape else np.ones(len(q_in), bool)
    report.update({
        'outputs': o.type.to_float(q_sim), 'outputs_int': q_sim, 'inputs_int': q_in,
        'bit_exact': bool(not mismatched.any() and report.get('tlast_and_padding_ok', True)), 'mismatches': int(mismatched.sum()),
        'hardware_id': f'0x{hw_id:08x}', 'hardware_id_ok': report['hardware_id_read'] == f'0x{hw_id:08x}',
        'cycles_expected': design.cycles(),
    })  # fmt: skip
    return report
