-- vs_gather: pure data movement over (time, channels), one output element a cycle in stored
-- order (Concatenate, UpSampling1D, ZeroPadding1D). Output (t, c) is a's next element when
-- A_T0 <= t < A_T1 and c < A_C, b's next element when B_T0 <= t < B_T1 and c >= B_C0, else 0.
-- Each source is read in its stored order; with REP > 1 a's rows are each read REP times
-- (UpSampling1D). Both casts go through one common scale (A_SHIFT, B_SHIFT), then SHIFT to y.
-- The read addresses are registers, held at 0 while idle (readers of a buffer OR them).
-- Stages after the read, each ending in a register: the selected value; its floor at the output
-- scale with the rounding decision; their sum, saturated. Output j is written in cycle j + 5;
-- cycles from start to done: OUT_T * OUT_C + 4.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_gather is
  generic (
    OUT_T : positive; OUT_C : positive; AAW : positive; BAW : positive; YAW : positive;
    A_T0 : natural; A_T1 : natural; A_C : positive; REP : positive;
    B_T0 : natural; B_T1 : natural; B_C0 : natural;
    A_W : positive; A_SIGNED : boolean; A_SHIFT : natural;
    B_W : positive; B_SIGNED : boolean; B_SHIFT : natural;
    SHIFT : integer;                                          -- common frac bits minus y frac bits
    Y_W : positive; Y_SIGNED : boolean; RND, SAT : natural
  );
  port (
    clk, rst, start : in std_logic;
    done   : out std_logic;
    a_addr : out std_logic_vector(AAW - 1 downto 0);
    a_data : in  std_logic_vector(A_W - 1 downto 0);
    b_addr : out std_logic_vector(BAW - 1 downto 0);
    b_data : in  std_logic_vector(B_W - 1 downto 0);
    y_we   : out std_logic;
    y_addr : out std_logic_vector(YAW - 1 downto 0);
    y_data : out std_logic_vector(Y_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_gather is
  constant V_W : positive := vs_max(A_W + A_SHIFT, B_W + B_SHIFT) + 1;
  constant R_W : positive := vs_round_len(V_W, SHIFT);
  signal run   : std_logic := '0';
  signal t     : natural range 0 to OUT_T - 1 := 0;
  signal c     : natural range 0 to OUT_C - 1 := 0;
  signal rep_i : natural range 0 to REP - 1 := 0;
  signal ra, rb, rrow : unsigned(vs_max(AAW, BAW) - 1 downto 0) := (others => '0');  -- a, b next; a's row start
  signal sa1, sb1, v1, l1 : std_logic := '0';
  signal v_r   : signed(V_W - 1 downto 0) := (others => '0');
  signal v2, l2 : std_logic := '0';
  signal q_r   : signed(R_W - 1 downto 0) := (others => '0');
  signal up_r, v3, l3 : std_logic := '0';
  signal y_r   : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
  signal y_v, y_l : std_logic := '0';
  signal o_i   : unsigned(YAW - 1 downto 0) := (others => '0');
begin
  process (clk)
    variable sel_a, sel_b, last : boolean;
  begin
    if rising_edge(clk) then
      sel_a := run = '1' and t >= A_T0 and t < A_T1 and c < A_C;
      sel_b := run = '1' and t >= B_T0 and t < B_T1 and c >= B_C0;
      last := t = OUT_T - 1 and c = OUT_C - 1;
      sa1 <= vs_flag(sel_a);
      sb1 <= vs_flag(sel_b);
      v1 <= run;
      l1 <= vs_flag(run = '1' and last);
      if sel_a then
        if c = A_C - 1 and rep_i /= REP - 1 then   -- the row again (UpSampling1D)
          ra <= rrow;
          rep_i <= rep_i + 1;
        elsif c = A_C - 1 then
          ra <= ra + 1;
          rrow <= ra + 1;
          rep_i <= 0;
        else
          ra <= ra + 1;
        end if;
      end if;
      if sel_b then
        rb <= rb + 1;
      end if;
      if run = '1' then
        if c /= OUT_C - 1 then
          c <= c + 1;
        else
          c <= 0;
          if t /= OUT_T - 1 then t <= t + 1; else t <= 0; end if;
        end if;
        if last then
          run <= '0';
          ra <= (others => '0'); rb <= (others => '0'); rrow <= (others => '0');
          rep_i <= 0;
        end if;
      elsif start = '1' then
        run <= '1';
      end if;

      if sa1 = '1' then
        v_r <= shift_left(resize(vs_to_signed(a_data, A_SIGNED, A_W + 1), V_W), A_SHIFT);
      elsif sb1 = '1' then
        v_r <= shift_left(resize(vs_to_signed(b_data, B_SIGNED, B_W + 1), V_W), B_SHIFT);
      else
        v_r <= (others => '0');
      end if;
      v2 <= v1;
      l2 <= l1;
      q_r <= vs_floor_at(v_r, SHIFT);
      up_r <= vs_round_up(v_r, SHIFT, RND);
      v3 <= v2;
      l3 <= l2;
      y_r <= vs_saturate_inc(q_r, up_r, Y_W, Y_SIGNED, SAT);
      y_v <= v3;
      y_l <= l3;
      if y_v = '1' then
        o_i <= o_i + 1;
        if y_l = '1' then o_i <= (others => '0'); end if;
      end if;

      if rst = '1' then
        run <= '0';
        t <= 0; c <= 0; rep_i <= 0;
        ra <= (others => '0'); rb <= (others => '0'); rrow <= (others => '0');
        sa1 <= '0'; sb1 <= '0'; v1 <= '0'; l1 <= '0'; v2 <= '0'; l2 <= '0'; v3 <= '0'; l3 <= '0';
        y_v <= '0'; y_l <= '0';
        o_i <= (others => '0');
      end if;
    end if;
  end process;

  a_addr <= std_logic_vector(ra(AAW - 1 downto 0));
  b_addr <= std_logic_vector(rb(BAW - 1 downto 0));
  y_we <= y_v;
  y_addr <= std_logic_vector(o_i);
  y_data <= y_r;
  done <= y_l;
end architecture;
