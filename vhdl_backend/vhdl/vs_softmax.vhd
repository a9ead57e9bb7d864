-- vs_softmax: integer softmax over rows of N elements (vhdlspartan.layers.QSoftmax).
-- Per row: pass 1 finds the row maximum of the inputs cast to the softmax input type; pass 2
-- sums the exp table entries of the distances to it; pass 3, per element, reads the entry
-- again and has a vs_divider divide entry * 2^OUT_F by the sum (rounded half to even from the
-- exact remainder, saturated). The exp table is a ROM outside.
--
-- One element stream reads the input buffer (one read a cycle, the entry one cycle after its
-- element): pass 1, pass 2 and pass 3 of a row follow each other without gaps, and pass 1 of the
-- next row follows the last pass-3 read. Pass 3 starts element j's division on divider
-- j mod DIVS (round robin, restarted at divider 0 each row). A divider takes a new start
-- B = NUM_W + 2 cycles after its last, so the stream issues divisions in bursts of DIVS, a
-- burst B cycles after the previous one (back to back when DIVS >= B); a row's first burst
-- also waits B cycles after the previous row's last burst began. All dividers have the same
-- latency (start to result NUM_W + 2 cycles): results come in element order, at most one a
-- cycle, and are written in order while the stream goes on with the next row.
--
-- Cycles from start to done, with B = NUM_W + 2, P = max(DIVS, B), G = floor((N - 1) / DIVS) * P
-- and S = (N - 1) mod DIVS (the last element's issue is G + S cycles after the row's first):
--   2 N + 1 + (ROWS - 1) * (G + max(2 N + S + 1, B)) + G + S + NUM_W + 4.
-- (ROWS = N = 12, NUM_W = 15: 2,563 cycles with DIVS = 1, 451 with DIVS = 12; before DIVS, 3,204.)
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
  type state_t is (S_IDLE, S_MAX, S_EXP, S_DIV, S_DRAIN);
  type y_array is array (0 to DIVS - 1) of std_logic_vector(OUT_W - 1 downto 0);
  signal st : state_t := S_IDLE;
  -- the element stream (ranges one past the end: GHDL checks + 1 statically)
  signal row  : natural range 0 to ROWS := 0;
  signal j    : natural range 0 to N := 0;
  signal base : natural range 0 to ROWS * N := 0;
  signal k     : natural range 0 to DIVS := 0;       -- divider of the next division
  signal burst : natural range 0 to DIVS := 0;       -- divisions issued in the current burst
  signal age   : natural range 0 to BUSY := BUSY;    -- cycles since the current burst began (saturated)
  signal issue : std_logic;
  -- reads come back one cycle later (stage 1: x_data), table entries one more (stage 2: t_data)
  signal m1, m1_first, e1, e1_first, e2, e2_first, d1, d2 : std_logic := '0';
  signal k1, k2 : natural range 0 to DIVS := 0;
  signal mx   : signed(IN_W - 1 downto 0) := (others => '0');
  signal sum  : unsigned(SUM_W - 1 downto 0) := (others => '0');
  signal num  : unsigned(NUM_W - 1 downto 0);
  signal starts, dones : std_logic_vector(DIVS - 1 downto 0);
  signal ys : y_array;
  -- the results, in element order
  signal we : std_logic;
  signal wa : natural range 0 to ROWS * N := 0;
  signal jw : natural range 0 to N := 0;
  signal kw : natural range 0 to DIVS := 0;

  -- the input element cast to the softmax input type
  function cast_in(x : std_logic_vector) return signed is
  begin
    return signed(vs_requant(vs_to_signed(x, X_SIGNED, X_W + 1), SHIFT, IN_W, true, 6, 1));
  end function;

  -- table index of a distance to the row maximum, clamped to the last entry
  function table_index(m, v : signed) return unsigned is
    variable d : signed(IN_W + 1 downto 0) := resize(m, IN_W + 2) - resize(v, IN_W + 2);
  begin
    if d > TABLE_SIZE - 1 then
      return to_unsigned(TABLE_SIZE - 1, TA_W);
    end if;
    return resize(unsigned(d), TA_W);
  end function;
