-- vs_softmax: integer softmax over rows of N elements (vhdlspartan.layers.QSoftmax).
-- Per row: pass 1 finds the row maximum of the inputs cast to the softmax input type; pass 2
-- sums the exp table entries of the distances to it; pass 3, per element, reads the entry
-- again and has a vs_divider divide entry * 2^OUT_F by the sum (rounded half to even from the
-- exact remainder, saturated). The exp table is a ROM outside.
--
-- One element stream reads the input buffer (one read a cycle): pass 1, pass 2 and pass 3 of a
-- row follow each other without gaps, and pass 1 of the next row follows the last pass-3 read.
-- Pass 3 starts element j's division on divider j mod DIVS (round robin, restarted at divider 0
-- each row). A divider takes a new start B = NUM_W + 2 cycles after its last, so the stream
-- issues divisions in bursts of DIVS, a burst B cycles after the previous one (back to back when
-- DIVS >= B); a row's first burst also waits B cycles after the previous row's last burst began.
-- All dividers have the same latency (start to result NUM_W + 3 cycles): results come in element
-- order, at most one a cycle, and are written in order while the stream goes on with the next row.
--
-- The element pipeline, one register a step so that no path between registers holds more than a
-- carry chain or two (timing): cycle c issues a read, and the address is registered (x_addr,
-- c + 1); the buffer's registered read gives x_data (c + 2); its cast to the input type is
-- registered (c + 3), where pass 1 compares it with the maximum and passes 2 and 3 compute the
-- clamped distance, registered as the table address (t_addr, c + 4); the ROM's registered read
-- gives the entry (c + 5), registered again (c + 6: a block RAM ROM's output is slow), which pass
-- 2 adds to the sum and pass 3 starts its division with. The results are registered on their way
-- out (y_we, y_addr, y_data and done: one cycle after the divider's done).
--
-- Cycles from start to done, with B = NUM_W + 2, P = max(DIVS, B), G = floor((N - 1) / DIVS) * P
-- and S = (N - 1) mod DIVS (the last element's issue is G + S cycles after the row's first):
--   2 N + 1 + (ROWS - 1) * (G + max(2 N + S + 1, B)) + G + S + NUM_W + 10.
-- (ROWS = N = 12, NUM_W = 15: 2,569 cycles with DIVS = 1, 457 with DIVS = 12; before the
-- pipeline registers, 6 cycles fewer.)
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_softmax is
  generic (
    ROWS : positive; N : positive; AW : positive;
    X_W : positive; X_SIGNED : boolean;
    SHIFT : integer;                          -- x frac bits minus softmax input frac bits
    IN_W : positive;                          -- softmax input type (signed, RND_CONV, SAT)
    TABLE_SIZE : positive; TA_W : positive; E_W : positive;
    SUM_W : positive; OUT_W : positive; OUT_F : natural; NUM_W : positive;
    DIVS : positive := 1                      -- dividers of pass 3, used in round robin
  );
  port (
    clk, rst, start : in std_logic;
    done   : out std_logic;
    x_addr : out std_logic_vector(AW - 1 downto 0);
    x_data : in  std_logic_vector(X_W - 1 downto 0);
    t_addr : out std_logic_vector(TA_W - 1 downto 0);
    t_data : in  std_logic_vector(E_W - 1 downto 0);
    y_we   : out std_logic;
    y_addr : out std_logic_vector(AW - 1 downto 0);
    y_data : out std_logic_vector(OUT_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_softmax is
  constant BUSY : positive := NUM_W + 2;  -- cycles from a divider's start to its next
  constant LAST : natural := ROWS * N - 1;
  constant D_W  : positive := IN_W + 2;   -- the distance to the maximum, signed
  type y_array is array (0 to DIVS - 1) of std_logic_vector(OUT_W - 1 downto 0);
  -- the state, one hot (its decoding is on every path of the control): idle, pass 1 (the
  -- maximum), pass 2 (the sum), pass 3 (the divisions), the last results
  signal s_idle : std_logic := '1';
  signal s_max, s_exp, s_div, s_drain : std_logic := '0';
  -- the element stream (ranges one past the end: GHDL checks + 1 statically), with flags for its
  -- counters' last values
  signal row  : natural range 0 to ROWS := 0;
  signal j    : natural range 0 to N := 0;
  signal base : natural range 0 to ROWS * N := 0;
  signal j_last, row_last : std_logic := '0';        -- j = N - 1, row = ROWS - 1
  signal k     : natural range 0 to DIVS := 0;       -- divider of the next division
  signal burst : natural range 0 to DIVS := DIVS;    -- divisions issued in the current burst
  signal age   : natural range 0 to BUSY := BUSY;    -- cycles since the current burst began (saturated)
  signal b_full, a_full : std_logic := '1';          -- burst = DIVS, age = BUSY
  signal issue, reading : std_logic;
  -- the pipeline's steps, by the cycle after the issue: 1 the address, 2 x_data, 3 the cast
  -- element (pass 1: the maximum; passes 2, 3: the distance), 4 the table address, 5 t_data,
  -- 6 the entry registered (pass 2: the sum; pass 3: the division's start)
  signal xa_r : std_logic_vector(AW - 1 downto 0) := (others => '0');
  signal m1, m2, m3, mf1, mf2, mf3 : std_logic := '0';     -- pass 1 (mf: the row's first element)
  signal e1, e2, e3, e4, e5, e6, ef1, ef2, ef3, ef4, ef5, ef6 : std_logic := '0';  -- pass 2
  signal d1, d2, d3, d4, d5, d6 : std_logic := '0';        -- pass 3
  signal k1, k2, k3, k4, k5, k6 : natural range 0 to DIVS := 0;
  signal xc   : signed(IN_W - 1 downto 0) := (others => '0');  -- x_data cast (step 3)
  signal ta_r : std_logic_vector(TA_W - 1 downto 0) := (others => '0');
  signal td_r : std_logic_vector(E_W - 1 downto 0) := (others => '0');  -- t_data (step 6)
  signal mx   : signed(IN_W - 1 downto 0) := (others => '0');
  signal sum  : unsigned(SUM_W - 1 downto 0) := (others => '0');
  signal num  : unsigned(NUM_W - 1 downto 0);
  signal starts, dones : std_logic_vector(DIVS - 1 downto 0);
  signal ys : y_array;
  -- the results, in element order
  signal we : std_logic;
  signal wa : natural range 0 to ROWS * N := 0;
  signal w_last : std_logic := '0';                   -- wa = LAST
  signal y_mux : std_logic_vector(OUT_W - 1 downto 0);
  signal we_r, done_r : std_logic := '0';
  signal ya_r : std_logic_vector(AW - 1 downto 0) := (others => '0');
  signal yd_r : std_logic_vector(OUT_W - 1 downto 0) := (others => '0');


  -- the input element cast to the softmax input type
  function cast_in(x : std_logic_vector) return signed is
  begin
    return signed(vs_requant(vs_to_signed(x, X_SIGNED, X_W + 1), SHIFT, IN_W, true, 6, 1));
  end function;

  -- table index of a distance to the row maximum, clamped to the last entry
  function table_index(m, v : signed) return std_logic_vector is
    variable d : signed(D_W - 1 downto 0) := resize(m, D_W) - resize(v, D_W);
  begin
    if d > TABLE_SIZE - 1 then
      return std_logic_vector(to_unsigned(TABLE_SIZE - 1, TA_W));
    end if;
    return std_logic_vector(resize(unsigned(d), TA_W));
  end function;
begin
  -- pass 3 issues while the burst is open, or a new burst once every divider is free again
  issue <= s_div and (not b_full or a_full);
  reading <= s_max or s_exp or issue;
  x_addr <= xa_r;  -- 0 when not reading (the top level ORs the readers' addresses)
  t_addr <= ta_r;

  num <= shift_left(resize(unsigned(td_r), NUM_W), OUT_F);
  dividers : for i in 0 to DIVS - 1 generate
    starts(i) <= '1' when d6 = '1' and k6 = i else '0';
    divider : entity work.vs_divider
      generic map (NUM_W => NUM_W, DEN_W => SUM_W, Y_W => OUT_W, Y_SIGNED => false, RND => 6, SAT => 1,
                  NEG_NUM => false)
      port map (clk => clk, start => starts(i), num => num, neg => '0', den => sum, done => dones(i), y => ys(i));
  end generate;

  -- at most one divider is done in a cycle: its result is the OR of the results of the done ones
  we <= (or dones) and not s_idle;
  process (all)
    variable v : std_logic_vector(OUT_W - 1 downto 0);
  begin
    v := (others => '0');
    for i in 0 to DIVS - 1 loop
      if dones(i) = '1' then
        v := v or ys(i);
      end if;
    end loop;
    y_mux <= v;
  end process;
  y_we <= we_r;
  y_addr <= ya_r;
  y_data <= yd_r;
  done <= done_r;

  process (clk)
    variable acc : unsigned(SUM_W - 1 downto 0);
  begin
    if rising_edge(clk) then
      -- step 1: the read's address
      if reading = '1' then
        xa_r <= std_logic_vector(to_unsigned(base + j, AW));
      else
        xa_r <= (others => '0');
      end if;
      m1 <= s_max; mf1 <= s_max and vs_flag(j = 0);
      e1 <= s_exp; ef1 <= s_exp and vs_flag(j = 0);
      d1 <= issue; k1 <= k;
      m2 <= m1; mf2 <= mf1; e2 <= e1; ef2 <= ef1; d2 <= d1; k2 <= k1;
      m3 <= m2; mf3 <= mf2; e3 <= e2; ef3 <= ef2; d3 <= d2; k3 <= k2;
      e4 <= e3; ef4 <= ef3; d4 <= d3; k4 <= k3;
      e5 <= e4; ef5 <= ef4; d5 <= d4; k5 <= k4;
      e6 <= e5; ef6 <= ef5; d6 <= d5; k6 <= k5;
      -- step 2 -> 3: the element arrived, cast
      xc <= cast_in(x_data);
      -- step 3 -> 4: the maximum (pass 1); the table is read with the element's distance to it
      if m3 = '1' then
        if mf3 = '1' or xc > mx then
          mx <= xc;
        end if;
      end if;
      ta_r <= table_index(mx, xc);
      -- step 5 -> 6: the entry arrived; step 6: pass 2 sums it (pass 3 starts its division with
      -- it, see starts)
      td_r <= t_data;
      if e6 = '1' then
        acc := sum;
        if ef6 = '1' then
          acc := (others => '0');
        end if;
        sum <= acc + resize(unsigned(td_r), SUM_W);
      end if;

      -- the stream: one element a cycle in passes 1 and 2, one an issue in pass 3
      if reading = '1' then
        if j_last = '1' then
          j <= 0;
          j_last <= vs_flag(N = 1);
        else
          j <= j + 1;
          j_last <= vs_flag(j = N - 2);
        end if;
      end if;
      if a_full = '0' then
        age <= age + 1;
        a_full <= vs_flag(age = BUSY - 1);
      end if;
      if issue = '1' then
        if b_full = '1' then  -- a new burst
          burst <= 1;
          b_full <= vs_flag(DIVS = 1);
          age <= 1;
          a_full <= '0';
        else
          burst <= burst + 1;
          b_full <= vs_flag(burst = DIVS - 1);
        end if;
        if k = DIVS - 1 then k <= 0; else k <= k + 1; end if;
      end if;
      if s_idle = '1' and start = '1' then
        row <= 0; j <= 0; base <= 0;
        j_last <= vs_flag(N = 1);
        row_last <= vs_flag(ROWS = 1);
        age <= BUSY; a_full <= '1';
        wa <= 0;
        w_last <= vs_flag(LAST = 0);
        s_idle <= '0'; s_max <= '1';
      end if;
      if s_max = '1' and j_last = '1' then
        s_max <= '0'; s_exp <= '1';
      end if;
      if s_exp = '1' and j_last = '1' then
        k <= 0;
        burst <= DIVS; b_full <= '1';  -- the row's first division waits for every divider
        s_exp <= '0'; s_div <= '1';
      end if;
      if issue = '1' and j_last = '1' then
        s_div <= '0';
        if row_last = '1' then
          s_drain <= '1';
        else
          row <= row + 1;
          row_last <= vs_flag(row = ROWS - 2);
          base <= base + N;
          s_max <= '1';
        end if;
      end if;

      -- the results, registered on their way out
      we_r <= we;
      ya_r <= std_logic_vector(to_unsigned(wa, AW));
      yd_r <= y_mux;
      done_r <= '0';
      if we = '1' then
        if w_last = '1' then
          wa <= 0;
          w_last <= vs_flag(LAST = 0);
          done_r <= '1';
        else
          wa <= wa + 1;
          w_last <= vs_flag(wa = LAST - 1);
        end if;
      end if;
      if s_drain = '1' and we = '1' and w_last = '1' then
        s_drain <= '0'; s_idle <= '1';
      end if;

      if rst = '1' then
        s_idle <= '1'; s_max <= '0'; s_exp <= '0'; s_div <= '0'; s_drain <= '0';
        xa_r <= (others => '0');
        -- every step cleared, the first-element flags and divider numbers too: a chain of
        -- registers without a reset would become a shift-register LUT (SRL), slow to its output
        m1 <= '0'; m2 <= '0'; m3 <= '0'; mf1 <= '0'; mf2 <= '0'; mf3 <= '0';
        e1 <= '0'; e2 <= '0'; e3 <= '0'; e4 <= '0'; e5 <= '0'; e6 <= '0';
        ef1 <= '0'; ef2 <= '0'; ef3 <= '0'; ef4 <= '0'; ef5 <= '0'; ef6 <= '0';
        d1 <= '0'; d2 <= '0'; d3 <= '0'; d4 <= '0'; d5 <= '0'; d6 <= '0';
        k1 <= 0; k2 <= 0; k3 <= 0; k4 <= 0; k5 <= 0; k6 <= 0;
        we_r <= '0'; done_r <= '0';
      end if;
    end if;
  end process;

end architecture;
