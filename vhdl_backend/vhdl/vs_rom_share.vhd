-- vs_rom_share: the address of a weight ROM that N Dense controllers share (a weight pack,
-- units/rom_pack.py). Their weights lie one after another in the ROM, member k's from word
-- BASE_k on; the engine runs one product at a time and an idle controller drives address 0,
-- so the ROM address is the OR of the members' addresses plus the base of the member started
-- last (loaded with its start, the cycle before its first address). One block RAM holding
-- several shallow, wide weight matrices replaces a half-empty one per matrix.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity vs_rom_share is
  generic (
    N     : positive;
    AW    : positive;
    BASES : std_logic_vector  -- N * AW bits, (N*AW-1 downto 0): member k's base in bits (k+1)*AW-1 .. k*AW
  );
  port (
    clk     : in  std_logic;
    start   : in  std_logic_vector(N - 1 downto 0);
    addr_in : in  std_logic_vector(N * AW - 1 downto 0);
    addr    : out std_logic_vector(AW - 1 downto 0)
  );
end entity;

architecture rtl of vs_rom_share is
  constant B : std_logic_vector(N * AW - 1 downto 0) := BASES;  -- a descending copy to slice
  signal base : unsigned(AW - 1 downto 0) := (others => '0');
begin
  process (clk)
  begin
    if rising_edge(clk) then
      for k in 0 to N - 1 loop
        if start(k) = '1' then
          base <= unsigned(B((k + 1) * AW - 1 downto k * AW));
        end if;
      end loop;
    end if;
  end process;

  process (all)
    variable a : std_logic_vector(AW - 1 downto 0);
  begin
    a := (others => '0');
    for k in 0 to N - 1 loop
      a := a or addr_in((k + 1) * AW - 1 downto k * AW);
    end loop;
    addr <= std_logic_vector(base + unsigned(a));
  end process;
end architecture;