begin
  issue <= '1' when st = S_DIV and (burst < DIVS or age = BUSY) else '0';
  x_addr <= std_logic_vector(to_unsigned(base + j, AW)) when st = S_MAX or st = S_EXP or issue = '1'
            else (others => '0');
  -- the table is read with the element that just arrived (its entry comes one cycle later)
  t_addr <= std_logic_vector(table_index(mx, cast_in(x_data)));

  num <= shift_left(resize(unsigned(t_data), NUM_W), OUT_F);
  dividers : for i in 0 to DIVS - 1 generate
    starts(i) <= '1' when d2 = '1' and k2 = i else '0';
    divider : entity work.vs_divider
      generic map (NUM_W => NUM_W, DEN_W => SUM_W, Y_W => OUT_W, Y_SIGNED => false, RND => 6, SAT => 1,
                  NEG_NUM => false)
      port map (clk => clk, start => starts(i), num => num, neg => '0', den => sum, done => dones(i), y => ys(i));
  end generate;

  we <= '1' when (or dones) = '1' and st /= S_IDLE else '0';
  y_we <= we;
  y_addr <= std_logic_vector(to_unsigned(wa, AW));
  done <= we when wa = ROWS * N - 1 else '0';
  process (all)
  begin
    y_data <= ys(0);
    for i in 1 to DIVS - 1 loop
      if kw = i then
        y_data <= ys(i);
      end if;
    end loop;
  end process;

  process (clk)
  begin
    if rising_edge(clk) then
      m1 <= '0'; m1_first <= '0'; e1 <= '0'; e1_first <= '0';
      if st = S_MAX then
        m1 <= '1';
        if j = 0 then m1_first <= '1'; end if;
      end if;
      if st = S_EXP then
        e1 <= '1';
        if j = 0 then e1_first <= '1'; end if;
      end if;
      e2 <= e1; e2_first <= e1_first;
      d1 <= issue; k1 <= k;
      d2 <= d1; k2 <= k1;
      if m1 = '1' then
        if m1_first = '1' or cast_in(x_data) > mx then
          mx <= cast_in(x_data);
        end if;
      end if;
      if e2 = '1' then
        if e2_first = '1' then
          sum <= resize(unsigned(t_data), SUM_W);
        else
          sum <= sum + resize(unsigned(t_data), SUM_W);
        end if;
      end if;
      if age /= BUSY then
        age <= age + 1;
      end if;
      if we = '1' then
        if wa = ROWS * N - 1 then wa <= 0; else wa <= wa + 1; end if;
        if jw = N - 1 then jw <= 0; else jw <= jw + 1; end if;
        if jw = N - 1 or kw = DIVS - 1 then kw <= 0; else kw <= kw + 1; end if;
      end if;
      if rst = '1' then
        st <= S_IDLE;
        m1 <= '0'; e1 <= '0'; e2 <= '0'; d1 <= '0'; d2 <= '0';
      -- if/elsif, not case: GHDL writes a case as a Verilog case without default,
      -- in which Yosys infers latches
      elsif st = S_IDLE then
        if start = '1' then
          row <= 0; j <= 0; base <= 0; age <= BUSY;
          wa <= 0; jw <= 0; kw <= 0;
          st <= S_MAX;
        end if;
      elsif st = S_MAX then
        if j = N - 1 then j <= 0; st <= S_EXP; else j <= j + 1; end if;
      elsif st = S_EXP then
        if j = N - 1 then
          j <= 0; k <= 0;
          burst <= DIVS;  -- the row's first division waits for every divider
          st <= S_DIV;
        else
          j <= j + 1;
        end if;
      elsif st = S_DIV then
        if issue = '1' then
          if burst = DIVS then
            burst <= 1;
            age <= 1;
          else
            burst <= burst + 1;
          end if;
          if k = DIVS - 1 then k <= 0; else k <= k + 1; end if;
          if j = N - 1 then
            j <= 0;
            if row = ROWS - 1 then
              st <= S_DRAIN;
            else
              row <= row + 1;
              base <= base + N;
              st <= S_MAX;
            end if;
          else
            j <= j + 1;
          end if;
        end if;
      elsif st = S_DRAIN then
        if we = '1' and wa = ROWS * N - 1 then
          st <= S_IDLE;
        end if;
      end if;
    end if;
  end process;

end architecture;
