-- vs_walk: the address walk shared by the element-wise units. After start it reads
-- elements 0..N-1, one a cycle, and presents each element's write address LAT cycles
-- after its read address; done is high with the last write. Cycles from start to done: N + LAT.
-- The source memory has one registered read stage, as vs_ram and the ROMs have.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity vs_walk is
  generic (N : positive; AW : positive; LAT : positive);
  port (
    clk, rst, start : in std_logic;
    rd_en   : out std_logic;
    rd_addr : out std_logic_vector(AW - 1 downto 0);
    wr_en   : out std_logic;
    wr_addr : out std_logic_vector(AW - 1 downto 0);
    done    : out std_logic
  );
end entity;

architecture rtl of vs_walk is
  type addr_pipe_t is array (1 to LAT) of std_logic_vector(AW - 1 downto 0);
  signal run   : std_logic := '0';
  signal i     : natural range 0 to N := 0;  -- one past the end: GHDL checks i + 1 statically
  signal v     : std_logic_vector(1 to LAT) := (others => '0');
  signal last  : std_logic_vector(1 to LAT) := (others => '0');
  signal a     : addr_pipe_t := (others => (others => '0'));
  signal cur   : std_logic_vector(AW - 1 downto 0);
begin
  assert 2 ** AW >= N report "vs_walk: AW too narrow for N addresses" severity failure;
  cur <= std_logic_vector(to_unsigned(i, AW));
  rd_en <= run;
  rd_addr <= cur when run = '1' else (others => '0');

  process (clk)
  begin
    if rising_edge(clk) then
      v(1) <= run;
      a(1) <= cur;
      if run = '1' and i = N - 1 then last(1) <= '1'; else last(1) <= '0'; end if;
      for s in 2 to LAT loop
        v(s) <= v(s - 1);
        a(s) <= a(s - 1);
        last(s) <= last(s - 1);
      end loop;
      if rst = '1' then
        run <= '0';
        v <= (others => '0');
        last <= (others => '0');
      elsif run = '0' then
        if start = '1' then
          run <= '1';
          i <= 0;
        end if;
      elsif i = N - 1 then
        run <= '0';
      else
        i <= i + 1;
      end if;
    end if;
  end process;

  wr_en <= v(LAT);
  wr_addr <= a(LAT);
  done <= last(LAT);
end architecture;
