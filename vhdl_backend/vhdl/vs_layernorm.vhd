-- vs_layernorm: integer layer normalization over rows of N elements (vhdlspartan.layers.
-- QLayerNormalization, integer_ops.reference_layernorm). The x codes are already on the
-- layer's input grid. Per row:
--   pass 1 reads the row and sums it: S = sum(x);
--   pass 2 reads it again: D = N * x - S, V = sum(D * D) (exact);
--   then HALF = ceil((bit_length(V) - TB) / 2) (V = 0 is taken as V = 1: every D is 0 then),
--   the table index V >> 2 * HALF (a left shift for HALF < 0) is sent to the table ROM;
--   pass 3 reads the row a third time: z = cast((D * inv) << (E_MAX - HALF)), RND_CONV, SAT.
-- One multiplier, shared by D * D (pass 2) and D * inv (pass 3). The inverse square root table
-- is a ROM outside (registered read, its address held through pass 3). The next row's pass 1
-- starts while the last z values of a row go through the pipeline.
-- Cycles from start to done: ROWS * (3 * N + 5) + 5.
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
    Z_W : positive                            -- signed z type (RND_CONV, SAT)
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
  constant C_W  : positive := vs_max(S_W, D_W) + 2;         -- N * x - S computed here
  constant OB_W : positive := vs_max(D_W, INV_W + 1);       -- second multiplier operand
  constant M_W  : positive := D_W + OB_W;
  constant LSH_MAX : natural := E_MAX - E_MIN;
  constant IW   : positive := vs_max(V_W, TB) - 2 * E_MIN;  -- V shifted left by -2 * E_MIN

  type state_t is (S_IDLE, S_SUM, S_VAR, S_W1, S_W2, S_W3, S_LEN, S_IDX, S_NORM);
  signal st   : state_t := S_IDLE;
  signal row  : natural range 0 to ROWS := 0;  -- ranges one past the end: GHDL checks + 1 statically
  signal j    : natural range 0 to N := 0;
  signal base : natural range 0 to ROWS * N := 0;
  signal wa   : natural range 0 to ROWS * N := 0;
  -- pipeline flags: x data of pass 1/2/3 this cycle (rd*), D of pass 2/3 (dv*), product (mv*), shifted (pv)
  signal rd1, rd2, rd3, first1, first2 : std_logic := '0';
  signal dv2, dv3, df2, mv2, mv3, mf2, pv, y_we_r : std_logic := '0';
  signal s_acc : signed(S_W - 1 downto 0) := (others => '0');
  signal d_r   : signed(D_W - 1 downto 0) := (others => '0');
  signal m_r   : signed(M_W - 1 downto 0) := (others => '0');
  signal v_acc : unsigned(V_W - 1 downto 0) := (others => '0');
  signal half  : integer range E_MIN to E_MAX := E_MIN;
  signal lsh   : natural range 0 to LSH_MAX := 0;
  signal idx_r : unsigned(TB - 1 downto 0) := (others => '0');
  signal inv_r : unsigned(INV_W - 1 downto 0) := (others => '0');
  signal ps_r  : signed(P_W - 1 downto 0) := (others => '0');
  signal y_r   : std_logic_vector(Z_W - 1 downto 0) := (others => '0');

  -- N * x as shifted copies of x added (no multiplier for a constant)
  function times_n(x : signed) return signed is
    constant NW : positive := vs_clog2(N + 1) + 1;
    constant NU : unsigned(NW - 1 downto 0) := to_unsigned(N, NW);
    variable r  : signed(C_W - 1 downto 0) := (others => '0');
  begin
    for b in 0 to NW - 1 loop
      if NU(b) = '1' then
        r := r + shift_left(resize(x, C_W), b);
      end if;
    end loop;
    return r;
  end function;

  -- ceil((bit_length(v) - TB) / 2), with bit_length(0) taken as 1
  function half_of(v : unsigned) return integer is
    variable len  : natural := 1;
    variable over : integer;
  begin
    for k in 0 to v'length - 1 loop
      if v(v'low + k) = '1' then
        len := k + 1;
      end if;
    end loop;
    over := len - TB;
    if over >= 0 then
      return (over + 1) / 2;
    end if;
    return -((-over) / 2);
  end function;

  -- the table index: v >> 2 * h (a left shift when h < 0), low TB bits, as
  -- (v << -2 * E_MIN) >> 2 * (h - E_MIN): one logarithmic shifter
  function index_of(v : unsigned; h : integer) return unsigned is
    constant SB : positive := vs_clog2(LSH_MAX + 1) + 1;
    variable u  : unsigned(SB - 1 downto 0) := to_unsigned(h - E_MIN, SB);
    variable w  : unsigned(IW - 1 downto 0) := shift_left(resize(v, IW), -2 * E_MIN);
  begin
    for b in 0 to SB - 1 loop
      if u(b) = '1' then
        w := shift_right(w, 2 * 2 ** b);
      end if;
    end loop;
    return resize(w, TB);
  end function;

  -- p << s, s = 0 .. LSH_MAX: a logarithmic shifter, one stage a bit of s
  function shift_of(p : signed; s : natural) return signed is
    constant SB : positive := vs_clog2(LSH_MAX + 1) + 1;
    variable u  : unsigned(SB - 1 downto 0) := to_unsigned(s, SB);
    variable r  : signed(P_W - 1 downto 0) := resize(p, P_W);
  begin
    for b in 0 to SB - 1 loop
      if u(b) = '1' then
        r := shift_left(r, 2 ** b);
      end if;
    end loop;
    return r;
  end function;
begin
  x_addr <= std_logic_vector(to_unsigned(base + j, AW)) when st = S_SUM or st = S_VAR or st = S_NORM
            else (others => '0');
  t_addr <= std_logic_vector(idx_r);
  y_we <= y_we_r;
  y_addr <= std_logic_vector(to_unsigned(wa, AW));
  y_data <= y_r;
  done <= y_we_r when wa = ROWS * N - 1 else '0';

  -- the data path: it runs whatever the state, its flags say which values are meaningful
  datapath : process (clk)
    variable xs : signed(XS_W - 1 downto 0);
    variable c  : signed(C_W - 1 downto 0);
    variable ob : signed(OB_W - 1 downto 0);
  begin
    if rising_edge(clk) then
      xs := vs_to_signed(x_data, X_SIGNED, XS_W);
      if rd1 = '1' then
        if first1 = '1' then
          s_acc <= resize(xs, S_W);
        else
          s_acc <= s_acc + resize(xs, S_W);
        end if;
      end if;
      c := times_n(xs) - resize(s_acc, C_W);
      d_r <= resize(c, D_W);
      dv2 <= rd2; dv3 <= rd3; df2 <= first2;
      -- the shared multiplier: D * D in pass 2, D * inv in pass 3
      if dv3 = '1' then
        ob := signed(resize(inv_r, OB_W));
      else
        ob := resize(d_r, OB_W);
      end if;
      m_r <= d_r * ob;
      mv2 <= dv2; mv3 <= dv3; mf2 <= df2;
      if mv2 = '1' then
        if mf2 = '1' then
          v_acc <= resize(unsigned(m_r), V_W);
        else
          v_acc <= v_acc + resize(unsigned(m_r), V_W);
        end if;
      end if;
      ps_r <= shift_of(m_r, lsh);
      pv <= mv3;
      y_r <= vs_requant(ps_r, SHIFT, Z_W, true, 6, 1);
      y_we_r <= pv;
      inv_r <= unsigned(t_data);  -- the table address is held through pass 3
      if rst = '1' then
        dv2 <= '0'; dv3 <= '0'; mv2 <= '0'; mv3 <= '0'; pv <= '0'; y_we_r <= '0';
      end if;
    end if;
  end process;

  control : process (clk)
  begin
    if rising_edge(clk) then
      -- reads issued in this cycle come back in the next one
      if st = S_SUM then rd1 <= '1'; else rd1 <= '0'; end if;
      if st = S_VAR then rd2 <= '1'; else rd2 <= '0'; end if;
      if st = S_NORM then rd3 <= '1'; else rd3 <= '0'; end if;
      if st = S_SUM and j = 0 then first1 <= '1'; else first1 <= '0'; end if;
      if st = S_VAR and j = 0 then first2 <= '1'; else first2 <= '0'; end if;
      if y_we_r = '1' and wa < ROWS * N then
        wa <= wa + 1;
      end if;
      if rst = '1' then
        st <= S_IDLE;
        rd1 <= '0'; rd2 <= '0'; rd3 <= '0';
      -- if/elsif, not case: GHDL writes a case as a Verilog case without default,
      -- in which Yosys infers latches
      elsif st = S_IDLE then
        if start = '1' then
          row <= 0; j <= 0; base <= 0; wa <= 0;
          st <= S_SUM;
        end if;
      elsif st = S_SUM then
        if j = N - 1 then
          j <= 0;
          st <= S_VAR;
        else
          j <= j + 1;
        end if;
      elsif st = S_VAR then
        if j = N - 1 then
          j <= 0;
          st <= S_W1;
        else
          j <= j + 1;
        end if;
      elsif st = S_W1 then  -- the last D * D reaches V three cycles after its read
        st <= S_W2;
      elsif st = S_W2 then
        st <= S_W3;
      elsif st = S_W3 then
        st <= S_LEN;
      elsif st = S_LEN then
        half <= half_of(v_acc);
        st <= S_IDX;
      elsif st = S_IDX then
        idx_r <= index_of(v_acc, half);
        lsh <= E_MAX - half;
        st <= S_NORM;
      elsif st = S_NORM then
        if j = N - 1 then
          j <= 0;
          if row = ROWS - 1 then
            st <= S_IDLE;
          else
            row <= row + 1;
            base <= base + N;
            st <= S_SUM;
          end if;
        else
          j <= j + 1;
        end if;
      end if;
    end if;
  end process;

end architecture;
