-- vs_walk: the address walk shared by the element-wise units. After start it reads
-- elements 0..N-1, one a cycle, and presents each element's write address LAT cycles
-- after its read address; done is high with the last write. Cycles from start to done: N + LAT.
-- The source memory has one registered read stage, as vs_ram and the ROMs have.
-- Every output is a register: the read address is the counter itself (held at 0 while idle,
-- so the readers of a buffer can OR their addresses), and start, which comes late in its cycle
-- from the top level's schedule logic, feeds nothing but the run flag; the last read is
-- flagged a cycle ahead (fin) so that no comparison lies between the counter and its reset.
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
  constant PENULT : natural := maximum(N - 2, 0);     -- the read before the last (N > 1)
  signal run   : std_logic := '0';
  signal fin   : std_logic := '0';                     -- run and i = N - 1: the last read
  signal i     : unsigned(AW - 1 downto 0) := (others => '0');
  signal v     : std_logic_vector(1 to LAT) := (others => '0');
  signal last  : std_logic_vector(1 to LAT) := (others => '0');
  signal a     : addr_pipe_t := (others => (others => '0'));
begin
  assert 2 ** AW >= N report "vs_walk: AW too narrow for N addresses" severity failure;
  rd_en <= run;
  rd_addr <= std_logic_vector(i);

  process (clk)
  begin
    if rising_edge(clk) then
      v(1) <= run;
      a(1) <= std_logic_vector(i);
      last(1) <= fin;
      for s in 2 to LAT loop
        v(s) <= v(s - 1);
        a(s) <= a(s - 1);
        last(s) <= last(s - 1);
      end loop;
      -- the run flag: set by start while idle, cleared after the last read
      if run = '0' then
        run <= start;
      else
        run <= not fin;
      end if;
      -- fin for the next cycle: the first read is the last (N = 1), or the read after this one is
      fin <= '0';
      if N = 1 then
        if run = '0' then fin <= start; end if;
      elsif run = '1' and fin = '0' and i = PENULT then
        fin <= '1';
      end if;
      -- the counter: 0 while idle, one step a cycle while running, back to 0 after the last read
      if fin = '1' then
        i <= (others => '0');
      elsif run = '1' then
        i <= i + 1;
      end if;
      if rst = '1' then
        run <= '0';
        fin <= '0';
        i <= (others => '0');
        v <= (others => '0');
        last <= (others => '0');
      end if;
    end if;
  end process;

  wr_en <= v(LAT);
  wr_addr <= a(LAT);
  done <= last(LAT);
end architecture;
