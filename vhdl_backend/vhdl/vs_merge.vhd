-- vs_merge: element-wise merge of two tensors of the same shape (hls4ml's Merge: Subtract,
-- Multiply, Average, Maximum, Minimum), the exact result cast once to the output type.
-- OP: 0 a - b, 1 a * b, 2 a + b (Average: the caller's SHIFT counts the halving, one more
-- fraction bit), 3 max(a, b), 4 min(a, b). A_SHIFT, B_SHIFT put the operands on their common
-- scale (0 for the product, whose scale is the sum of the two). Four stages after the read,
-- each ending in a register: the operands; the exact result; its floor at the output scale with
-- the rounding decision; their sum, saturated. Cycles from start to done: N + 5.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_merge is
  generic (
    N : positive; AW : positive; OP : natural;
    A_W : positive; A_SIGNED : boolean; A_SHIFT : natural;
    B_W : positive; B_SIGNED : boolean; B_SHIFT : natural;
    SHIFT : integer;                                          -- result frac bits minus y frac bits
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

architecture rtl of vs_merge is
  constant AS_W : positive := A_W + A_SHIFT + 1;   -- an operand on the common scale, signed
  constant BS_W : positive := B_W + B_SHIFT + 1;

  function result_width return positive is
  begin
    if OP = 1 then
      return AS_W + BS_W;
    end if;
    return vs_max(AS_W, BS_W) + 1;
  end function;

  constant V_W : positive := result_width;
  constant R_W : positive := vs_round_len(V_W, SHIFT);
  signal rd_addr : std_logic_vector(AW - 1 downto 0);
  signal a_r  : signed(AS_W - 1 downto 0) := (others => '0');
  signal b_r  : signed(BS_W - 1 downto 0) := (others => '0');
  signal v_r  : signed(V_W - 1 downto 0) := (others => '0');
  signal q_r  : signed(R_W - 1 downto 0) := (others => '0');
  signal up_r : std_logic := '0';
  signal y_r  : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
begin
  assert OP <= 4 report "vs_merge: OP must be 0 to 4" severity failure;

  walk : entity work.vs_walk
    generic map (N => N, AW => AW, LAT => 5)
    port map (clk => clk, rst => rst, start => start, rd_en => open, rd_addr => rd_addr,
              wr_en => y_we, wr_addr => y_addr, done => done);
  a_addr <= rd_addr;
  b_addr <= rd_addr;

  process (clk)
  begin
    if rising_edge(clk) then
      a_r <= shift_left(resize(vs_to_signed(a_data, A_SIGNED, A_W + 1), AS_W), A_SHIFT);
      b_r <= shift_left(resize(vs_to_signed(b_data, B_SIGNED, B_W + 1), BS_W), B_SHIFT);
      case OP is
        when 0 => v_r <= resize(a_r, V_W) - resize(b_r, V_W);
        when 1 => v_r <= resize(a_r * b_r, V_W);
        when 2 => v_r <= resize(a_r, V_W) + resize(b_r, V_W);
        when 3 =>
          if a_r > b_r then v_r <= resize(a_r, V_W); else v_r <= resize(b_r, V_W); end if;
        when others =>
          if a_r < b_r then v_r <= resize(a_r, V_W); else v_r <= resize(b_r, V_W); end if;
      end case;
      q_r <= vs_floor_at(v_r, SHIFT);
      up_r <= vs_round_up(v_r, SHIFT, RND);
      y_r <= vs_saturate_inc(q_r, up_r, Y_W, Y_SIGNED, SAT);
    end if;
  end process;
  y_data <= y_r;
end architecture;
