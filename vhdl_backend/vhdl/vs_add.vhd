-- vs_add: element-wise sum of two tensors of the same shape, cast to the output type
-- (hls4ml's Add: the exact sum, then the cast). Three stages after the read, each ending in a
-- register: the exact sum; its floor at the output scale with the rounding decision; their sum,
-- saturated. Cycles from start to done: N + 4.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_add is
  generic (
    N : positive; AW : positive;
    A_W : positive; A_SIGNED : boolean; A_SHIFT : natural;   -- left shifts onto the common scale
    B_W : positive; B_SIGNED : boolean; B_SHIFT : natural;
    SHIFT : integer;                                          -- common frac bits minus y frac bits
    Y_W : positive; Y_SIGNED : boolean; RND, SAT : natural
  );
  port (
    clk, rst, start : in std_logic;
    done   : out std_logic;
    a_addr : out std_logic_vector(AW - 1 downto 0);
    a_data : in  std_logic_vector(A_W - 1 downto 0);
    b_addr : out std_logic_vector(AW - 1 downto 0);
    b_data : in  std_logic_vector(B_W - 1 downto 0);
    y_we   : out std_logic;
    y_addr : out std_logic_vector(AW - 1 downto 0);
    y_data : out std_logic_vector(Y_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_add is
  constant S_W : positive := vs_max(A_W + A_SHIFT, B_W + B_SHIFT) + 2;
  -- vs_round in two halves with a register between (vs_floor_at, vs_round_up; vs_fixed_pkg)

  constant R_W : positive := vs_round_len(S_W, SHIFT);
  signal rd_addr : std_logic_vector(AW - 1 downto 0);
  signal s_r  : signed(S_W - 1 downto 0) := (others => '0');
  signal q_r  : signed(R_W - 1 downto 0) := (others => '0');
  signal up_r : std_logic := '0';
  signal y_r  : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
begin
  walk : entity work.vs_walk
    generic map (N => N, AW => AW, LAT => 4)
    port map (clk => clk, rst => rst, start => start, rd_en => open, rd_addr => rd_addr,
              wr_en => y_we, wr_addr => y_addr, done => done);
  a_addr <= rd_addr;
  b_addr <= rd_addr;

  process (clk)
  begin
    if rising_edge(clk) then
      s_r <= shift_left(resize(vs_to_signed(a_data, A_SIGNED, A_W + 1), S_W), A_SHIFT)
             + shift_left(resize(vs_to_signed(b_data, B_SIGNED, B_W + 1), S_W), B_SHIFT);
      q_r <= vs_floor_at(s_r, SHIFT);
      up_r <= vs_round_up(s_r, SHIFT, RND);
      y_r <= vs_saturate_inc(q_r, up_r, Y_W, Y_SIGNED, SAT);
    end if;
  end process;
  y_data <= y_r;
end architecture;
