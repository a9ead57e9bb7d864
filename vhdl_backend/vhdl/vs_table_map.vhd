-- vs_table_map: element-wise function of a tensor through a table ROM outside (sigmoid, tanh,
-- ELU; units/table_activation.py). The table is indexed by the input on the index grid: the
-- input code shifted right by SHIFT bits (floor; shifted left when SHIFT < 0), clamped to
-- LO..HI, minus LO. Entry k holds the output code of index LO + k. With PASS (ELU) the input
-- itself, cast to the output type, is the output where it is not negative.
--
-- One register a step: x_data (1); the clamped index and, with PASS, the cast's floor and
-- rounding decision (2); the table address and the saturated cast (3); the ROM's registered read
-- (4); the output register, which selects the entry or the cast (5). Cycles from start to done:
-- N + 5.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_table_map is
  generic (
    N : positive; AW : positive;
    X_W : positive; X_SIGNED : boolean;
    SHIFT : integer;                 -- x frac bits minus index frac bits
    LO, HI : integer;                -- the index range the table covers
    TA_W : positive;                 -- table address bits (2**TA_W >= HI - LO + 1)
    Y_W : positive;
    PASS : boolean;                  -- x >= 0: y = x cast to the output type (ELU)
    P_SHIFT : integer;               -- x frac bits minus y frac bits (the PASS cast)
    Y_SIGNED : boolean; RND, SAT : natural
  );
  port (
    clk, rst, start : in std_logic;
    done   : out std_logic;
    x_addr : out std_logic_vector(AW - 1 downto 0);
    x_data : in  std_logic_vector(X_W - 1 downto 0);
    t_addr : out std_logic_vector(TA_W - 1 downto 0);
    t_data : in  std_logic_vector(Y_W - 1 downto 0);
    y_we   : out std_logic;
    y_addr : out std_logic_vector(AW - 1 downto 0);
    y_data : out std_logic_vector(Y_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_table_map is
  constant V_W : positive := vs_round_len(X_W + 1, SHIFT);       -- the index before the clamp
  constant I_W : positive := vs_max(V_W, TA_W + 2);
  constant R_W : positive := vs_round_len(X_W + 1, P_SHIFT);
  signal idx_r  : signed(I_W - 1 downto 0) := (others => '0');
  signal ta_r   : std_logic_vector(TA_W - 1 downto 0) := (others => '0');
  signal q_r    : signed(R_W - 1 downto 0) := (others => '0');
  signal up_r   : std_logic := '0';
  signal p_r, p2_r, y_r : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
  signal pos    : std_logic_vector(2 to 4) := (others => '0');  -- x >= 0, by step
begin
  walk : entity work.vs_walk
    generic map (N => N, AW => AW, LAT => 5)
    port map (clk => clk, rst => rst, start => start, rd_en => open, rd_addr => x_addr,
              wr_en => y_we, wr_addr => y_addr, done => done);

  process (clk)
    variable x : signed(X_W downto 0);
    variable v : signed(I_W - 1 downto 0);
  begin
    if rising_edge(clk) then
      -- step 2: the index on its grid, clamped; the PASS cast's first half
      x := vs_to_signed(x_data, X_SIGNED, X_W + 1);
      v := resize(vs_floor_at(x, SHIFT), I_W);
      if v < LO then
        v := to_signed(LO, I_W);
      elsif v > HI then
        v := to_signed(HI, I_W);
      end if;
      idx_r <= v;
      pos(2) <= not x(X_W);
      if PASS then
        q_r <= vs_floor_at(x, P_SHIFT);
        up_r <= vs_round_up(x, P_SHIFT, RND);
      end if;
      -- step 3: the table address; the cast saturated
      ta_r <= std_logic_vector(resize(unsigned(idx_r - to_signed(LO, I_W)), TA_W));
      pos(3) <= pos(2);
      if PASS then
        p_r <= vs_saturate_inc(q_r, up_r, Y_W, Y_SIGNED, SAT);
      end if;
      -- step 4: the ROM reads
      pos(4) <= pos(3);
      p2_r <= p_r;
      -- step 5: the output
      if PASS and pos(4) = '1' then
        y_r <= p2_r;
      else
        y_r <= t_data;
      end if;
    end if;
  end process;
  t_addr <= ta_r;
  y_data <= y_r;
end architecture;
