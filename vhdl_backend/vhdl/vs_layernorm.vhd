-- vs_layernorm: integer layer normalization over rows of N elements (vhdlspartan.layers.
-- QLayerNormalization, integer_ops.reference_layernorm). The x codes are already on the
-- layer's input grid. Per row:
--   pass 1 reads the row and sums it: S = sum(x);
--   pass 2 reads it again: D = N * x - S, V = sum(D * D) + EPS_M * 2^EPS_SH (exact; the
--   constant is Keras' epsilon on the scale of V, 0 for QLayerNormalization);
--   then HALF = ceil((bit_length(V) - TB) / 2) (V = 0 is taken as V = 1: every D is 0 then),
--   the table index V >> 2 * HALF (a left shift for HALF < 0) is sent to the table ROM;
--   pass 3 reads the row a third time: z = cast((D * inv) << (E_MAX - HALF)), RND_CONV, SAT.
-- One multiplier, shared by D * D (pass 2) and D * inv (pass 3). The inverse square root table
-- is a ROM outside (registered read, its address held through pass 3). The next row's pass 1
-- starts while the last z values of a row go through the pipeline.
--
-- The pipeline, by the cycle an element's value is valid in, counted from its read (x_addr, a
-- register) in cycle 0: 1 x_data; 2 x registered (pass 1 adds it to S); 3 N * x; 4 D and the
-- multiplier's operands, registers the DSP absorbs (D and D, or D and the table entry, read in
-- cycle 3); 5 the product (pass 2 adds it to V); 6, 7 the product shifted left by E_MAX - HALF,
-- two bits of the shift then the rest; 8 the floor of the rounding, its increment and where
-- the floor lies against the range of z; 9 z written (y_we; done with the last one).
-- HALF comes from V in two steps while the first reads of pass 3 are in flight: in the cycle V
-- is complete (6 cycles after the last read of pass 2) the one-hot of the pair of bits holding
-- the leading one of V, a cycle later the table index and the shift from it. Pass 2 and
-- pass 3 are 5 cycles apart. Every path between registers is a few LUTs, one adder, or the DSP.
-- Cycles from start to done: ROWS * (3 * N + 5) + 9.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_layernorm is
  generic (
    ROWS : positive; N : positive; AW : positive;
    X_W : positive; X_SIGNED : boolean;
    S_W : positive;                           -- signed width of S = sum(x) (and of N * x)
    D_W : positive;                           -- signed width of D = N * x - S
    V_W : positive;                           -- unsigned width of V = sum(D * D)
    TB : positive;                            -- table_bits: 2^TB entries
    INV_W : positive;                         -- unsigned table entries
    E_MIN : integer; E_MAX : natural;         -- range of HALF
    P_W : positive;                           -- signed width of (D * inv) << (E_MAX - HALF)
    SHIFT : integer;                          -- inv_frac + E_MAX - z frac bits
    Z_W : positive;                           -- signed z type (RND_CONV, SAT)
    EPS_M : natural := 0; EPS_SH : natural := 0  -- V starts at EPS_M * 2^EPS_SH
  );
  port (
    clk, rst, start : in std_logic;
    done   : out std_logic;
    x_addr : out std_logic_vector(AW - 1 downto 0);
    x_data : in  std_logic_vector(X_W - 1 downto 0);
    t_addr : out std_logic_vector(TB - 1 downto 0);
    t_data : in  std_logic_vector(INV_W - 1 downto 0);
    y_we   : out std_logic;
    y_addr : out std_logic_vector(AW - 1 downto 0);
    y_data : out std_logic_vector(Z_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_layernorm is
  constant XS_W : positive := X_W + 1;                      -- x as signed
  constant OB_W : positive := vs_max(D_W, INV_W + 1);       -- second multiplier operand
  constant M_W  : positive := D_W + OB_W;
  constant LSH_MAX : natural := E_MAX - E_MIN;
  constant V_ADD : unsigned(V_W - 1 downto 0) := shift_left(to_unsigned(EPS_M, V_W), EPS_SH);
  constant LB   : positive := vs_max(vs_clog2(LSH_MAX + 1), 2);  -- bits of the shift E_MAX - HALF
  constant NP   : positive := LSH_MAX + 1;                  -- values of HALF: pairs of bits of V
  constant GAP  : positive := 5;                            -- cycles without reads before pass 3
  constant LQ   : positive := vs_round_len(P_W, SHIFT);     -- vs_round's result
  constant QW   : positive := vs_max(LQ, Z_W + 1) + 1;      -- vs_saturate's working width

  -- N in non-adjacent form (digits -1, 0, 1, no two adjacent non-zero): N * x as few shifted copies
  -- of x added or subtracted (no multiplier for a constant)
  constant NB : positive := vs_clog2(N + 1) + 2;
  type digits_t is array (0 to NB - 1) of integer range -1 to 1;
  function naf_of(m : positive) return digits_t is
    variable r : digits_t := (others => 0);
    variable v : natural := m;
  begin
    for b in 0 to NB - 1 loop
      if v mod 2 = 1 then
        if v mod 4 = 3 then
          r(b) := -1; v := v + 1;
        else
          r(b) := 1; v := v - 1;
        end if;
      end if;
      v := v / 2;
    end loop;
    return r;
  end function;
  constant NAF : digits_t := naf_of(N);
  function digit_count return natural is
    variable c : natural := 0;
  begin
    for b in 0 to NB - 1 loop
      if NAF(b) /= 0 then c := c + 1; end if;
    end loop;
    return c;
  end function;
  constant ND : positive := digit_count;
  -- the non-zero digits, most significant first, in two halves: the ND_HI most significant ones
  -- (the top one, +1, among them) and the rest, summed apart (one adder each for up to four
  -- digits), then one adder joins them
  constant ND_HI : positive := (ND + 1) / 2;
  type pos_t is array (0 to NB - 1) of natural;
  function digit_positions return pos_t is
    variable r : pos_t := (others => 0);
    variable c : natural := 0;
  begin
    for b in NB - 1 downto 0 loop
      if NAF(b) /= 0 then
        r(c) := b; c := c + 1;
      end if;
    end loop;
    return r;
  end function;
  constant DPOS : pos_t := digit_positions;
  -- is every digit k0 .. k1 (in the order above) negative?
  function all_negative(k0, k1 : natural) return boolean is
    variable r : boolean := true;
  begin
    for k in k0 to k1 loop
      if NAF(DPOS(k)) = 1 then r := false; end if;
    end loop;
    return r;
  end function;
  constant LO_NEG : boolean := all_negative(ND_HI, ND - 1);  -- the lower half is subtracted
  -- the terms of digits k0 .. k1 added, the positive ones first (a half starts without an
  -- adder); neg: every one is negative, their magnitudes are added
  function half_sum(x : signed; k0, k1 : natural; neg : boolean) return signed is
    variable r       : signed(D_W - 1 downto 0) := (others => '0');
    variable started : boolean := false;
  begin
    for k in k0 to k1 loop
      if NAF(DPOS(k)) = 1 or neg then
        if started then
          r := r + shift_left(resize(x, D_W), DPOS(k));
        else
          r := shift_left(resize(x, D_W), DPOS(k));
          started := true;
        end if;
      end if;
    end loop;
    for k in k0 to k1 loop
      if NAF(DPOS(k)) = -1 and not neg then
        r := r - shift_left(resize(x, D_W), DPOS(k));
      end if;
    end loop;
    return r;
  end function;
  -- N * x modulo 2^D_W (D = N * x - S fits D_W bits, so D comes out exact)
  function times_n(x : signed) return signed is
    variable r : signed(D_W - 1 downto 0) := half_sum(x, 0, ND_HI - 1, false);
  begin
    if ND > ND_HI then
      if LO_NEG then
        r := r - half_sum(x, ND_HI, ND - 1, true);
      else
        r := r + half_sum(x, ND_HI, ND - 1, false);
      end if;
    end if;
    return r;
  end function;

  -- HALF = E_MIN + k for the leading one of V in bit TB - 2 + 2 * HALF or the one above it (the
  -- pair k), k = 0 for V = 0. Its one-hot: the pairs' ORs (pair 0 taken as non-zero), reversed,
  -- and their lowest one isolated, r and -r: a carry chain, not a chain of LUTs
  function onehot_of(v : unsigned) return unsigned is
    variable r   : unsigned(NP - 1 downto 0) := (others => '0');  -- r(NP - 1 - k): pair k
    variable oh  : unsigned(NP - 1 downto 0);
    variable pos : integer;
  begin
    r(NP - 1) := '1';
    for k in 1 to NP - 1 loop
      for b in 0 to 1 loop
        pos := TB - 2 + 2 * (E_MIN + k) + b;
        if pos >= 0 and pos < v'length then
          r(NP - 1 - k) := r(NP - 1 - k) or v(v'low + pos);
        end if;
      end loop;
    end loop;
    r := r and ((not r) + 1);
    for k in 0 to NP - 1 loop
      oh(k) := r(NP - 1 - k);
    end loop;
    return oh;
  end function;

  -- the table index, V >> 2 * HALF (a left shift when HALF < 0), low TB bits: for each k, bits
  -- 2 * (E_MIN + k) .. of V; each bit an OR of one-hot terms (a vector compare: a balanced tree)
  function index_of(oh : unsigned; v : unsigned) return unsigned is
    variable r     : unsigned(TB - 1 downto 0) := (others => '0');
    variable terms : unsigned(NP - 1 downto 0);
    variable pos   : integer;
  begin
    for t in 0 to TB - 1 loop
      terms := (others => '0');
      for k in 0 to NP - 1 loop
        pos := 2 * (E_MIN + k) + t;
        if pos >= 0 and pos < v'length then
          terms(k) := oh(oh'low + k) and v(v'low + pos);
        end if;
      end loop;
      if terms /= 0 then
        r(t) := '1';
      end if;
    end loop;
    return r;
  end function;

  -- the left shift E_MAX - HALF = LSH_MAX - k: bit b the OR of the one-hot bits of the k with
  -- bit b set
  function shift_amount(oh : unsigned) return unsigned is
    variable r    : unsigned(LB - 1 downto 0) := (others => '0');
    variable mask : unsigned(NP - 1 downto 0);
    variable s    : unsigned(LB - 1 downto 0);
  begin
    for b in 0 to LB - 1 loop
      for k in 0 to NP - 1 loop
        s := to_unsigned(LSH_MAX - k, LB);
        mask(k) := s(b);
      end loop;
      if (oh and mask) /= 0 then
        r(b) := '1';
      end if;
    end loop;
    return r;
  end function;

  -- p << s for the bits b0 .. b1 of s: a logarithmic shifter, one stage a bit
  function shift_bits(p : signed; s : unsigned; b0, b1 : natural) return signed is
    variable r : signed(P_W - 1 downto 0) := resize(p, P_W);
  begin
    for b in b0 to b1 loop
      if s(s'low + b) = '1' then
        r := shift_left(r, 2 ** b);
      end if;
    end loop;
    return r;
  end function;

  -- vs_requant(p, SHIFT, Z_W, true, RND_CONV, SAT) in two steps: here the floor q of vs_round
  -- (QW bits), its increment and how q compares to the range of z; then z from those
  function floor_of(p : signed) return signed is
    variable x : signed(LQ - 1 downto 0) := resize(p, LQ);
  begin
    if SHIFT <= 0 then
      return resize(shift_left(x, -SHIFT), QW);
    end if;
    return resize(shift_right(x, SHIFT), QW);
  end function;

  function increment_of(p : signed) return std_logic is
    variable x : signed(LQ - 1 downto 0) := resize(p, LQ);
    variable q : signed(LQ - 1 downto 0);
    variable above, tie, nonzero : boolean;
  begin
    if SHIFT <= 0 then
      return '0';
    end if;
    q := shift_right(x, SHIFT);
    nonzero := x(SHIFT - 1 downto 0) /= 0;
    if SHIFT = 1 then
      tie := x(0) = '1';
      above := false;
    else
      tie := x(SHIFT - 1) = '1' and x(SHIFT - 2 downto 0) = 0;
      above := x(SHIFT - 1) = '1' and x(SHIFT - 2 downto 0) /= 0;
    end if;
    if vs_round_inc(6, q(0) = '1', above, tie, nonzero, x(LQ - 1) = '1') then
      return '1';
    end if;
    return '0';
  end function;

  -- the range of z: 2^(Z_W-1) - 1 and -2^(Z_W-1)
  function z_limit(top : std_logic) return signed is
    variable r : signed(Z_W - 1 downto 0) := (others => not top);
  begin
    r(Z_W - 1) := top;
    return r;
  end function;
  constant Z_HI : signed(Z_W - 1 downto 0) := z_limit('0');
  constant Z_LO : signed(Z_W - 1 downto 0) := z_limit('1');

  -- the state, one flag each: idle, pass 1, pass 2, the gap before pass 3, pass 3
  signal s_idle : std_logic := '1';
  signal s_sum, s_var, s_gap, s_norm : std_logic := '0';
  signal row   : natural range 0 to ROWS := 0;  -- ranges one past the end: GHDL checks + 1 statically
  signal j     : natural range 0 to N := 0;
  signal g     : natural range 0 to GAP := 0;
  signal base  : natural range 0 to ROWS * N := 0;
  signal ra    : natural range 0 to ROWS * N := 0;  -- x_addr: the read of this cycle, 0 without one
  signal wa    : natural range 0 to ROWS * N := 0;
  signal j0, jlast, rlast : std_logic := '0';  -- first / last element of a pass; last row
  -- flags of the element whose x_data comes in this cycle: read in pass 1/2/3, first of pass 1
  -- or 2, last of pass 2, last of all
  signal rd1, rd2, rd3, rf, rl2, rl3 : std_logic := '0';
  -- the same flags further down the pipeline, indexed by stage (see above)
  signal x1 : std_logic := '0';
  signal v2, f12, l2 : std_logic_vector(2 to 5) := (others => '0');
  signal v3, l3      : std_logic_vector(2 to 9) := (others => '0');
  signal vdone, ohv  : std_logic := '0';  -- V complete / its one-hot ready
  signal xs_r  : signed(XS_W - 1 downto 0) := (others => '0');
  signal s_acc : signed(S_W - 1 downto 0) := (others => '0');
  signal nx_r  : signed(D_W - 1 downto 0) := (others => '0');
  signal d_r   : signed(D_W - 1 downto 0) := (others => '0');
  signal b_r   : signed(OB_W - 1 downto 0) := (others => '0');
  signal m_r   : signed(M_W - 1 downto 0) := (others => '0');
  signal v_acc : unsigned(V_W - 1 downto 0) := (others => '0');
  signal oh_r  : unsigned(NP - 1 downto 0) := (others => '0');
  signal lsh   : unsigned(LB - 1 downto 0) := (others => '0');
  signal idx_r : unsigned(TB - 1 downto 0) := (others => '0');
  signal s1_r, ps_r : signed(P_W - 1 downto 0) := (others => '0');
  signal q_r   : signed(Z_W - 1 downto 0) := (others => '0');
  signal inc_r, gt_r, eq_r, lt_r : std_logic := '0';
  signal y_r   : std_logic_vector(Z_W - 1 downto 0) := (others => '0');
begin
  x_addr <= std_logic_vector(to_unsigned(ra, AW));
  t_addr <= std_logic_vector(idx_r);
  y_we <= v3(9);
  y_addr <= std_logic_vector(to_unsigned(wa, AW));
  y_data <= y_r;
  done <= l3(9);

  -- the data path: it runs whatever the state, its flags say which values are meaningful
  datapath : process (clk)
    variable d : signed(D_W - 1 downto 0);
    variable sel : signed(OB_W - 1 downto 0);
    variable q : signed(QW - 1 downto 0);
  begin
    if rising_edge(clk) then
      -- stage 2: x registered; pass 1 sums it
      xs_r <= vs_to_signed(x_data, X_SIGNED, XS_W);
      if x1 = '1' then
        if f12(2) = '1' then
          s_acc <= resize(xs_r, S_W);
        else
          s_acc <= s_acc + resize(xs_r, S_W);
        end if;
      end if;
      -- stage 3: N * x
      nx_r <= times_n(xs_r);
      -- stage 4: D, and the multiplier's second operand: D in pass 2, the table entry in pass 3
      -- (the table address is held through pass 3)
      d := nx_r - resize(s_acc, D_W);
      d_r <= d;
      -- an AND-OR, not a mux: the table entry's zero upper bits would make a synchronous reset of
      -- those bits of b_r only, and the DSP would take none of b_r as its B register
      sel := (others => v3(3));
      b_r <= (signed(resize(unsigned(t_data), OB_W)) and sel) or (resize(d, OB_W) and not sel);
      -- stage 5: the shared multiplier
      m_r <= d_r * b_r;
      -- pass 2: V = sum(D * D); then the one-hot of HALF, then the table index and the shift
      if v2(5) = '1' then
        if f12(5) = '1' then
          v_acc <= V_ADD + resize(unsigned(m_r), V_W);
        else
          v_acc <= v_acc + resize(unsigned(m_r), V_W);
        end if;
      end if;
      vdone <= v2(5) and l2(5);
      oh_r <= onehot_of(v_acc);
      ohv <= vdone;
      if ohv = '1' then
        idx_r <= index_of(oh_r, v_acc);
        lsh <= shift_amount(oh_r);
      end if;
      -- pass 3, stages 6 and 7: (D * inv) << lsh
      s1_r <= shift_bits(m_r, lsh, 0, 1);
      ps_r <= shift_bits(s1_r, lsh, 2, LB - 1);
      -- stage 8: the floor of the rounding, its increment, the floor against the range of z
      q := floor_of(ps_r);
      q_r <= q(Z_W - 1 downto 0);
      inc_r <= increment_of(ps_r);
      gt_r <= '0'; eq_r <= '0'; lt_r <= '0';
      if q(QW - 1) = '0' then
        if q(QW - 2 downto Z_W - 1) /= 0 then
          gt_r <= '1';
        elsif q(Z_W - 2 downto 0) = Z_HI(Z_W - 2 downto 0) then
          eq_r <= '1';
        end if;
      elsif q(QW - 2 downto Z_W - 1) /= -1 then
        lt_r <= '1';
      end if;
      -- stage 9: z = saturate(floor + increment)
      if gt_r = '1' or (eq_r = '1' and inc_r = '1') then
        y_r <= std_logic_vector(Z_HI);
      elsif lt_r = '1' then
        y_r <= std_logic_vector(Z_LO);
      else
        y_r <= std_logic_vector(q_r + signed'('0' & inc_r));
      end if;
      -- the flags move one stage on
      x1 <= rd1;
      v2 <= rd2 & v2(2 to 4);
      f12 <= rf & f12(2 to 4);
      l2 <= rl2 & l2(2 to 4);
      v3 <= rd3 & v3(2 to 8);
      l3 <= rl3 & l3(2 to 8);
      if rst = '1' then
        x1 <= '0'; v2 <= (others => '0'); v3 <= (others => '0'); l3 <= (others => '0');
        vdone <= '0'; ohv <= '0';
      end if;
    end if;
  end process;

  -- the control: one flag per state, each register's next value from a few flags
  control : process (clk)
    variable go, step, pend, rowend, gend : std_logic;
  begin
    if rising_edge(clk) then
      go := s_idle and start;                              -- start: row 0, pass 1
      step := (s_sum or s_var or s_norm) and not jlast;    -- the next element of a pass
      pend := (s_sum or s_var or s_norm) and jlast;        -- the last element of a pass
      rowend := s_norm and jlast;                          -- the last element of a row
      gend := '0';                                         -- the gap's last cycle
      if s_gap = '1' and g = GAP - 1 then gend := '1'; end if;
      -- reads issued in this cycle come back in the next one
      rd1 <= s_sum; rd2 <= s_var; rd3 <= s_norm;
      rf <= j0 and (s_sum or s_var); rl2 <= s_var and jlast; rl3 <= rowend and rlast;
      j0 <= go or pend or gend;
      -- if/elsif, not case: GHDL writes a case as a Verilog case without default,
      -- in which Yosys infers latches
      if rst = '1' then
        s_idle <= '1'; s_sum <= '0'; s_var <= '0'; s_gap <= '0'; s_norm <= '0';
        rd1 <= '0'; rd2 <= '0'; rd3 <= '0'; rl3 <= '0';
      else
        s_idle <= (s_idle and not start) or (rowend and rlast);
        s_sum <= go or (s_sum and not jlast) or (rowend and not rlast);
        s_var <= (s_sum and jlast) or (s_var and not jlast);
        s_gap <= (s_var and jlast) or (s_gap and not gend);
        s_norm <= gend or (s_norm and not jlast);
      end if;
      -- the read address: 0 without a read, the row's base at the start of a pass
      if rst = '1' or go = '1' or (s_var and jlast) = '1' or (rowend and rlast) = '1' then
        ra <= 0;
      elsif (s_sum and jlast) = '1' or gend = '1' then
        ra <= base;
      elsif step = '1' or rowend = '1' then
        ra <= ra + 1;
      end if;
      if go = '1' then
        base <= 0;
      elsif rowend = '1' and rlast = '0' then
        base <= ra + 1;
      end if;
      if go = '1' or pend = '1' then
        j <= 0;
        if N = 1 then jlast <= '1'; else jlast <= '0'; end if;
      elsif step = '1' then
        j <= j + 1;
        if j + 2 = N then jlast <= '1'; end if;
      end if;
      if go = '1' then
        row <= 0;
        if ROWS = 1 then rlast <= '1'; else rlast <= '0'; end if;
      elsif rowend = '1' and rlast = '0' then
        row <= row + 1;
        if row + 2 = ROWS then rlast <= '1'; end if;
      end if;
      if s_var = '1' then
        g <= 0;
      elsif s_gap = '1' and gend = '0' then
        g <= g + 1;
      end if;
      if go = '1' then
        wa <= 0;
      elsif v3(9) = '1' then
        wa <= wa + 1;
      end if;
    end if;
  end process;

end architecture;
