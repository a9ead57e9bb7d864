-- vs_mac_engine: the multiply-accumulate engine every Dense layer runs on in turn.
-- One operand a is broadcast to LANES lanes, each with its own operand b; lane k
-- accumulates output neuron k of the current group. The first DSP_LANES lanes are DSP48E1
-- multipliers, the rest LUT multipliers. Latency: a/b registered, product registered,
-- accumulator registered; acc_valid is high for one cycle, 3 cycles after in_valid and in_last
-- are presented, in the cycle acc first shows the finished sums (held until the next sum starts).
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity vs_mac_engine is
  generic (
    LANES     : positive;
    DSP_LANES : natural;
    A_W       : positive;
    B_W       : positive;
    ACC_W     : positive
  );
  port (
    clk       : in  std_logic;
    in_valid  : in  std_logic;
    in_first  : in  std_logic;
    in_last   : in  std_logic;
    a         : in  std_logic_vector(A_W - 1 downto 0);
    b         : in  std_logic_vector(LANES * B_W - 1 downto 0);
    acc       : out std_logic_vector(LANES * ACC_W - 1 downto 0);
    acc_valid : out std_logic
  );
end entity;

architecture rtl of vs_mac_engine is
  signal a_r : signed(A_W - 1 downto 0) := (others => '0');
  signal b_r : std_logic_vector(LANES * B_W - 1 downto 0) := (others => '0');
  signal v_r, f_r, l_r, l_m, l_a : std_logic := '0';
begin
  process (clk)
  begin
    if rising_edge(clk) then
      a_r <= signed(a);
      b_r <= b;
      v_r <= in_valid;
      f_r <= in_first;
      l_r <= in_valid and in_last;
      l_m <= l_r;
      l_a <= l_m;
    end if;
  end process;
  acc_valid <= l_a;

  lanes_gen : for k in 0 to LANES - 1 generate
    signal acc_k : signed(ACC_W - 1 downto 0);
  begin
    lane : entity work.vs_mac_lane
      generic map (A_W => A_W, B_W => B_W, ACC_W => ACC_W, DSP => boolean'pos(k < DSP_LANES))
      port map (
        clk => clk, valid => v_r, first => f_r, a => a_r,
        b => signed(b_r((k + 1) * B_W - 1 downto k * B_W)), acc => acc_k
      );
    acc((k + 1) * ACC_W - 1 downto k * ACC_W) <= std_logic_vector(acc_k);
  end generate;
end architecture;
