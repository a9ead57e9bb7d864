-- vs_mac_lane: one lane of the shared multiply-accumulate engine.
-- Registered product (the DSP48E1 M register) then accumulator (the P register).
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
  signal prod : signed(A_W + B_W - 1 downto 0) := (others => '0');
  signal v_m, f_m : std_logic := '0';
  signal acc_r : signed(ACC_W - 1 downto 0) := (others => '0');
  attribute use_dsp : string;
  attribute use_dsp of prod : signal is dsp_style(DSP);
begin
  assert ACC_W >= A_W + B_W report "vs_mac_lane: ACC_W must hold a whole product" severity failure;

  process (clk)
  begin
    if rising_edge(clk) then
      prod <= a * b;
      v_m <= valid;
      f_m <= first;
      if v_m = '1' then
        if f_m = '1' then
          acc_r <= resize(prod, ACC_W);
        else
          acc_r <= acc_r + resize(prod, ACC_W);
        end if;
      end if;
    end if;
  end process;
  acc <= acc_r;
end architecture;
