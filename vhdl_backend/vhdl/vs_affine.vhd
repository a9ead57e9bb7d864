-- vs_affine: per-channel y = x * scale[c] + bias[c], cast to the output type: hls4ml's
-- BatchNormalization (and QKeras alpha scaling) after folding. Channel c = element mod C;
-- scale and bias come packed from one ROM word (bias in the high bits). One multiplier
-- of its own. Five stages after the read, each ending in a register: x and the ROM word as read
-- (a block RAM's output is slow, 2.45 ns, and the product needs the rest of its cycle); the
-- product (and the bias beside it); their exact sum; its floor at the output scale with the
-- rounding decision; their sum, saturated. Cycles from start to done: N + 6.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_affine is
  generic (
    N : positive; C : positive; AW : positive; CW : positive;
    X_W : positive; X_SIGNED : boolean;
    S_W : positive; S_SIGNED : boolean;
    BIAS_W : positive; BIAS_SIGNED : boolean;
    PROD_SHIFT, BIAS_SHIFT : natural;   -- left shifts onto the common scale
    SHIFT : integer;                    -- common frac bits minus y frac bits
    Y_W : positive; Y_SIGNED : boolean; RND, SAT : natural
  );
  port (
    clk, rst, start : in std_logic;
    done    : out std_logic;
    x_addr  : out std_logic_vector(AW - 1 downto 0);
    x_data  : in  std_logic_vector(X_W - 1 downto 0);
    sb_addr : out std_logic_vector(CW - 1 downto 0);
    sb_data : in  std_logic_vector(BIAS_W + S_W - 1 downto 0);
    y_we    : out std_logic;
    y_addr  : out std_logic_vector(AW - 1 downto 0);
    y_data  : out std_logic_vector(Y_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_affine is
  constant P_W   : positive := X_W + S_W + 2;
  constant SUM_W : positive := vs_max(P_W + PROD_SHIFT, BIAS_W + 1 + BIAS_SHIFT) + 1;
  -- vs_round in two halves with a register between (vs_floor_at, vs_round_up; vs_fixed_pkg)

  constant R_W : positive := vs_round_len(SUM_W, SHIFT);
  signal rd_en : std_logic;
  signal c_i   : natural range 0 to C := 0;
  signal x_r   : std_logic_vector(X_W - 1 downto 0) := (others => '0');
  signal sb_r  : std_logic_vector(BIAS_W + S_W - 1 downto 0) := (others => '0');
  signal prod  : signed(P_W - 1 downto 0) := (others => '0');
  signal bias  : signed(BIAS_W downto 0) := (others => '0');
  signal s_r   : signed(SUM_W - 1 downto 0) := (others => '0');
  signal q_r   : signed(R_W - 1 downto 0) := (others => '0');
  signal up_r  : std_logic := '0';
  signal y_r   : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
begin
  walk : entity work.vs_walk
    generic map (N => N, AW => AW, LAT => 6)
    port map (clk => clk, rst => rst, start => start, rd_en => rd_en, rd_addr => x_addr,
              wr_en => y_we, wr_addr => y_addr, done => done);
  sb_addr <= std_logic_vector(to_unsigned(c_i, CW));

  process (clk)
  begin
    if rising_edge(clk) then
      -- the channel of the element read: 0 while idle (the walk starts from element 0)
      if rd_en = '0' or c_i = C - 1 then
        c_i <= 0;
      else
        c_i <= c_i + 1;
      end if;
      x_r <= x_data;
      sb_r <= sb_data;
      prod <= resize(vs_to_signed(x_r, X_SIGNED, X_W + 1)
                     * vs_to_signed(sb_r(S_W - 1 downto 0), S_SIGNED, S_W + 1), P_W);
      bias <= vs_to_signed(sb_r(BIAS_W + S_W - 1 downto S_W), BIAS_SIGNED, BIAS_W + 1);
      s_r <= shift_left(resize(prod, SUM_W), PROD_SHIFT) + shift_left(resize(bias, SUM_W), BIAS_SHIFT);
      q_r <= vs_floor_at(s_r, SHIFT);
      up_r <= vs_round_up(s_r, SHIFT, RND);
      y_r <= vs_saturate_inc(q_r, up_r, Y_W, Y_SIGNED, SAT);
    end if;
  end process;
  y_data <= y_r;
end architecture;
