-- vs_mac_engine: the multiply-accumulate engine every Dense layer runs on in turn.
-- One operand a is broadcast to LANES lanes, each with its own operand b; lane k
-- accumulates output neuron k of the current group. The first DSP_LANES lanes are DSP48E1
-- multipliers, the rest LUT multipliers; with SHIFT = 1 every lane is a shift lane (each b is 0
-- or +-2^e: power-of-2 or sign-only weights) and DSP_LANES is not used. Latency: a/b registered,
-- product in two stages (see vs_mac_lane), accumulator registered; acc_valid is high for one cycle, 4 cycles after in_valid and in_last
-- are presented, in the cycle acc first shows the finished sums (held until the next sum starts).
-- The shadow bank: in that cycle the sums are also copied into LANES shadow words, which the
-- running controller reads one a cycle (sum = shadow word sel, registered: it shows the word
-- the cycle after sel) while the lanes already accumulate its next group. One shadow for all
-- controllers, since only one runs at a time; idle controllers drive sel = 0, so the top level
-- ORs the sel of all clients (each client's sel is a register of its own).
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_mac_engine is
  generic (
    LANES     : positive;
    DSP_LANES : natural;
    A_W       : positive;
    B_W       : positive;
    ACC_W     : positive;
    SHIFT     : natural := 0  -- 1: shift lanes, no multipliers
  );
  port (
    clk       : in  std_logic;
    in_valid  : in  std_logic;
    in_first  : in  std_logic;
    in_last   : in  std_logic;
    a         : in  std_logic_vector(A_W - 1 downto 0);
    b         : in  std_logic_vector(LANES * B_W - 1 downto 0);
    acc       : out std_logic_vector(LANES * ACC_W - 1 downto 0);
    acc_valid : out std_logic;
    sel       : in  std_logic_vector(vs_max(vs_clog2(LANES), 1) - 1 downto 0);
    sum       : out std_logic_vector(ACC_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_mac_engine is
  function lane_kind(k : natural) return natural is  -- vs_mac_lane's DSP generic
  begin
    if SHIFT = 1 then return 2; end if;
    return boolean'pos(k < DSP_LANES);
  end function;
  signal a_r : signed(A_W - 1 downto 0) := (others => '0');
  signal b_r : std_logic_vector(LANES * B_W - 1 downto 0) := (others => '0');
  signal v_r, f_r, l_r, l_m, l_p, l_a : std_logic := '0';
  signal acc_all : std_logic_vector(LANES * ACC_W - 1 downto 0);
  -- A flat vector, not an array signal: synthesis sees no memory.
  signal shadow : std_logic_vector(LANES * ACC_W - 1 downto 0) := (others => '0');
  signal sum_r : std_logic_vector(ACC_W - 1 downto 0) := (others => '0');
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
      l_p <= l_m;
      l_a <= l_p;
      if l_a = '1' then
        shadow <= acc_all;  -- load enable only, no mux in front of the flip-flops
      end if;
    end if;
  end process;
  acc_valid <= l_a;
  acc <= acc_all;

  -- The select indexes a power-of-two table (unused words 0), so it maps to LUT6 4:1 muxes and
  -- the MUXF7/F8 behind them: one LUT level, where a compare per lane took four.
  process (clk)
    type words_t is array (0 to 2 ** sel'length - 1) of std_logic_vector(ACC_W - 1 downto 0);
    variable words : words_t;
  begin
    if rising_edge(clk) then
      words := (others => (others => '0'));
      for k in 0 to LANES - 1 loop
        words(k) := shadow((k + 1) * ACC_W - 1 downto k * ACC_W);
      end loop;
      sum_r <= words(to_integer(unsigned(sel)));
    end if;
  end process;
  sum <= sum_r;

  lanes_gen : for k in 0 to LANES - 1 generate
    signal acc_k : signed(ACC_W - 1 downto 0);
  begin
    lane : entity work.vs_mac_lane
      generic map (A_W => A_W, B_W => B_W, ACC_W => ACC_W, DSP => lane_kind(k))
      port map (
        clk => clk, valid => v_r, first => f_r, a => a_r,
        b => signed(b_r((k + 1) * B_W - 1 downto k * B_W)), acc => acc_k
      );
    acc_all((k + 1) * ACC_W - 1 downto k * ACC_W) <= std_logic_vector(acc_k);
  end generate;
end architecture;
