-- vs_pool: 1-D max or average pooling over (time, channels) with 'valid' windows:
-- y[o, c] = cast(op_{k < P} x[o * S + k, c]), OP 0: max, 1: sum (the average's division by
-- P = 2^j is in SHIFT: exact). Global max pooling is P = S = T, NO = 1.
-- One read a cycle, window after window: output (o, c) reads x[(o * S + k) * C + c], k = 0..P-1;
-- outputs in their stored order. The address is a register (held at 0 while idle, so the readers
-- of a buffer can OR their addresses), stepped by adders: + C within a window, the next window's
-- base otherwise. Stages after the read, each ending in a register: the running result (final at
-- the window's last element); its floor at the output scale with the rounding decision; their
-- sum, saturated. Output g is written in cycle g * P + P + 4; cycles from start to done:
-- NO * C * P + 4.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_pool is
  generic (
    NO : positive; C : positive; P : positive; S : positive; AW : positive; YAW : positive; OP : natural;
    X_W : positive; X_SIGNED : boolean; ACC_W : positive;
    SHIFT : integer;                                          -- x frac bits (+ log2 P) minus y frac bits
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

architecture rtl of vs_pool is
  constant R_W : positive := vs_round_len(ACC_W, SHIFT);
  signal run   : std_logic := '0';
  signal addr  : unsigned(AW - 1 downto 0) := (others => '0');
  signal base  : unsigned(AW - 1 downto 0) := (others => '0');  -- o * S * C + c
  signal obase : unsigned(AW - 1 downto 0) := (others => '0');  -- o * S * C
  signal k     : natural range 0 to P - 1 := 0;
  signal ci    : natural range 0 to C - 1 := 0;
  signal oi    : natural range 0 to NO - 1 := 0;
  signal rv, rfirst, rlast, rfin : std_logic := '0';            -- the read presented now: valid, k = 0, k = P - 1, the last
  signal acc   : signed(ACC_W - 1 downto 0) := (others => '0');
  signal av, afin : std_logic := '0';                          -- acc is a window's result
  signal q_r   : signed(R_W - 1 downto 0) := (others => '0');
  signal up_r, qv, qfin : std_logic := '0';
  signal y_r   : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
  signal y_v, y_l : std_logic := '0';
  signal o_i   : unsigned(YAW - 1 downto 0) := (others => '0');
begin
  assert 2 ** AW >= (NO - 1) * S * C + P * C report "vs_pool: AW too narrow" severity failure;

  process (clk)
    variable xv : signed(ACC_W - 1 downto 0);
  begin
    if rising_edge(clk) then
      -- the read walk
      rv <= '0';
      if run = '1' then
        rv <= '1';
        rfirst <= vs_flag(k = 0);
        rlast <= vs_flag(k = P - 1);
        rfin <= vs_flag(k = P - 1 and ci = C - 1 and oi = NO - 1);
        if k /= P - 1 then
          k <= k + 1;
          addr <= addr + C;
        elsif ci /= C - 1 then
          k <= 0;
          ci <= ci + 1;
          base <= base + 1;
          addr <= base + 1;
        elsif oi /= NO - 1 then
          k <= 0;
          ci <= 0;
          oi <= oi + 1;
          obase <= obase + S * C;
          base <= obase + S * C;
          addr <= obase + S * C;
        else
          run <= '0';
          k <= 0; ci <= 0; oi <= 0;
          obase <= (others => '0');
          base <= (others => '0');
          addr <= (others => '0');
        end if;
      elsif start = '1' then
        run <= '1';
      end if;

      -- the running result (x_data is the element read a cycle ago, whose flags are rv, rfirst, ...)
      xv := resize(vs_to_signed(x_data, X_SIGNED, X_W + 1), ACC_W);
      if rfirst = '1' then
        acc <= xv;
      elsif OP = 0 then
        if xv > acc then acc <= xv; end if;
      else
        acc <= acc + xv;
      end if;
      av <= rv and rlast;
      afin <= rv and rfin;

      q_r <= vs_floor_at(acc, SHIFT);
      up_r <= vs_round_up(acc, SHIFT, RND);
      qv <= av;
      qfin <= afin;

      y_r <= vs_saturate_inc(q_r, up_r, Y_W, Y_SIGNED, SAT);
      y_v <= qv;
      y_l <= qfin;
      if y_v = '1' then
        o_i <= o_i + 1;
        if y_l = '1' then o_i <= (others => '0'); end if;
      end if;

      if rst = '1' then
        run <= '0';
        k <= 0; ci <= 0; oi <= 0;
        obase <= (others => '0');
        base <= (others => '0');
        addr <= (others => '0');
        rv <= '0'; rfin <= '0'; av <= '0'; afin <= '0'; qv <= '0'; qfin <= '0'; y_v <= '0'; y_l <= '0';
        o_i <= (others => '0');
      end if;
    end if;
  end process;

  x_addr <= std_logic_vector(addr);
  y_we <= y_v;
  y_addr <= std_logic_vector(o_i);
  y_data <= y_r;
  done <= y_l;
end architecture;
