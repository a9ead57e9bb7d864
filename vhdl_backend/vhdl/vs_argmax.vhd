-- vs_argmax: one-hot argmax over rows of N elements (hls4ml's softmax Implementation argmax).
-- Per row, a walk over its elements keeps the largest and its index (the first of equal
-- maxima: a later element replaces it only when strictly larger, as numpy's argmax and
-- hls4ml's softmax_argmax); then the row is written: ONE at the index, 0 elsewhere. No tables.
--
-- The reads stream without gaps over all ROWS * N elements, one a cycle; a row's writes run
-- while the next row is read. Element e's read address is presented in cycle e + 1 after the
-- cycle start is seen (the address is the counter itself, 0 while idle, so that the readers of a
-- buffer can OR their addresses); the buffer's registered read gives x_data in cycle e + 2,
-- registered (e + 3: a block RAM's output is slow), where it is compared with the maximum. In
-- the cycle after a row's last compare the row's index is latched for the writer, which
-- registers its outputs: element e is written (y_we high) in cycle e + N + 5, and done is high
-- with the last write. Cycles from start to done: (ROWS + 1) * N + 4.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_argmax is
  generic (
    ROWS : positive; N : positive; AW : positive; X_W : positive; X_SIGNED : boolean;
    JW : positive;                         -- bits of an index within a row (0 .. N - 1)
    Y_W : positive; ONE : natural          -- the code written at the maximum (1.0 in y's type)
  );
  port (
    clk, rst, start : in std_logic;
    done   : out std_logic;
    x_addr : out std_logic_vector(AW - 1 downto 0);
    x_data : in  std_logic_vector(X_W - 1 downto 0);
    y_we   : out std_logic;
    y_addr : out std_logic_vector(AW - 1 downto 0);
    y_data : out std_logic_vector(Y_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_argmax is
  constant TOTAL : positive := ROWS * N;
  constant PENULT : natural := maximum(TOTAL - 2, 0);  -- the read before the last (TOTAL > 1)
  constant J_PENULT : natural := maximum(N - 2, 0);    -- the element before a row's last (N > 1)
  constant ONE_V : std_logic_vector(Y_W - 1 downto 0) := std_logic_vector(to_unsigned(ONE, Y_W));
  -- the reads: run flag, address counter, the last read flagged a cycle ahead (as in vs_walk)
  signal run, fin : std_logic := '0';
  signal i : unsigned(AW - 1 downto 0) := (others => '0');
  signal j : unsigned(JW - 1 downto 0) := (others => '0');  -- index within the row
  signal j_first : std_logic := '1';                        -- j = 0
  signal j_last : std_logic := vs_flag(N = 1);              -- j = N - 1
  -- the pipeline: 1 the address was presented, 2 x_data is registered (xr), 3 compared
  signal v1, v2, f1, f2, l1, l2, l3 : std_logic := '0';
  signal j1, j2 : unsigned(JW - 1 downto 0) := (others => '0');
  signal xr, mx : std_logic_vector(X_W - 1 downto 0) := (others => '0');
  signal idx : unsigned(JW - 1 downto 0) := (others => '0');
  -- the writer
  signal wrun, w_end : std_logic := '0';                -- w_end: wj = N - 1
  signal w_last : std_logic := vs_flag(TOTAL = 1);      -- wa = TOTAL - 1
  signal widx, wj : unsigned(JW - 1 downto 0) := (others => '0');
  signal wa : unsigned(AW - 1 downto 0) := (others => '0');
  signal we_r, done_r : std_logic := '0';
  signal ya_r : std_logic_vector(AW - 1 downto 0) := (others => '0');
  signal yd_r : std_logic_vector(Y_W - 1 downto 0) := (others => '0');

  function greater(a, b : std_logic_vector) return boolean is
  begin
    if X_SIGNED then
      return signed(a) > signed(b);
    end if;
    return unsigned(a) > unsigned(b);
  end function;
begin
  assert 2 ** AW >= TOTAL report "vs_argmax: AW too narrow" severity failure;
  assert 2 ** JW >= N report "vs_argmax: JW too narrow" severity failure;
  x_addr <= std_logic_vector(i);
  y_we <= we_r;
  y_addr <= ya_r;
  y_data <= yd_r;
  done <= done_r;

  process (clk)
  begin
    if rising_edge(clk) then
      -- the reads
      if run = '0' then
        run <= start;
      else
        run <= not fin;
      end if;
      fin <= '0';
      if TOTAL = 1 then
        if run = '0' then fin <= start; end if;
      elsif run = '1' and fin = '0' and i = PENULT then
        fin <= '1';
      end if;
      if fin = '1' then
        i <= (others => '0');
      elsif run = '1' then
        i <= i + 1;
      end if;
      if run = '1' then
        if j_last = '1' then
          j <= (others => '0');
          j_first <= '1';
          j_last <= vs_flag(N = 1);
        else
          j <= j + 1;
          j_first <= '0';
          j_last <= vs_flag(j = J_PENULT);
        end if;
      end if;
      -- step 1 -> 2: x_data arrives and is registered
      v1 <= run; f1 <= run and j_first; l1 <= run and j_last; j1 <= j;
      v2 <= v1; f2 <= f1; l2 <= v1 and l1; j2 <= j1;
      xr <= x_data;
      -- step 3: the maximum and its index (a row's first element starts them)
      if v2 = '1' and (f2 = '1' or greater(xr, mx)) then
        mx <= xr;
        idx <= j2;
      end if;
      l3 <= l2;
      -- step 4: after a row's last compare, its index goes to the writer
      if l3 = '1' then
        widx <= idx;
        wj <= (others => '0');
        wrun <= '1';
      elsif wrun = '1' and w_end = '1' then
        wrun <= '0';
      elsif wrun = '1' then
        wj <= wj + 1;
      end if;
      if l3 = '1' then
        w_end <= vs_flag(N = 1);
      elsif wrun = '1' then
        w_end <= vs_flag(wj = J_PENULT);
      end if;
      -- the writes, registered on their way out
      we_r <= wrun;
      ya_r <= std_logic_vector(wa);
      if wrun = '1' and wj = widx then
        yd_r <= ONE_V;
      else
        yd_r <= (others => '0');
      end if;
      done_r <= wrun and w_last;
      if wrun = '1' then
        if w_last = '1' then
          wa <= (others => '0');
          w_last <= vs_flag(TOTAL = 1);
        else
          wa <= wa + 1;
          w_last <= vs_flag(wa = PENULT);
        end if;
      end if;
      if rst = '1' then
        run <= '0'; fin <= '0'; i <= (others => '0');
        j <= (others => '0'); j_first <= '1'; j_last <= vs_flag(N = 1);
        v1 <= '0'; v2 <= '0'; f1 <= '0'; f2 <= '0'; l1 <= '0'; l2 <= '0'; l3 <= '0';
        wrun <= '0'; wj <= (others => '0'); wa <= (others => '0'); w_last <= vs_flag(TOTAL = 1);
        w_end <= '0'; we_r <= '0'; done_r <= '0';
      end if;
    end if;
  end process;
end architecture;
