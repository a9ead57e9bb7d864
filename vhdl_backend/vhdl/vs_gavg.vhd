-- vs_gavg: global average over time, y[c] = cast(sum_t x[t, c] / T), exact for any T.
-- The sum goes to vs_divider (exact quotient, rounded and saturated from the remainder).
-- num = sum << K and den = T when K >= 0, else den = T << -K (K = y frac - x frac).
-- Cycles from start to done: C * (T + NUM_W + 4).
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
  type state_t is (S_IDLE, S_SUM, S_DRAIN, S_LOAD, S_WAIT);
  signal st    : state_t := S_IDLE;
  signal c_i   : natural range 0 to C := 0;  -- ranges one past the end: GHDL checks + 1 statically
  signal t_i   : natural range 0 to T := 0;
  signal addr  : natural range 0 to T * C := 0;
  signal v1    : std_logic := '0';
  signal sum   : signed(NUM_W downto 0) := (others => '0');
  signal div_start, div_neg, div_done : std_logic;
  signal div_num : unsigned(NUM_W - 1 downto 0);
begin
  x_addr <= std_logic_vector(to_unsigned(addr, AW)) when st = S_SUM else (others => '0');

  -- not abs(): GHDL 2.0's Verilog writer has no abs
  div_start <= '1' when st = S_LOAD else '0';
  div_neg <= sum(NUM_W);
  div_num <= resize(unsigned(shift_left(-sum, vs_max(K, 0))), NUM_W) when sum(NUM_W) = '1' else
             resize(unsigned(shift_left(sum, vs_max(K, 0))), NUM_W);
  divider : entity work.vs_divider
    generic map (NUM_W => NUM_W, DEN_W => DEN_W, Y_W => Y_W, Y_SIGNED => Y_SIGNED, RND => RND, SAT => SAT)
    port map (clk => clk, start => div_start, num => div_num, neg => div_neg,
              den => to_unsigned(DEN, DEN_W), done => div_done, y => y_data);
  y_we <= div_done;
  y_addr <= std_logic_vector(to_unsigned(c_i, YAW));
  done <= div_done when c_i = C - 1 else '0';

  process (clk)
  begin
    if rising_edge(clk) then
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
          st <= S_WAIT;
        elsif st = S_WAIT then
          if div_done = '1' then
            sum <= (others => '0');
            if c_i = C - 1 then
              st <= S_IDLE;
            else
              c_i <= c_i + 1;
              addr <= c_i + 1;
              st <= S_SUM;
            end if;
          end if;
        end if;
      end if;
    end if;
  end process;

end architecture;
