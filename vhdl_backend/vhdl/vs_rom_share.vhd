-- vs_rom_share: the address of a weight ROM that N Dense controllers share (a weight pack,
-- units/rom_pack.py). Their weights lie one after another in the ROM, member k's from word
-- BASE_k on; the engine runs one product at a time and an idle controller drives address 0,
-- so the ROM address is the OR of the members' addresses plus the base of the member started
-- last (loaded with its start, the cycle before its first address). One block RAM holding
-- several shallow, wide weight matrices replaces a half-empty one per matrix.
-- The sum needs no adder when no address can carry into its base: member k's addresses are
-- below the gap from BASE_k to the next base above it (or to 2 ** AW), so when every base is a
-- multiple of the power of 2 at or above its gap (the pack lays its members out so, when their
-- sizes allow), the sum is an OR. Otherwise the adder starts at the lowest bit any base sets;
-- the bits below it are the address itself.
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

  function base_of(k : natural) return natural is
  begin
    return to_integer(unsigned(B((k + 1) * AW - 1 downto k * AW)));
  end function;

  -- no member's address carries into its base (see above)
  function carry_free return boolean is
    variable gap, align : natural;
  begin
    for k in 0 to N - 1 loop
      gap := 2 ** AW - base_of(k);
      for j in 0 to N - 1 loop
        if base_of(j) > base_of(k) and base_of(j) - base_of(k) < gap then
          gap := base_of(j) - base_of(k);
        end if;
      end loop;
      align := 1;
      while align < gap loop
        align := 2 * align;
      end loop;
      if base_of(k) mod align /= 0 then
        return false;
      end if;
    end loop;
    return true;
  end function;

  -- the lowest bit any base sets (AW - 1 when all are 0)
  function low_bit return natural is
    variable used : std_logic_vector(AW - 1 downto 0) := (others => '0');
  begin
    for k in 0 to N - 1 loop
      used := used or B((k + 1) * AW - 1 downto k * AW);
    end loop;
    for j in 0 to AW - 1 loop
      if used(j) = '1' then
        return j;
      end if;
    end loop;
    return AW - 1;
  end function;

  constant OR_ONLY : boolean := carry_free;
  constant LB : natural := low_bit;
  signal base : std_logic_vector(AW - 1 downto 0) := (others => '0');
begin
  process (clk)
  begin
    if rising_edge(clk) then
      for k in 0 to N - 1 loop
        if start(k) = '1' then
          base <= B((k + 1) * AW - 1 downto k * AW);
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
    if OR_ONLY then
      addr <= base or a;
    else
      addr(AW - 1 downto LB) <= std_logic_vector(unsigned(base(AW - 1 downto LB)) + unsigned(a(AW - 1 downto LB)));
      if LB > 0 then
        addr(LB - 1 downto 0) <= a(LB - 1 downto 0);
      end if;
    end if;
  end process;
end architecture;
