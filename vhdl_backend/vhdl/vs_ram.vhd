-- vs_ram: a buffer between layers. One write port, one registered read port, so that it
-- maps to block RAM or to distributed RAM; STYLE ("block" or "distributed") is the
-- ram_style Vivado reads (the Yosys flow applies the same choice per instance).
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity vs_ram is
  generic (
    DEPTH : positive;
    WIDTH : positive;
    AW    : positive;
    STYLE : string := "distributed"
  );
  port (
    clk   : in  std_logic;
    we    : in  std_logic;
    waddr : in  std_logic_vector(AW - 1 downto 0);
    wdata : in  std_logic_vector(WIDTH - 1 downto 0);
    raddr : in  std_logic_vector(AW - 1 downto 0);
    rdata : out std_logic_vector(WIDTH - 1 downto 0)
  );
end entity;

architecture rtl of vs_ram is
begin
  -- GHDL 2.0's synthesis fails on a one-word memory: keep a single element in a register.
  one_word : if DEPTH = 1 generate
    signal reg : std_logic_vector(WIDTH - 1 downto 0) := (others => '0');
  begin
    process (clk)
    begin
      if rising_edge(clk) then
        if we = '1' and unsigned(waddr) = 0 then
          reg <= wdata;
        end if;
        rdata <= reg;
      end if;
    end process;
  end generate;

  memory : if DEPTH > 1 generate
    type mem_t is array (0 to DEPTH - 1) of std_logic_vector(WIDTH - 1 downto 0);
    signal mem : mem_t := (others => (others => '0'));
    attribute ram_style : string;
    attribute ram_style of mem : signal is STYLE;
  begin
    process (clk)
    begin
      if rising_edge(clk) then
        if we = '1' and to_integer(unsigned(waddr)) < DEPTH then
          mem(to_integer(unsigned(waddr))) <= wdata;
        end if;
        if to_integer(unsigned(raddr)) < DEPTH then
          rdata <= mem(to_integer(unsigned(raddr)));
        end if;
      end if;
    end process;
  end generate;
end architecture;
