-- vs_map: element-wise cast of a tensor to a new type, with an optional ReLU first
-- (hls4ml's ReLU, linear and quantized activations). Two stages after the read, each ending in
-- a register: the value at the target scale (floor) with the rounding decision, then their sum,
-- saturated. Cycles from start to done: N + 3.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_map is
  generic (
    N : positive; AW : positive;
    X_W : positive; X_SIGNED : boolean;
    SHIFT : integer;                 -- x frac bits minus y frac bits
    Y_W : positive; Y_SIGNED : boolean; RND, SAT : natural;
    RELU : boolean
  );
  port (
    clk, rst, start : in std_logic;
    done   : out std_logic;
    x_addr : out std_logic_vector(AW - 1 downto 0);
    x_data : in  std_logic_vector(X_W - 1 downto 0);
    y_we   : out std_logic;
    y_addr : out std_logic_vector(AW - 1 downto 0);
    y_data : out std_logic_vector(Y_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_map is
  -- vs_round in two halves with a register between (vs_floor_at, vs_round_up; vs_fixed_pkg)

  constant R_W : positive := vs_round_len(X_W + 1, SHIFT);
  signal q_r  : signed(R_W - 1 downto 0) := (others => '0');
  signal up_r : std_logic := '0';
  signal y_r  : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
begin
  walk : entity work.vs_walk
    generic map (N => N, AW => AW, LAT => 3)
    port map (clk => clk, rst => rst, start => start, rd_en => open, rd_addr => x_addr,
              wr_en => y_we, wr_addr => y_addr, done => done);

  process (clk)
    variable x : signed(X_W downto 0);
  begin
    if rising_edge(clk) then
      x := vs_to_signed(x_data, X_SIGNED, X_W + 1);
      if RELU and x < 0 then
        x := (others => '0');
      end if;
      q_r <= vs_floor_at(x, SHIFT);
      up_r <= vs_round_up(x, SHIFT, RND);
      y_r <= vs_saturate_inc(q_r, up_r, Y_W, Y_SIGNED, SAT);
    end if;
  end process;
  y_data <= y_r;
end architecture;
