-- vs_softmax: integer softmax over rows of N elements (vhdlspartan.layers.QSoftmax).
-- Per row: pass 1 finds the row maximum of the inputs cast to the softmax input type; pass 2
-- sums the exp table entries of the distances to it; pass 3, per element, reads the entry
-- again and has vs_divider divide entry * 2^OUT_F by the sum (rounded half to even from the
-- exact remainder, saturated). The exp table is a ROM outside.
-- Cycles from start to done: ROWS * (2 * N + 3 + N * (NUM_W + 5)).
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_softmax is
  generic (
    ROWS : positive; N : positive; AW : positive;
    X_W : positive; X_SIGNED : boolean;
    SHIFT : integer;                          -- x frac bits minus softmax input frac bits
    IN_W : positive;                          -- softmax input type (signed, RND_CONV, SAT)
    TABLE_SIZE : positive; TA_W : positive; E_W : positive;
    SUM_W : positive; OUT_W : positive; OUT_F : natural; NUM_W : positive
  );
  port (
    clk, rst, start : in std_logic;
    done   : out std_logic;
    x_addr : out std_logic_vector(AW - 1 downto 0);
    x_data : in  std_logic_vector(X_W - 1 downto 0);
    t_addr : out std_logic_vector(TA_W - 1 downto 0);
    t_data : in  std_logic_vector(E_W - 1 downto 0);
    y_we   : out std_logic;
    y_addr : out std_logic_vector(AW - 1 downto 0);
    y_data : out std_logic_vector(OUT_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_softmax is
  type state_t is (S_IDLE, S_MAX, S_MAXW, S_EXP, S_EXPW1, S_EXPW2, S_D0, S_D1, S_D2, S_WAIT);
  signal st : state_t := S_IDLE;
  signal row  : natural range 0 to ROWS := 0;  -- ranges one past the end: GHDL checks + 1 statically
  signal j    : natural range 0 to N := 0;
  signal base : natural range 0 to ROWS * N := 0;
  signal v1, v2, first1 : std_logic := '0';
  signal mx   : signed(IN_W - 1 downto 0) := (others => '0');
  signal sum  : unsigned(SUM_W - 1 downto 0) := (others => '0');
  signal div_start, div_done : std_logic;

  -- the input element cast to the softmax input type
  function cast_in(x : std_logic_vector) return signed is
  begin
    return signed(vs_requant(vs_to_signed(x, X_SIGNED, X_W + 1), SHIFT, IN_W, true, 6, 1));
  end function;

  -- table index of a distance to the row maximum, clamped to the last entry
  function table_index(m, v : signed) return unsigned is
    variable d : signed(IN_W + 1 downto 0) := resize(m, IN_W + 2) - resize(v, IN_W + 2);
  begin
    if d > TABLE_SIZE - 1 then
      return to_unsigned(TABLE_SIZE - 1, TA_W);
    end if;
    return resize(unsigned(d), TA_W);
  end function;
begin
  x_addr <= std_logic_vector(to_unsigned(base + j, AW)) when st = S_MAX or st = S_EXP or st = S_D0
            else (others => '0');
  -- the table is read with the element that just arrived (its entry comes one cycle later)
  t_addr <= std_logic_vector(table_index(mx, cast_in(x_data)));

  div_start <= '1' when st = S_D2 else '0';
  divider : entity work.vs_divider
    generic map (NUM_W => NUM_W, DEN_W => SUM_W, Y_W => OUT_W, Y_SIGNED => false, RND => 6, SAT => 1)
    port map (clk => clk, start => div_start, num => shift_left(resize(unsigned(t_data), NUM_W), OUT_F),
              neg => '0', den => sum, done => div_done, y => y_data);
  y_we <= div_done;
  y_addr <= std_logic_vector(to_unsigned(base + j, AW));
  done <= div_done when row = ROWS - 1 and j = N - 1 else '0';

  process (clk)
  begin
    if rising_edge(clk) then
      -- reads issued in S_MAX / S_EXP come back one cycle later (v1), table entries one more (v2)
      if st = S_MAX or st = S_EXP then v1 <= '1'; else v1 <= '0'; end if;
      if st = S_MAX and j = 0 then first1 <= '1'; else first1 <= '0'; end if;
      v2 <= '0';
      if rst = '1' then
        st <= S_IDLE;
        v1 <= '0';
      -- if/elsif, not case: GHDL writes a case as a Verilog case without default,
      -- in which Yosys infers latches
      elsif st = S_IDLE then
        if start = '1' then
          row <= 0; j <= 0; base <= 0;
          st <= S_MAX;
        end if;
      elsif st = S_MAX or st = S_MAXW then
        if v1 = '1' then
          if first1 = '1' or cast_in(x_data) > mx then
            mx <= cast_in(x_data);
          end if;
        end if;
        if st = S_MAXW then
          sum <= (others => '0');
          j <= 0;
          st <= S_EXP;
        elsif j = N - 1 then
          st <= S_MAXW;
        else
          j <= j + 1;
        end if;
      elsif st = S_EXP or st = S_EXPW1 or st = S_EXPW2 then
        v2 <= v1;
        if v2 = '1' then
          sum <= sum + resize(unsigned(t_data), SUM_W);
        end if;
        if st = S_EXP then
          if j = N - 1 then st <= S_EXPW1; else j <= j + 1; end if;
        elsif st = S_EXPW1 then
          st <= S_EXPW2;
        else
          j <= 0;
          st <= S_D0;
        end if;
      elsif st = S_D0 then
        st <= S_D1;
      elsif st = S_D1 then
        st <= S_D2;
      elsif st = S_D2 then
        st <= S_WAIT;
      elsif st = S_WAIT then
        if div_done = '1' then
          if j = N - 1 then
            j <= 0;
            if row = ROWS - 1 then
              st <= S_IDLE;
            else
              row <= row + 1;
              base <= base + N;
              st <= S_MAX;
            end if;
          else
            j <= j + 1;
            st <= S_D0;
          end if;
        end if;
      end if;
    end if;
  end process;

end architecture;
