-- vs_mac_lane: one lane of the shared multiply-accumulate engine.
-- Two product stages, then the accumulator: a DSP48E1 lane registers its product twice (the M
-- and P registers); a LUT lane forms the partial products of a with 4-bit slices of b in the
-- first stage and adds them in the second, so no stage holds a whole soft multiplier (too many
-- LUT levels for one clock). A shift lane (b is 0 or +-2^e, power-of-2 and sign-only weights)
-- has no multiplier: the first stage finds e (the lowest set bit of b, for +2^e and -2^e alike),
-- the second shifts a and inverts it for a negative b, and the accumulator adds the +1 of that
-- negation as its carry in (no adder of its own). Latency from a, b to acc: 3 cycles.
-- DSP selects a DSP48E1, a LUT multiplier or a shift lane; the attribute is Vivado's, and the
-- Yosys flow keeps LUT lanes out of the DSP mapping by module.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_mac_lane is
  generic (
    A_W     : positive;
    B_W     : positive;
    ACC_W   : positive;
    DSP     : natural   -- 1: a DSP48E1, 0: LUTs, 2: a shift lane (an integer, so GHDL names the modules apart)
  );
  port (
    clk   : in  std_logic;
    valid : in  std_logic;   -- a, b carry a product to accumulate
    first : in  std_logic;   -- the product starts a new sum
    a     : in  signed(A_W - 1 downto 0);
    b     : in  signed(B_W - 1 downto 0);
    acc   : out signed(ACC_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_mac_lane is
  function dsp_style(use_dsp_lane : natural) return string is
  begin
    if use_dsp_lane = 1 then return "yes"; end if;
    return "no";
  end function;
  constant SLICE : positive := 4;  -- bits of b per partial product of a LUT lane
  constant N_SLICES : positive := (B_W + SLICE - 1) / SLICE;
  type partial_t is array (0 to N_SLICES - 1) of signed(A_W + SLICE downto 0);
  signal partial : partial_t := (others => (others => '0'));
  signal prod_m, prod : signed(A_W + B_W - 1 downto 0) := (others => '0');
  signal v_m, f_m, v_p, f_p : std_logic := '0';
  constant SH_W : positive := vs_max(vs_clog2(B_W), 1);
  signal a_1 : signed(A_W - 1 downto 0) := (others => '0');
  signal sh : unsigned(SH_W - 1 downto 0) := (others => '0');
  signal nz, neg_1, neg_p : std_logic := '0';
  signal acc_r : signed(ACC_W - 1 downto 0) := (others => '0');
  attribute use_dsp : string;
  function sum_partials(pp : partial_t) return signed is
    variable total : signed(A_W + B_W - 1 downto 0) := (others => '0');
  begin
    for j in 0 to N_SLICES - 1 loop
      total := total + shift_left(resize(pp(j), A_W + B_W), j * SLICE);
    end loop;
    return total;
  end function;
  -- e of b = +-2^e: the lowest set bit (a priority encoder; 0 for b = 0, which nz masks)
  function lowest_one(v : signed) return natural is
  begin
    for j in 0 to v'length - 1 loop
      if v(v'low + j) = '1' then return j; end if;
    end loop;
    return 0;
  end function;
  attribute use_dsp of prod_m : signal is dsp_style(DSP);
begin
  assert ACC_W >= A_W + B_W report "vs_mac_lane: ACC_W must hold a whole product" severity failure;

  process (clk)
    variable acc_sum : signed(ACC_W downto 0);
  begin
    if rising_edge(clk) then
      v_m <= valid;
      f_m <= first;
      v_p <= v_m;
      f_p <= f_m;
      if DSP = 1 then
        prod_m <= a * b;
        prod <= prod_m;
      elsif DSP = 2 then
        a_1 <= a;
        sh <= to_unsigned(lowest_one(b), SH_W);
        nz <= vs_flag(b /= 0);
        neg_1 <= b(B_W - 1);
        neg_p <= neg_1;
        if nz = '1' then  -- -(a * 2^e) = not (a * 2^e) + 1, the + 1 added by the accumulator
          prod <= shift_left(resize(a_1, A_W + B_W), to_integer(sh)) xor (A_W + B_W - 1 downto 0 => neg_1);
        else
          prod <= (others => '0');
        end if;
      else
        -- slice j of b: bits j*SLICE .. (j+1)*SLICE - 1, unsigned but for the top slice (b's sign)
        for j in 0 to N_SLICES - 1 loop
          if j = N_SLICES - 1 then
            partial(j) <= a * resize(b(B_W - 1 downto j * SLICE), SLICE + 1);
          else
            partial(j) <= a * signed('0' & std_logic_vector(b(j * SLICE + SLICE - 1 downto j * SLICE)));
          end if;
        end loop;
        prod <= sum_partials(partial);
      end if;
      if v_p = '1' and DSP = 2 then
        -- one adder: a low bit 1 + neg_p carries neg_p into the sum
        if f_p = '1' then
          acc_sum := to_signed(1, ACC_W + 1);
        else
          acc_sum := acc_r & '1';
        end if;
        acc_sum := acc_sum + (resize(prod, ACC_W) & neg_p);
        acc_r <= acc_sum(ACC_W downto 1);
      elsif v_p = '1' then
        if f_p = '1' then
          acc_r <= resize(prod, ACC_W);
        else
          acc_r <= acc_r + resize(prod, ACC_W);
        end if;
      end if;
    end if;
  end process;
  acc <= acc_r;
end architecture;
