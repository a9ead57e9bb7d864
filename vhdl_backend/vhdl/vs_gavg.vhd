-- vs_gavg: global average over time, y[c] = cast(sum_t x[t, c] / T), exact for any T.
-- The sum is divided by a bit-serial restoring divider (one quotient bit a cycle), then
-- rounded and saturated from the exact remainder, so the cast sees the true quotient.
-- num = sum << K and den = T when K >= 0, else den = T << -K (K = y frac - x frac).
-- Cycles from start to done: 1 + C * (T + NUM_W + 3).
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
  type state_t is (S_IDLE, S_SUM, S_DRAIN, S_LOAD, S_DIV, S_FIN);
  constant DEN_V : unsigned(DEN_W downto 0) := to_unsigned(DEN, DEN_W + 1);
  signal st    : state_t := S_IDLE;
  signal c_i   : natural range 0 to C := 0;  -- ranges one past the end: GHDL checks + 1 statically
  signal t_i   : natural range 0 to T := 0;
  signal j     : natural range 0 to NUM_W := 0;
  signal addr  : natural range 0 to T * C := 0;
  signal v1    : std_logic := '0';
  signal sum   : signed(NUM_W downto 0) := (others => '0');
  signal neg   : boolean := false;
  signal n     : unsigned(NUM_W - 1 downto 0) := (others => '0');
  signal q     : unsigned(NUM_W - 1 downto 0) := (others => '0');
  signal r     : unsigned(DEN_W downto 0) := (others => '0');
  signal y_we_r, done_r : std_logic := '0';
  signal y_addr_r : std_logic_vector(YAW - 1 downto 0) := (others => '0');
  signal y_data_r : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
begin
  x_addr <= std_logic_vector(to_unsigned(addr, AW)) when st = S_SUM else (others => '0');

  process (clk)
    variable r2   : unsigned(DEN_W + 1 downto 0);
    variable qs   : signed(NUM_W + 1 downto 0);
    variable rf   : unsigned(DEN_W + 1 downto 0);
    variable above, tie : boolean;
  begin
    if rising_edge(clk) then
      y_we_r <= '0';
      done_r <= '0';
      if st = S_SUM then v1 <= '1'; else v1 <= '0'; end if;
      if v1 = '1' then
        sum <= sum + resize(vs_to_signed(x_data, X_SIGNED, X_W + 1), NUM_W + 1);
      end if;
      if rst = '1' then
        st <= S_IDLE;
        v1 <= '0';
      else
        -- if/elsif, not case: GHDL writes a case as a Verilog case without default,
        -- in which Yosys infers latches
        if st = S_IDLE then
            if start = '1' then
              c_i <= 0; t_i <= 0; addr <= 0;
              sum <= (others => '0');
              st <= S_SUM;
            end if;
        elsif st = S_SUM then
            if t_i = T - 1 then
              t_i <= 0;
              st <= S_DRAIN;
            else
              t_i <= t_i + 1;
              addr <= addr + C;
            end if;
        elsif st = S_DRAIN then
            st <= S_LOAD;
        elsif st = S_LOAD then
            neg <= sum < 0;
            -- not abs(): GHDL 2.0's Verilog writer has no abs
            if sum < 0 then
              n <= resize(unsigned(shift_left(-sum, vs_max(K, 0))), NUM_W);
            else
              n <= resize(unsigned(shift_left(sum, vs_max(K, 0))), NUM_W);
            end if;
            q <= (others => '0');
            r <= (others => '0');
            j <= 0;
            st <= S_DIV;
        elsif st = S_DIV then
            r2 := shift_left(resize(r, DEN_W + 2), 1);
            r2(0) := n(NUM_W - 1);
            n <= shift_left(n, 1);
            if r2 >= DEN_V then
              r <= resize(r2 - DEN_V, DEN_W + 1);
              q <= shift_left(q, 1) + 1;
            else
              r <= resize(r2, DEN_W + 1);
              q <= shift_left(q, 1);
            end if;
            if j = NUM_W - 1 then st <= S_FIN; else j <= j + 1; end if;
        elsif st = S_FIN then
            -- floor division: a negative quotient with a remainder steps down by one
            qs := signed(resize(q, NUM_W + 2));
            rf := resize(r, DEN_W + 2);
            if neg then
              qs := -qs;
              if r /= 0 then
                qs := qs - 1;
                rf := resize(DEN_V, DEN_W + 2) - rf;
              end if;
            end if;
            above := shift_left(rf, 1) > resize(DEN_V, DEN_W + 2);
            tie := shift_left(rf, 1) = resize(DEN_V, DEN_W + 2);
            if vs_round_inc(RND, qs(0) = '1', above, tie, rf /= 0, neg) then
              qs := qs + 1;
            end if;
            y_data_r <= vs_saturate(qs, Y_W, Y_SIGNED, SAT);
            y_addr_r <= std_logic_vector(to_unsigned(c_i, YAW));
            y_we_r <= '1';
            sum <= (others => '0');
            if c_i = C - 1 then
              done_r <= '1';
              st <= S_IDLE;
            else
              c_i <= c_i + 1;
              addr <= c_i + 1;
              st <= S_SUM;
            end if;
        end if;
      end if;
    end if;
  end process;

  y_we <= y_we_r;
  y_addr <= y_addr_r;
  y_data <= y_data_r;
  done <= done_r;
end architecture;
