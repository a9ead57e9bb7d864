-- vs_gavg: global average over time, y[c] = cast(sum_t x[t, c] / T), exact for any T.
-- x is read once in its stored order (t-major, one element a cycle, as its producer writes it),
-- each element added to its channel's running sum (a C-word memory with an asynchronous read).
-- A channel's sum is final at its last time step; it then enters a pipelined restoring divider
-- (one quotient bit per stage, one channel a cycle), after which three stages round from the
-- remainder and saturate (the VHDL twin of vhdlspartan.fixed.divide_requantize).
-- num = sum << K and den = T when K >= 0, else den = T << -K (K = y frac - x frac).
-- The top PRE = min(DEN_W, NUM_W) - 1 quotient bits are 0 (num's top PRE bits are below den), so
-- the divider starts with them as its remainder and has STAGES = NUM_W - PRE stages.
-- Pipeline, one register each: x as read; the sum (x + the channel's running sum); |sum| << K
-- into the divider; STAGES divider stages; the sign fix-up and the rounding decision; their sum;
-- the saturation. Channel c is written in cycle (T - 1) * C + c + STAGES + 8; done is high with
-- the last write, so the cycles from start to done are T * C + STAGES + 7.
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
  signal x_r   : std_logic_vector(X_W - 1 downto 0) := (others => '0');
  signal v     : std_logic;                                  -- x_r holds element (t_i, c_i)
  signal t_i   : natural range 0 to T - 1 := 0;
  signal c_i   : natural range 0 to C - 1 := 0;
  signal first : std_logic := '1';                           -- t_i = 0
  signal lastt : std_logic := vs_flag(T = 1);                  -- t_i = T - 1
  signal c_end : std_logic := vs_flag(C = 1);                  -- c_i = C - 1
  -- the sum stage: the channel's sum so far, valid (sv) at its last time step; sl: of the last channel
  signal s_r   : signed(NUM_W downto 0) := (others => '0');
  signal sv, sl : std_logic := '0';
  signal n, q  : n_pipe_t := (others => (others => '0'));   -- q: quotient bits found so far
  signal r     : r_pipe_t := (others => (others => '0'));
  signal pv, pl, pneg : std_logic_vector(0 to STAGES) := (others => '0');
  -- after the divider: the quotient with its sign applied but for a carry (qx + cin), its sum
  -- (qr), then the saturated result; fv*/fl* carry the valid and last-channel flags alongside
  signal qx, qr : signed(NUM_W + 1 downto 0) := (others => '0');
  signal cin   : std_logic := '0';
  signal fv1, fl1, fv2, fl2 : std_logic := '0';
  signal y_v, y_l : std_logic := '0';
  signal y_r   : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
  signal o_i   : natural range 0 to C - 1 := 0;              -- channel of the next write
begin
  walk : entity work.vs_walk
    generic map (N => T * C, AW => AW, LAT => 2)
    port map (clk => clk, rst => rst, start => start, rd_en => open, rd_addr => x_addr,
              wr_en => v, wr_addr => open, done => open);

  process (clk)
    variable s, acc : signed(NUM_W downto 0);
    variable mag  : unsigned(NUM_W - 1 downto 0);
    variable r0   : unsigned(DEN_W downto 0);
    variable r2   : unsigned(DEN_W + 1 downto 0);
    variable rx2  : unsigned(DEN_W + 1 downto 0);
    variable r_nz, neg_r, above, tie : boolean;
  begin
    if rising_edge(clk) then
      -- running sums: a channel's first time step starts from 0 (the addend is masked, so that
      -- nothing lies between the adder and the memory)
      acc := (others => '0');
      if first = '0' then
        acc := sums(c_i);
      end if;
      x_r <= x_data;
      s := resize(vs_to_signed(x_r, X_SIGNED, X_W + 1), NUM_W + 1) + acc;
      if v = '1' then
        sums(c_i) <= s;
      end if;
      s_r <= s;
      sv <= v and lastt;
      sl <= v and lastt and c_end;

      -- divider input: |sum| << K, its top PRE bits as the first remainder
      -- (not abs(): GHDL 2.0's Verilog writer has no abs)
      if s_r(NUM_W) = '1' then
        mag := resize(unsigned(shift_left(-s_r, vs_max(K, 0))), NUM_W);
      else
        mag := resize(unsigned(shift_left(s_r, vs_max(K, 0))), NUM_W);
      end if;
      r0 := (others => '0');
      for b in 0 to PRE - 1 loop
        r0(b) := mag(STAGES + b);
      end loop;
      pv(0) <= sv;
      pl(0) <= sl;
      pneg(0) <= s_r(NUM_W);
      n(0) <= mag(STAGES - 1 downto 0);
      r(0) <= r0;
      q(0) <= (others => '0');

      -- one quotient bit per stage
      for j in 1 to STAGES loop
        r2 := r(j - 1) & n(j - 1)(STAGES - 1);
        if r2 >= D then
          r(j) <= resize(r2 - D, DEN_W + 1);
          q(j) <= q(j - 1)(STAGES - 2 downto 0) & '1';
        else
          r(j) <= resize(r2, DEN_W + 1);
          q(j) <= q(j - 1)(STAGES - 2 downto 0) & '0';
        end if;
        n(j) <= shift_left(n(j - 1), 1);
        pv(j) <= pv(j - 1);
        pl(j) <= pl(j - 1);
        pneg(j) <= pneg(j - 1);
      end loop;

      -- floor division: a negative quotient with a remainder r steps down by one, to -q - 1 = not q,
      -- with the remainder D - r; without one it is -q = not q + 1. Then the rounding decision, from
      -- how the remainder compares to D / 2 (for D - r: 2 (D - r) > D is 2 r < D); its + 1 shares
      -- the carry with -q's, as the two never come together (rounding up needs a remainder).
      r_nz := r(STAGES) /= 0;
      neg_r := pneg(STAGES) = '1' and r_nz;
      rx2 := shift_left(resize(r(STAGES), DEN_W + 2), 1);
      tie := rx2 = D;
      if neg_r then
        above := rx2 < D;
      else
        above := rx2 > D;
      end if;
      if pneg(STAGES) = '1' then
        qx <= not signed(resize(q(STAGES), NUM_W + 2));
      else
        qx <= signed(resize(q(STAGES), NUM_W + 2));
      end if;
      if (pneg(STAGES) = '1' and not r_nz)
         or vs_round_inc(RND, (q(STAGES)(0) = '1') xor neg_r, above, tie, r_nz, pneg(STAGES) = '1') then
        cin <= '1';
      else
        cin <= '0';
      end if;
      fv1 <= pv(STAGES);
      fl1 <= pl(STAGES);

      qr <= qx + signed'("0" & cin);
      fv2 <= fv1;
      fl2 <= fl1;

      y_r <= vs_saturate(qr, Y_W, Y_SIGNED, SAT);
      y_v <= fv2;
      y_l <= fl2;

      -- element and output counters; first, lastt and c_end follow t_i and c_i
      if v = '1' then
        if c_end = '1' then
          c_i <= 0;
          if lastt = '1' then
            t_i <= 0;
          else
            t_i <= t_i + 1;
          end if;
          first <= lastt;
          lastt <= vs_flag(T = 1 or (lastt = '0' and t_i = T - 2));
        else
          c_i <= c_i + 1;
        end if;
        c_end <= vs_flag(C = 1 or (c_end = '0' and c_i = C - 2));
      end if;
      if y_v = '1' then
        if o_i = C - 1 then o_i <= 0; else o_i <= o_i + 1; end if;
      end if;
      if rst = '1' then
        t_i <= 0; c_i <= 0; o_i <= 0;
        first <= '1';
        lastt <= vs_flag(T = 1);
        c_end <= vs_flag(C = 1);
        sv <= '0'; sl <= '0';
        pv <= (others => '0');
        pl <= (others => '0');
        fv1 <= '0'; fl1 <= '0'; fv2 <= '0'; fl2 <= '0';
        y_v <= '0'; y_l <= '0';
      end if;
    end if;
  end process;

  y_we <= y_v;
  y_addr <= std_logic_vector(to_unsigned(o_i, YAW));
  y_data <= y_r;
  done <= y_l;
end architecture;
