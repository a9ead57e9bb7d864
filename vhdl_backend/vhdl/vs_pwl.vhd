-- vs_pwl: element-wise piecewise-linear function of a tensor (LeakyReLU, PReLU, hard sigmoid,
-- hard tanh; units/pwl_activation.py):
--   y = clamp(cast(x * (x < 0 ? A : P) + B), LO, HI)
-- with x * slope + B exact (at the x frac bits plus the slope's), the cast to the output type
-- (rounding and saturation) from vs_fixed_pkg, and the clamp to output codes LO..HI (CLAMP).
-- A is the constant A_CODE, or with PER_ELEM the word of a slope ROM outside for element
-- e mod K (PReLU), read at the counter the unit keeps beside the walk's read address.
--
-- One register a step: x_data and the slope word (1); x and the slope (2); both products (3);
-- the selected product plus B (4); the cast's floor and rounding decision (5); the saturated
-- cast (6); the clamp (7). Cycles from start to done: N + 7.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_pwl is
  generic (
    N : positive; AW : positive;
    X_W : positive; X_SIGNED : boolean;
    S_W : positive;                  -- slope width (signed)
    P_CODE, A_CODE : integer;        -- slopes for x >= 0 and x < 0 (A_CODE unless PER_ELEM)
    PER_ELEM : boolean; K : positive; KA_W : positive;
    B_CODE : integer;                -- added at the product's scale
    M_W : positive;                  -- width of x * slope + B
    SHIFT : integer;                 -- product frac bits minus y frac bits
    Y_W : positive; Y_SIGNED : boolean; RND, SAT : natural;
    CLAMP : boolean; LO, HI : integer
  );
  port (
    clk, rst, start : in std_logic;
    done   : out std_logic;
    x_addr : out std_logic_vector(AW - 1 downto 0);
    x_data : in  std_logic_vector(X_W - 1 downto 0);
    t_addr : out std_logic_vector(KA_W - 1 downto 0);
    t_data : in  std_logic_vector(S_W - 1 downto 0);
    y_we   : out std_logic;
    y_addr : out std_logic_vector(AW - 1 downto 0);
    y_data : out std_logic_vector(Y_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_pwl is
  constant PR_W : positive := X_W + 1 + S_W;
  constant R_W  : positive := vs_round_len(M_W, SHIFT);
  signal rd_en  : std_logic;
  signal ch     : unsigned(KA_W - 1 downto 0) := (others => '0');
  signal x_r    : signed(X_W downto 0) := (others => '0');
  signal a_r    : signed(S_W - 1 downto 0) := (others => '0');
  signal pp_r, pn_r : signed(PR_W - 1 downto 0) := (others => '0');
  signal neg_r  : std_logic := '0';
  signal s_r    : signed(M_W - 1 downto 0) := (others => '0');
  signal q_r    : signed(R_W - 1 downto 0) := (others => '0');
  signal up_r   : std_logic := '0';
  signal y0_r, y_r : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
begin
  walk : entity work.vs_walk
    generic map (N => N, AW => AW, LAT => 7)
    port map (clk => clk, rst => rst, start => start, rd_en => rd_en, rd_addr => x_addr,
              wr_en => y_we, wr_addr => y_addr, done => done);

  process (clk)
    variable y0 : signed(Y_W downto 0);
  begin
    if rising_edge(clk) then
      -- the slope ROM's address: the read element's index mod K (0 while idle; N is a multiple of K)
      if rst = '1' or rd_en = '0' then
        ch <= (others => '0');
      elsif ch = K - 1 then
        ch <= (others => '0');
      else
        ch <= ch + 1;
      end if;
      x_r <= vs_to_signed(x_data, X_SIGNED, X_W + 1);
      a_r <= signed(t_data);
      pp_r <= x_r * to_signed(P_CODE, S_W);
      if PER_ELEM then
        pn_r <= x_r * a_r;
      else
        pn_r <= x_r * to_signed(A_CODE, S_W);
      end if;
      neg_r <= x_r(X_W);
      if neg_r = '1' then
        s_r <= resize(pn_r, M_W) + to_signed(B_CODE, M_W);
      else
        s_r <= resize(pp_r, M_W) + to_signed(B_CODE, M_W);
      end if;
      q_r <= vs_floor_at(s_r, SHIFT);
      up_r <= vs_round_up(s_r, SHIFT, RND);
      y0_r <= vs_saturate_inc(q_r, up_r, Y_W, Y_SIGNED, SAT);
      y_r <= y0_r;
      if CLAMP then
        y0 := vs_to_signed(y0_r, Y_SIGNED, Y_W + 1);
        if y0 < LO then
          y_r <= std_logic_vector(resize(to_signed(LO, Y_W + 1), Y_W));
        elsif y0 > HI then
          y_r <= std_logic_vector(resize(to_signed(HI, Y_W + 1), Y_W));
        end if;
      end if;
    end if;
  end process;
  t_addr <= std_logic_vector(ch);
  y_data <= y_r;
end architecture;
