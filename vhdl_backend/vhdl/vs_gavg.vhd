-- vs_gavg: global average over time, y[c] = cast(sum_t x[t, c] / T), exact for any T.
-- x is read once in its stored order (t-major, one element a cycle, as its producer writes it),
-- each element added to its channel's running sum (a C-word memory with an asynchronous read).
-- A channel's sum is final at its last time step; it then enters a pipelined restoring divider
-- (one quotient bit per stage, one channel a cycle), whose last stage rounds from the remainder
-- and saturates (the VHDL twin of vhdlspartan.fixed.divide_requantize).
-- num = sum << K and den = T when K >= 0, else den = T << -K (K = y frac - x frac).
-- The top PRE = min(DEN_W, NUM_W) - 1 quotient bits are 0 (num's top PRE bits are below den), so
-- the divider starts with them as its remainder and has STAGES = NUM_W - PRE stages.
-- Channel c is written in cycle (T - 1) * C + c + STAGES + 4; done is high with the last write,
-- so the cycles from start to done are T * C + STAGES + 3.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_gavg is
  generic (
    T : positive; C : positive; AW : positive; YAW : positive;
    X_W : positive; X_SIGNED : boolean;
    K : integer; NUM_W : positive; DEN_W : positive; DEN : positive;
    Y_W : positive; Y_SIGNED : boolean; RND, SAT : natural
  );
  port (
    clk, rst, start : in std_logic;
    done   : out std_logic;
    x_addr : out std_logic_vector(AW - 1 downto 0);
    x_data : in  std_logic_vector(X_W - 1 downto 0);
    y_we   : out std_logic;
    y_addr : out std_logic_vector(YAW - 1 downto 0);
    y_data : out std_logic_vector(Y_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_gavg is
  constant PRE    : natural := DEN_W - 1 - vs_max(DEN_W - NUM_W, 0);  -- min(DEN_W, NUM_W) - 1
  constant STAGES : positive := NUM_W - PRE;
  constant D      : unsigned(DEN_W + 1 downto 0) := to_unsigned(DEN, DEN_W + 2);

  type sum_mem_t is array (0 to C - 1) of signed(NUM_W downto 0);
  type n_pipe_t is array (0 to STAGES) of unsigned(STAGES - 1 downto 0);  -- dividend bits still to use
  type r_pipe_t is array (0 to STAGES) of unsigned(DEN_W downto 0);       -- remainder
  signal sums  : sum_mem_t := (others => (others => '0'));
  signal v     : std_logic;                                  -- x_data holds element (t_i, c_i)
  signal t_i   : natural range 0 to T - 1 := 0;
  signal c_i   : natural range 0 to C - 1 := 0;
  signal n, q  : n_pipe_t := (others => (others => '0'));   -- q: quotient bits found so far
  signal r     : r_pipe_t := (others => (others => '0'));
  signal pv, pneg : std_logic_vector(0 to STAGES) := (others => '0');
  signal y_v   : std_logic := '0';
  signal y_r   : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
  signal o_i   : natural range 0 to C - 1 := 0;              -- channel of the next write
begin
  walk : entity work.vs_walk
    generic map (N => T * C, AW => AW, LAT => 1)
    port map (clk => clk, rst => rst, start => start, rd_en => open, rd_addr => x_addr,
              wr_en => v, wr_addr => open, done => open);

  process (clk)
    variable s    : signed(NUM_W downto 0);
    variable mag  : unsigned(NUM_W - 1 downto 0);
    variable r0   : unsigned(DEN_W downto 0);
    variable r2   : unsigned(DEN_W + 1 downto 0);
    variable qs   : signed(NUM_W + 1 downto 0);
    variable rf   : unsigned(DEN_W + 1 downto 0);
  begin
    if rising_edge(clk) then
      -- running sums: a channel's first time step starts from 0
      s := resize(vs_to_signed(x_data, X_SIGNED, X_W + 1), NUM_W + 1);
      if t_i /= 0 then
        s := s + sums(c_i);
      end if;
      if v = '1' then
        sums(c_i) <= s;
      end if;

      -- divider input: |sum| << K, its top PRE bits as the first remainder
      -- (not abs(): GHDL 2.0's Verilog writer has no abs)
      if s(NUM_W) = '1' then
        mag := resize(unsigned(shift_left(-s, vs_max(K, 0))), NUM_W);
      else
        mag := resize(unsigned(shift_left(s, vs_max(K, 0))), NUM_W);
      end if;
      r0 := (others => '0');
      for b in 0 to PRE - 1 loop
        r0(b) := mag(STAGES + b);
      end loop;
      pv(0) <= '0';
      if v = '1' and t_i = T - 1 then
        pv(0) <= '1';
      end if;
      pneg(0) <= s(NUM_W);
      n(0) <= mag(STAGES - 1 downto 0);
      r(0) <= r0;
      q(0) <= (others => '0');

      -- one quotient bit per stage
      for j in 1 to STAGES loop
        r2 := r(j - 1) & n(j - 1)(STAGES - 1);
        if r2 >= D then
          r(j) <= resize(r2 - D, DEN_W + 1);
          q(j) <= shift_left(q(j - 1), 1) + 1;
        else
          r(j) <= resize(r2, DEN_W + 1);
          q(j) <= shift_left(q(j - 1), 1);
        end if;
        n(j) <= shift_left(n(j - 1), 1);
        pv(j) <= pv(j - 1);
        pneg(j) <= pneg(j - 1);
      end loop;

      -- floor division: a negative quotient with a remainder steps down by one; then round, saturate
      qs := signed(resize(q(STAGES), NUM_W + 2));
      rf := resize(r(STAGES), DEN_W + 2);
      if pneg(STAGES) = '1' then
        qs := -qs;
        if r(STAGES) /= 0 then
          qs := qs - 1;
          rf := D - rf;
        end if;
      end if;
      if vs_round_inc(RND, qs(0) = '1', shift_left(rf, 1) > D, shift_left(rf, 1) = D, rf /= 0, pneg(STAGES) = '1') then
        qs := qs + 1;
      end if;
      y_r <= vs_saturate(qs, Y_W, Y_SIGNED, SAT);
      y_v <= pv(STAGES);

      -- element and output counters
      if v = '1' then
        if c_i = C - 1 then
          c_i <= 0;
          if t_i = T - 1 then t_i <= 0; else t_i <= t_i + 1; end if;
        else
          c_i <= c_i + 1;
        end if;
      end if;
      if y_v = '1' then
        if o_i = C - 1 then o_i <= 0; else o_i <= o_i + 1; end if;
      end if;
      if rst = '1' then
        t_i <= 0; c_i <= 0; o_i <= 0;
        pv <= (others => '0');
        y_v <= '0';
      end if;
    end if;
  end process;

  y_we <= y_v;
  y_addr <= std_logic_vector(to_unsigned(o_i, YAW));
  y_data <= y_r;
  done <= y_v when o_i = C - 1 else '0';
end architecture;
