"""Matrix products on the shared MAC engine: Dense layers (2-D input, or per time step on
(time, features) input; weights from a ROM) and products of two buffers (attention).

VHDL: ``vs_dense_ctrl.vhd`` sequences a product; ``vs_mac_engine.vhd`` multiplies.
Arithmetic: the exact sum of x*w products (never overflows: the engine's accumulator is
sized for the worst case), plus the bias on a common scale, then one cast to the output type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ...errors import UnsupportedError
from ...fixed import FixedType, bits_for_range
from ...integer_ops import cast_sum
from .base import BANK_BY_COLUMN, NEVER, Buffer, Emitted, Rom, generic_map, pack_words, rom_instance
from .rom_pack import weight_packs
from .conv1d import block_diagonal, conv1d_geometry
from .weights import weight_codes

ENGINE_DRAIN_CYCLES = 5  # a group's last issue to its sums: operand read, engine input register, product (2), accumulator
# vs_dense_ctrl's write-back pipeline: select (shadow word and bias), sum, round, range, clamp, and
# a second round, range and clamp when an activation is fused: word k selected in cycle c is
# written in cycle c + WB_STAGES (before the pipeline it was c + 1).
WB_STAGES, WB_STAGES_FUSED = 5, 8


def lanes_for_reuse(n_in: int, n_out: int, reuse: int, lanes: int, what: str) -> int:
    """Lanes a layer uses: hls4ml's ReuseFactor R allows ceil(n_in*n_out/R) multipliers;
    a lane computes one neuron (n_in products), so the layer uses that many over n_in."""
    if not isinstance(reuse, int) or not 1 <= reuse <= n_in * n_out:
        raise UnsupportedError(f'{what}: ReuseFactor {reuse!r} is not valid; use an integer 1..{n_in * n_out}')
    allowed = math.ceil(n_in * n_out / reuse)
    return max(1, min(lanes, n_out, allowed // n_in))


class EngineJob:
    """What every product on the engine shares: exact accumulation, the schedule, the
    controller instance. Subclasses give x (Buffer), y (Buffer), w_type, b_type, n_h, n_t,
    n_in, n_out, lanes_used, out_shift_extra (a power-of-2 scale folded into the cast),
    geometry() (address strides) and operand_ports(engine) (the w and bias connections)."""

    entity = 'vs_dense_ctrl'  # vhdl/vs_dense_ctrl.vhd
    label = 'ctrl'  # instance label suffix in the top level
    uses_engine = True
    n_h = 1
    out_shift_extra = 0
    post = None  # an ActivationUnit fused into the write-back (design.fuse_activations): y is its output
    x_tap, x_gap = 1, 0  # a row's window has no holes (DenseUnit: a dilated Conv1D's taps)

    @property
    def dense_type(self) -> FixedType:
        """The product's own result type (the fused activation's input type when there is one)."""
        return self.post.x.type if self.post is not None else self.y.type

    @property
    def prod_frac(self) -> int:
        return self.x.type.frac + self.w_type.frac

    @property
    def sum_frac(self) -> int:
        return max(self.prod_frac, self.b_type.frac)

    @property
    def acc_width(self) -> int:
        """Signed width of the exact sum of n_in products."""
        xt, wt = self.x.type, self.w_type
        corners = [a * b for a in (xt.min_int, xt.max_int) for b in (wt.min_int, wt.max_int)]
        return bits_for_range(self.n_in * min(corners), self.n_in * max(corners))

    def check_accumulator(self, what):
        from ...fixed import MAX_ACCUM_WIDTH

        if self.acc_width > MAX_ACCUM_WIDTH:
            raise UnsupportedError(
                f'{what}: the exact accumulator needs {self.acc_width} bits, more than the {MAX_ACCUM_WIDTH} '
                'a DSP48E1 holds; narrow the input or weight precision'
            )

    def cast(self, acc, bias):
        """The result codes of exact sums acc (at prod_frac) and bias codes (at b_type.frac),
        through the fused activation when there is one."""
        codes = cast_sum(acc, self.prod_frac, bias, self.b_type.frac, self.dense_type, self.out_shift_extra)
        return codes if self.post is None or self._unfused else self.post.map_codes(codes)

    _unfused = False  # dense_codes: stop at the product's own type (not a dataclass field)

    def dense_codes(self, env):
        """The product's own result (before a fused activation), for hls4ml's trace."""
        self._unfused = True
        try:
            return self.emulate(env)
        finally:
            self._unfused = False

    # -- schedule ----------------------------------------------------------------------
    @property
    def groups(self) -> int:
        return -(-self.n_out // self.lanes_used)

    @property
    def wb_stages(self) -> int:
        return WB_STAGES if self.post is None else WB_STAGES_FUSED

    def cycles(self) -> int:
        """Start to done in vs_dense_ctrl: groups of P outputs are issued back to back (n_in cycles
        each) while the previous group is written from the shadow bank (one output a cycle), so a
        group costs max(n_in, outputs of the group before); the last one then drains and is written."""
        p, n_in, rows = self.lanes_used, self.n_in, self.n_h * self.n_t
        last_nw = self.n_out - (self.groups - 1) * p
        return (self.wb_stages + n_in + ENGINE_DRAIN_CYCLES + last_nw
                + rows * (self.groups - 1) * max(n_in, p) + (rows - 1) * max(n_in, last_nw))  # fmt: skip

    def macs(self) -> int:
        return self.n_h * self.n_t * self.n_in * self.n_out

    def _groups_timed(self):
        """(h, t, g, outputs, first issue cycle) of every group, in issue order: group j + 1 is
        issued max(n_in, outputs of group j) cycles after group j (the first in cycle 1)."""
        p, out, s = self.lanes_used, [], 1
        for h in range(self.n_h):
            for t in range(self.n_t):
                for g in range(self.groups):
                    nw = min(p, self.n_out - g * p)
                    out.append((h, t, g, nw, s))
                    s += max(self.n_in, nw)
        return out

    def window_offsets(self) -> np.ndarray:
        """Issue step i reads x[t * X_T + offset[i]] of row t: i for a Dense (consecutive rows) and a
        Conv1D (sliding windows), i + (i // x_tap) * x_gap for a dilated Conv1D (taps x_gap apart)."""
        i = np.arange(self.n_in)
        return i + (i // self.x_tap) * self.x_gap

    def first_reads(self) -> dict:
        """x[h*X_H + t*X_T + offset_i] is read (address presented) in cycle s + i of each of its row's groups."""
        geo, offsets, i = self.geometry(), self.window_offsets(), np.arange(self.n_in)
        first = np.full(self.x.depth, NEVER, dtype=np.int64)
        for h, t, _, _, s in reversed(self._groups_timed()):  # the earliest group of a row last
            first[h * geo['X_H'] + t * geo['X_T'] + offsets] = s + i
        return {self.x.name: first}

    def write_cycles(self):
        """Output k of a group is written in cycle s + n_in + ENGINE_DRAIN_CYCLES + wb_stages + k (its
        sums show at the last issue + the drain, then one a cycle through the write-back pipeline);
        None when y is banked."""
        if self.y.banks > 1:
            return None
        geo = self.geometry()
        writes = np.zeros(self.y.depth, dtype=np.int64)
        for h, t, g, nw, s in self._groups_timed():
            k = np.arange(nw)
            writes[h * geo['Y_H'] + t * geo['Y_T'] + g * self.lanes_used + k] = (
                s + self.n_in + ENGINE_DRAIN_CYCLES + self.wb_stages + k)
        return writes

    # -- VHDL --------------------------------------------------------------------------
    def result_geometry(self) -> dict:
        """Result addressing: row stride and banking of y (see vs_dense_ctrl's Y_MODE)."""
        y = self.y
        if y.bank_mode == BANK_BY_COLUMN and y.banks != self.lanes_used:
            raise UnsupportedError(f'{self.name}: a result banked by column needs P = banks ({y.banks})')
        return dict(Y_MODE=y.bank_mode, Y_BANKS=y.banks)

    def generics(self, engine) -> dict:
        """The VHDL generics of the unit's entity (also what the resource model reads)."""
        yt, dt, w_aw, b_w, b_aw = self.y.type, self.dense_type, *self.operand_widths()
        return dict(
            N_IN=self.n_in, N_OUT=self.n_out, N_T=self.n_t, P=self.lanes_used, LANES=engine.lanes, N_H=self.n_h,
            **self.geometry(), **self.result_geometry(),
            X_W=self.x.type.width, X_SIGNED=self.x.type.signed,
            W_W=self.w_type.width, W_SIGNED=self.w_type.signed,
            BIAS_W=b_w, BIAS_SIGNED=self.b_type.signed,
            A_W=engine.a_width, B_W=engine.b_width, ACC_W=engine.acc_width,
            ACC_SHIFT=self.sum_frac - self.prod_frac, BIAS_SHIFT=self.sum_frac - self.b_type.frac,
            OUT_SHIFT=self.sum_frac + self.out_shift_extra - dt.frac,
            D_W=dt.width, D_SIGNED=dt.signed, D_RND=dt.rounding_code, D_SAT=dt.saturation_code,
            POST=int(self.post is not None), POST_RELU=int(self.post is not None and self.post.relu),
            POST_SHIFT=dt.frac - yt.frac,
            Y_W=yt.width, Y_SIGNED=yt.signed, RND=yt.rounding_code, SAT=yt.saturation_code,
            XA_W=self.x.aw, WA_W=w_aw, BA_W=b_aw, YA_W=self.y.aw,
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        n = self.name
        generics = generic_map(**self.generics(engine))
        op_signals, op_body, roms, w_ports = self.operand_ports(engine)
        signals = [
            f'signal {n}_x_addr : std_logic_vector({self.x.aw - 1} downto 0);', *op_signals,
            f'signal {n}_eng_valid, {n}_eng_first, {n}_eng_last : std_logic;',
            f'signal {n}_eng_a : std_logic_vector({engine.a_width - 1} downto 0);',
            f'signal {n}_eng_b : std_logic_vector({engine.lanes * engine.b_width - 1} downto 0);',
            f'signal {n}_eng_sel : std_logic_vector({engine.sel_width - 1} downto 0);',
        ]
        self.x.readers.append(f'{n}_x_addr')
        engine.clients.append(n)
        y_bank = f'{self.y.name}_wbank' if self.y.banks > 1 else 'open'
        body = op_body + f"""  {n}_{self.label} : entity work.{self.entity}
    generic map ({generics})
    port map (
      clk => clk, rst => rst, start => {n}_start, done => {n}_done,
      x_addr => {n}_x_addr, x_data => {self.x.name}_rdata,
      {w_ports},
      eng_valid => {n}_eng_valid, eng_first => {n}_eng_first, eng_last => {n}_eng_last,
      eng_a => {n}_eng_a, eng_b => {n}_eng_b, eng_acc_valid => eng_acc_valid, eng_sel => {n}_eng_sel,
      eng_sum => eng_sum,
      y_we => {self.y.name}_we, y_bank => {y_bank}, y_addr => {self.y.name}_waddr, y_data => {self.y.name}_wdata
    );
"""
        return Emitted(signals, body, roms)


@dataclass
class DenseUnit(EngineJob):
    """A Dense layer: weights and biases from ROMs."""

    name: str
    layer_name: str
    x: object  # Buffer
    y: object  # Buffer
    n_in: int
    n_out: int
    n_t: int
    lanes_used: int
    w_type: FixedType
    b_type: FixedType
    weights: np.ndarray  # (n_in, n_out) ints
    bias: np.ndarray  # (n_out,) ints
    w_storage: str
    x_row: int = 0  # input elements between two rows' windows (a Conv1D's stride x channels); 0: n_in
    x_tap: int = 1  # a dilated Conv1D: its window is taps of x_tap (channels) elements, x_gap apart
    x_gap: int = 0

    @classmethod
    def from_layer(cls, layer, design, x=None):
        """x: the buffer read (default the layer's input; a padded copy for a Conv1D, conv1d.py)."""
        what = f'layer {layer.name!r} ({layer.class_name})'
        x = x or design.input_buffer(layer)
        in_shape = list(layer.get_input_variable().shape)
        if layer.class_name == 'Dense':
            if len(in_shape) not in (1, 2):
                raise UnsupportedError(f'{what}: Dense on input shape {in_shape} is not supported; '
                                       'supported: (features) or (time, features)')  # fmt: skip
            n_t, n_in = ([1] + in_shape)[-2:]
            x_row = x_gap = 0  # rows follow each other
        else:  # a Conv1D: a Dense per output step over its window of the input (conv1d_geometry)
            n_t, n_in, x_row, x_gap = conv1d_geometry(layer, in_shape, x.depth, what)
        w_type, weights = weight_codes(layer.weights['weight'], f'{what} weight')
        if layer.class_name == 'DepthwiseConv1D':  # hls4ml's split of a SeparableConv1D too
            weights = block_diagonal(weights, layer.get_attr('filt_width'), layer.get_attr('n_chan'))
        weights = weights.reshape(n_in, -1)
        n_out = weights.shape[1]
        bias_var = layer.weights.get('bias')
        if bias_var is not None:
            b_type, bias = weight_codes(bias_var, f'{what} bias')
            bias = bias.reshape(-1)
        else:
            b_type, bias = FixedType(1, 0), np.zeros(n_out, dtype=np.int64)
        lanes_used = lanes_for_reuse(n_in, n_out, layer.get_attr('reuse_factor', 1), design.lanes, what)
        y = design.output_buffer(layer)
        unit = cls(
            name=design.unit_name(layer),
            layer_name=layer.name,
            x=x,
            y=y,
            n_in=n_in,
            n_out=n_out,
            n_t=n_t,
            lanes_used=lanes_used,
            w_type=w_type,
            b_type=b_type,
            weights=weights,
            bias=bias,
            w_storage=design.storage(layer, 'weight', n_in * n_out * w_type.width),
            x_row=x_row,
            x_tap=layer.get_attr('n_chan', 1) if x_gap else 1,
            x_gap=x_gap,
        )
        unit.check_accumulator(what)
        return unit

    def emulate(self, env):
        x = env[self.x.name]
        x = x[:, np.arange(self.n_t)[:, None] * self.geometry()['X_T'] + self.window_offsets()]
        return self.cast(np.matmul(x, self.weights), self.bias).reshape(x.shape[0], -1)  # int64: exact

    # -- VHDL --------------------------------------------------------------------------
    @cached_property
    def _rom_words(self):
        """Packed ROM words (fixed once the layer is lowered): weights then biases."""
        p, g = self.lanes_used, self.groups
        padded = np.zeros((self.n_in, g * p), dtype=np.int64)
        padded[:, : self.n_out] = self.weights
        rows = [padded[i, gi * p : (gi + 1) * p] for gi in range(g) for i in range(self.n_in)]
        bias = np.zeros(g * p + 1, dtype=np.int64)
        bias[: self.n_out] = self.bias
        return pack_words(rows, self.w_type.width), pack_words(bias.reshape(-1, 1), self.b_type.width)

    def roms(self):
        w_words, b_words = self._rom_words
        w_rom = Rom(f'{self.name}_w', w_words, self.lanes_used * self.w_type.width, self.w_storage)
        b_rom = Rom(f'{self.name}_b', b_words, self.b_type.width, 'lutram')
        return w_rom, b_rom

    def geometry(self) -> dict:
        taps = dict(X_TAP=self.x_tap, X_GAP=self.x_gap) if self.x_gap else {}  # only a dilated Conv1D has them
        return dict(X_T=self.x_row or self.n_in, X_H=0, W_G=self.n_in, W_H=0, W_SI=1, Y_H=0, **taps,
                    Y_T=self.n_out // self.y.banks if self.y.bank_mode == BANK_BY_COLUMN else self.n_out)  # fmt: skip

    def operand_widths(self):
        w_rom, b_rom = self.roms()
        return w_rom.aw, self.b_type.width, b_rom.aw

    def operand_ports(self, engine):
        w_rom, b_rom = self.roms()
        (w_signals, w_body), (b_signals, b_body) = rom_instance(w_rom), rom_instance(b_rom)
        pack = engine.pack_of(self)
        w_data = f'{w_rom.name}_data'
        if pack is not None:  # the weights are read from the pack's ROM, which the engine emits
            w_signals, w_body, w_data = w_signals[:1], '', f'{pack.rom.name}_data'
        ports = (f'w_addr => {w_rom.name}_addr, w_data => {w_data}, b_addr => {b_rom.name}_addr, '
                 f'b_data => {b_rom.name}_data')  # fmt: skip
        roms = [b_rom] if pack is not None else [w_rom, b_rom]
        return w_signals + b_signals, w_body + b_body, roms, ports


@dataclass
class MatMulUnit(EngineJob):
    """y[h, t, o] = cast(sum_i x[h, t, i] * w[h, o, i] * 2^-out_shift_extra) between buffers, per head:
    attention's Q K^T (x = Q, w = K banked by row) and A V (x = A, w = V banked by column).
    geometry: the address strides of vs_dense_ctrl (X_T, X_H, W_G, W_H, W_SI, Y_T, Y_H)."""

    name: str
    layer_name: str
    x: Buffer
    w: Buffer  # banked: lanes_used elements a read
    y: Buffer
    n_t: int
    n_in: int
    n_out: int
    lanes_used: int
    strides: dict
    n_h: int = 1
    out_shift_extra: int = 0

    b_type = FixedType(1, 0)

    @property
    def w_type(self) -> FixedType:
        return self.w.type

    def emulate(self, env):
        """Reads x and w through the strides, as the controller does."""
        g = self.strides
        x, w = env[self.x.name], env[self.w.name]
        h, t, o, i = np.ix_(range(self.n_h), range(self.n_t), range(self.n_out), range(self.n_in))
        xs = x[:, h * g['X_H'] + t * g['X_T'] + i]  # (batch, h, t, 1, i)
        ws = w[:, self.w_index(h, o, i)]  # (batch, h, 1, o, i)
        acc = (xs * ws).sum(axis=-1)
        y = np.empty((x.shape[0], self.y.depth), dtype=np.int64)
        y[:, (h * g['Y_H'] + t * g['Y_T'] + o)[..., 0]] = self.cast(acc, 0)
        return y

    def w_index(self, h, o, i):
        """The logical element of w the lane for output o reads at step i of head h."""
        w = self.w
        if w.bank_mode == BANK_BY_COLUMN:  # V: element (s = i, feature = h * n_out + o)
            return i * w.row + h * self.n_out + o
        return o * w.row + h * self.n_in + i  # K banked by row: element (s = o, feature h * n_in + i)

    def geometry(self) -> dict:
        return dict(self.strides)

    def operand_widths(self):
        return self.w.aw, 1, 1

    def operand_ports(self, engine):
        n = self.name
        self.w.readers.append(f'{n}_w_addr')
        signals = [f'signal {n}_w_addr : std_logic_vector({self.w.aw - 1} downto 0);']
        ports = (f"w_addr => {n}_w_addr, w_data => {self.w.name}_rdata, b_addr => open, b_data => \"0\"")
        return signals, '', [], ports


def po2_codes(codes: np.ndarray) -> bool:
    """Every code is 0 or +-2^e (what a shift lane multiplies by)."""
    mag = np.abs(np.asarray(codes, dtype=np.int64))
    return bool(np.all((mag & (mag - 1)) == 0))


@dataclass
class Engine:
    """The shared multiply-accumulate engine: lane count and operand widths cover every layer.
    shift: every lane is a shift lane (vs_mac_lane DSP => 2), which needs every product's weight
    code to be 0 or +-2^e; such an engine has no DSP lanes."""

    lanes: int
    dsp_lanes: int
    a_width: int
    b_width: int
    acc_width: int
    clients: list
    jobs: list = field(default_factory=list, repr=False)  # the units that run on the engine, in order
    shift: bool = False

    @classmethod
    def for_units(cls, units, lanes: int, dsp_lanes: int, shift_lanes: str = 'auto'):
        dense = [u for u in units if getattr(u, 'uses_engine', False)]
        if not dense:
            return None
        a_w = max(u.x.type.signed_width for u in dense)
        b_w = max(u.w_type.signed_width for u in dense)
        acc_w = max(max(u.acc_width for u in dense), a_w + b_w)
        # a buffer operand (attention's MatMulUnit) can hold any value: only ROM weights qualify
        shift = shift_lanes == 'auto' and all(isinstance(u, DenseUnit) and po2_codes(u.weights) for u in dense)
        return cls(lanes, 0 if shift else dsp_lanes, a_w, b_w, acc_w, [], dense, shift)

    def weight_packs(self) -> list:
        """The weight packs (rom_pack.py) of the current storage choices, recomputed when they change."""
        key = tuple(getattr(u, 'w_storage', None) for u in self.jobs)
        cached = self.__dict__.get('_packs')
        if cached is None or cached[0] != key:
            from ...resource_model.components import rom_ramb18

            cached = self.__dict__['_packs'] = (key, weight_packs(self.jobs, rom_ramb18))
        return cached[1]

    def pack_of(self, unit):
        return next((p for p in self.weight_packs() if any(u is unit for u in p.members)), None)

    @property
    def sel_width(self) -> int:
        """Width of the shadow-bank word select (vs_max(vs_clog2(LANES), 1))."""
        return max((self.lanes - 1).bit_length(), 1)

    def generics(self) -> dict:
        shift = {'SHIFT': 1} if self.shift else {}  # absent when 0: multiplier engines keep their parameters
        return dict(LANES=self.lanes, DSP_LANES=self.dsp_lanes, A_W=self.a_width, B_W=self.b_width,
                    ACC_W=self.acc_width, **shift)  # fmt: skip

    def emit(self) -> Emitted:
        def or_of(port):
            return ' or '.join(f'{c}_{port}' for c in self.clients)

        signals = [
            f'signal eng_sum : std_logic_vector({self.acc_width - 1} downto 0);',
            'signal eng_acc_valid : std_logic;',
        ]
        generics = generic_map(**self.generics())
        body = f"""  -- The shared engine: idle controllers drive zeros, so their requests are ORed.
  engine : entity work.vs_mac_engine
    generic map ({generics})
    port map (
      clk => clk, in_valid => {or_of('eng_valid')}, in_first => {or_of('eng_first')},
      in_last => {or_of('eng_last')}, a => {or_of('eng_a')}, b => {or_of('eng_b')},
      acc => open, acc_valid => eng_acc_valid, sel => {or_of('eng_sel')}, sum => eng_sum
    );
"""
        packs = self.weight_packs()
        for pack in packs:
            pack_signals, pack_body = pack.emit()
            signals += pack_signals
            body += f'  -- {pack.name}: the weights of {", ".join(u.layer_name for u in pack.members)} in one ROM\n'
            body += pack_body
        return Emitted(signals, body, [p.rom for p in packs])

