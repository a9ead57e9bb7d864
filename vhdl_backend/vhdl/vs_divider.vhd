-- vs_divider: y = cast(num / den) for a signed numerator given as magnitude and sign, exact:
-- a bit-serial restoring divider (one quotient bit a cycle) gives the floor quotient and the
-- remainder, from which the rounding mode decides and the saturation mode clamps (the VHDL twin
-- of vhdlspartan.fixed.divide_requantize). start loads num, neg and den; y and done come
-- NUM_W + 3 cycles later (done high for one cycle); a new start may come NUM_W + 2 cycles after
-- the last (one cycle before its done). NEG_NUM => false ignores neg (the numerator is never
-- negative) and leaves the negation logic out.
--
-- Pipeline, for timing (one carry chain and a LUT or two between registers): NUM_W cycles of
-- quotient bits (the trial subtraction's borrow picks the bit and the new remainder), then the
-- rounding decision from the remainder (stage 1), then the increment and the saturation (stage 2).
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_divider is
  generic (NUM_W : positive; DEN_W : positive; Y_W : positive; Y_SIGNED : boolean; RND, SAT : natural;
           NEG_NUM : boolean := true);
  port (
    clk   : in  std_logic;
    start : in  std_logic;
    num   : in  unsigned(NUM_W - 1 downto 0);
    neg   : in  std_logic;
    den   : in  unsigned(DEN_W - 1 downto 0);
    done  : out std_logic;
    y     : out std_logic_vector(Y_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_divider is
  signal busy, fin, rnd_v, done_r : std_logic := '0';
  signal bit_i : natural range 0 to NUM_W := 0;  -- one past the end: GHDL checks + 1 statically
  signal n, q  : unsigned(NUM_W - 1 downto 0) := (others => '0');
  signal r     : unsigned(DEN_W downto 0) := (others => '0');
  signal d     : unsigned(DEN_W + 1 downto 0) := (others => '0');
  signal neg_r : std_logic := '0';
  -- stage 1 -> 2: the floor quotient (sign applied) and whether rounding adds one
  signal qs_r  : signed(NUM_W + 1 downto 0) := (others => '0');
  signal inc_r : std_logic := '0';
  signal y_r   : std_logic_vector(Y_W - 1 downto 0) := (others => '0');

begin
  process (clk)
    variable r2 : unsigned(DEN_W + 1 downto 0);
    variable df : unsigned(DEN_W + 2 downto 0);
    variable qs : signed(NUM_W + 1 downto 0);
    variable rf : unsigned(DEN_W + 1 downto 0);
  begin
    if rising_edge(clk) then
      done_r <= '0';
      fin <= '0';
      rnd_v <= '0';
      if start = '1' then
        n <= num;
        if NEG_NUM then
          neg_r <= neg;
        else
          neg_r <= '0';
        end if;
        d <= resize(den, DEN_W + 2);
        q <= (others => '0');
        r <= (others => '0');
        bit_i <= 0;
        busy <= '1';
      elsif busy = '1' then
        r2 := shift_left(resize(r, DEN_W + 2), 1);
        r2(0) := n(NUM_W - 1);
        n <= shift_left(n, 1);
        -- r2 - d in one more bit: its top bit is the borrow (r2 < d)
        df := resize(r2, DEN_W + 3) - resize(d, DEN_W + 3);
        if df(DEN_W + 2) = '0' then
          r <= df(DEN_W downto 0);
        else
          r <= r2(DEN_W downto 0);
        end if;
        q <= shift_left(q, 1);
        q(0) <= not df(DEN_W + 2);
        if bit_i = NUM_W - 1 then
          busy <= '0';
          fin <= '1';
        else
          bit_i <= bit_i + 1;
        end if;
      elsif fin = '1' then
        -- stage 1, floor division: a negative quotient with a remainder steps down by one
        qs := signed(resize(q, NUM_W + 2));
        rf := resize(r, DEN_W + 2);
        if neg_r = '1' then
          qs := -qs;
          if r /= 0 then
            qs := qs - 1;
            rf := d - rf;
          end if;
        end if;
        qs_r <= qs;
        if vs_round_inc(RND, qs(0) = '1', shift_left(rf, 1) > d, shift_left(rf, 1) = d, rf /= 0, neg_r = '1') then
          inc_r <= '1';
        else
          inc_r <= '0';
        end if;
        rnd_v <= '1';
      end if;
      -- stage 2 (apart from the chain above: a new start may come with it)
      if rnd_v = '1' then
        y_r <= vs_saturate_inc(qs_r, inc_r, Y_W, Y_SIGNED, SAT);
        done_r <= '1';
      end if;
    end if;
  end process;
  done <= done_r;
  y <= y_r;
end architecture;
