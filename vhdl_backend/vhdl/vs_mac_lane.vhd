-- vs_mac_lane: one lane of the shared multiply-accumulate engine.
-- Two product stages, then the accumulator: a DSP48E1 lane registers its product twice (the M
-- and P registers); a LUT lane forms the partial products of a with 4-bit slices of b in the
-- first stage and adds them in the second, so no stage holds a whole soft multiplier (too many
-- LUT levels for one clock). Latency from a, b to acc: 3 cycles.
-- DSP selects a DSP48E1 or a LUT multiplier; the attribute is Vivado's, and the
-- Yosys flow keeps LUT lanes out of the DSP mapping by module.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity vs_mac_lane is
  generic (
    A_W     : positive;
    B_W     : positive;
    ACC_W   : positive;
    DSP     : natural   -- 1: a DSP48E1, 0: LUTs (an integer, so GHDL names the two modules apart)
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
  attribute use_dsp of prod_m : signal is dsp_style(DSP);
begin
  assert ACC_W >= A_W + B_W report "vs_mac_lane: ACC_W must hold a whole product" severity failure;

  process (clk)
  begin
    if rising_edge(clk) then
      v_m <= valid;
      f_m <= first;
      v_p <= v_m;
      f_p <= f_m;
      if DSP = 1 then
        prod_m <= a * b;
        prod <= prod_m;
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
      if v_p = '1' then
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
