-- vs_fixed_pkg: requantization with hls4ml's (ap_fixed's) rounding and saturation modes.
-- The VHDL twin of vhdlspartan/fixed.py: same mode codes, same order of operations.
-- Rounding codes: 0 TRN, 1 TRN_ZERO, 2 RND, 3 RND_ZERO, 4 RND_INF, 5 RND_MIN_INF, 6 RND_CONV.
-- Saturation codes: 0 WRAP, 1 SAT, 2 SAT_ZERO, 3 SAT_SYM.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

package vs_fixed_pkg is
  -- Signed view of a stored tensor element (unsigned types gain a zero sign bit).
  function vs_to_signed(raw : std_logic_vector; is_signed : boolean; width : positive) return signed;
  -- 1 when the floor q of a value is to be incremented, given how its dropped part compares to 1/2.
  function vs_round_inc(mode : natural; q_odd, above, tie, nonzero, neg : boolean) return boolean;
  -- v is at the target scale; bring it into a w-bit (un)signed range: vs_sat_apply(v, vs_sat_flags(v)).
  function vs_saturate(v : signed; w : positive; is_signed : boolean; sat : natural) return std_logic_vector;
  -- The two halves of vs_saturate, for a pipeline that registers between them: flags (1) above
  -- the range, (0) below it; then the value, clamped by the flags, in w bits.
  function vs_sat_flags(v : signed; w : positive; is_signed : boolean; sat : natural) return std_logic_vector;
  function vs_sat_apply(v : signed; flags : std_logic_vector; w : positive; is_signed : boolean; sat : natural)
    return std_logic_vector;
  -- vs_saturate(v + inc): the range is checked on v (against the bounds and the bounds less one)
  -- beside the increment's adder instead of after it.
  function vs_saturate_inc(v : signed; inc : std_logic; w : positive; is_signed : boolean; sat : natural)
    return std_logic_vector;
  -- Cast v (frac bits f_in) to a type with f_in - shift frac bits: vs_saturate(vs_round(...)).
  function vs_requant(v : signed; shift : integer; w : positive; is_signed : boolean; rnd, sat : natural)
    return std_logic_vector;
  -- The rounding half of vs_requant: v brought to the target scale, rounded, not yet saturated,
  -- vs_round_len(v'length, shift) bits long. A pipeline registers it and saturates a cycle later.
  function vs_round(v : signed; shift : integer; rnd : natural) return signed;
  function vs_round_len(len : positive; shift : integer) return positive;
  -- vs_round in two halves, for a pipeline that registers between them: the floor at the target
  -- scale (vs_round_len bits; wires only) and the rounding decision ('1': add one).
  function vs_floor_at(v : signed; shift : integer) return signed;
  function vs_round_up(v : signed; shift : integer; rnd : natural) return std_logic;
  function vs_flag(b : boolean) return std_logic;
  function vs_max(a, b : integer) return integer;
  function vs_clog2(n : positive) return natural;
end package;

package body vs_fixed_pkg is
  function vs_max(a, b : integer) return integer is
  begin
    if a > b then return a; end if;
    return b;
  end function;

  function vs_clog2(n : positive) return natural is
    variable r : natural := 0;
  begin
    while (2 ** r) < n loop r := r + 1; end loop;
    return r;
  end function;

  function vs_to_signed(raw : std_logic_vector; is_signed : boolean; width : positive) return signed is
  begin
    if is_signed then
      return resize(signed(raw), width);
    end if;
    return signed(resize(unsigned(raw), width));
  end function;

  function vs_round_inc(mode : natural; q_odd, above, tie, nonzero, neg : boolean) return boolean is
  begin
    case mode is
      when 1 => return neg and nonzero;            -- TRN_ZERO
      when 2 => return above or tie;               -- RND
      when 3 => return above or (tie and neg);     -- RND_ZERO
      when 4 => return above or (tie and not neg); -- RND_INF
      when 5 => return above;                      -- RND_MIN_INF
      when 6 => return above or (tie and q_odd);   -- RND_CONV
      when others => return false;                 -- TRN
    end case;
  end function;

  -- The bounds of a w-bit (un)signed type as L-bit numbers (SAT_SYM: -max .. max).
  procedure vs_bounds(L, w : positive; is_signed : boolean; sat : natural; hi, lo : out signed) is
    variable h_v, l_v : signed(L - 1 downto 0) := (others => '0');
  begin
    if is_signed then
      h_v(w - 2 downto 0) := (others => '1');           -- 2^(w-1) - 1
      l_v(L - 1 downto w - 1) := (others => '1');       -- -2^(w-1)
    else
      h_v(w - 1 downto 0) := (others => '1');           -- 2^w - 1
    end if;
    if sat = 3 and is_signed then
      l_v := -h_v;
    end if;
    hi := h_v;
    lo := l_v;
  end procedure;

  function vs_sat_flags(v : signed; w : positive; is_signed : boolean; sat : natural) return std_logic_vector is
    constant L : positive := vs_max(v'length, w + 1) + 1;
    variable x : signed(L - 1 downto 0) := resize(v, L);
    variable hi, lo : signed(L - 1 downto 0);
    variable flags : std_logic_vector(1 downto 0) := "00";
  begin
    vs_bounds(L, w, is_signed, sat, hi, lo);
    if sat /= 0 and x > hi then flags(1) := '1'; end if;
    if sat /= 0 and x < lo then flags(0) := '1'; end if;
    return flags;
  end function;

  function vs_sat_apply(v : signed; flags : std_logic_vector; w : positive; is_signed : boolean; sat : natural)
    return std_logic_vector is
    constant L : positive := vs_max(v'length, w + 1) + 1;
    variable x : signed(L - 1 downto 0) := resize(v, L);
    variable hi, lo : signed(L - 1 downto 0);
  begin
    vs_bounds(L, w, is_signed, sat, hi, lo);
    if flags(flags'left) = '1' then
      if sat = 2 then x := (others => '0'); else x := hi; end if;
    elsif flags(flags'right) = '1' then
      if sat = 2 then x := (others => '0'); else x := lo; end if;
    end if;
    return std_logic_vector(x(w - 1 downto 0));      -- WRAP keeps the low bits
  end function;

  function vs_saturate_inc(v : signed; inc : std_logic; w : positive; is_signed : boolean; sat : natural)
    return std_logic_vector is
    constant L : positive := vs_max(v'length, w + 1) + 1;
    variable x : signed(L - 1 downto 0) := resize(v, L);
    variable hi, lo : signed(L - 1 downto 0);
    variable flags : std_logic_vector(1 downto 0) := "00";
    variable one : signed(1 downto 0) := "00";
  begin
    vs_bounds(L, w, is_signed, sat, hi, lo);
    if inc = '1' then
      one(0) := '1';
      if sat /= 0 and x >= hi then flags(1) := '1'; end if;      -- v + 1 > hi
      if sat /= 0 and x < lo - 1 then flags(0) := '1'; end if;   -- v + 1 < lo
    else
      if sat /= 0 and x > hi then flags(1) := '1'; end if;
      if sat /= 0 and x < lo then flags(0) := '1'; end if;
    end if;
    return vs_sat_apply(x + one, flags, w, is_signed, sat);
  end function;

  function vs_saturate(v : signed; w : positive; is_signed : boolean; sat : natural) return std_logic_vector is
  begin
    return vs_sat_apply(v, vs_sat_flags(v, w, is_signed, sat), w, is_signed, sat);
  end function;

  function vs_round_len(len : positive; shift : integer) return positive is
  begin
    if shift <= 0 then return len - shift; end if;
    return vs_max(len, shift + 1) + 1;
  end function;

  function vs_requant(v : signed; shift : integer; w : positive; is_signed : boolean; rnd, sat : natural)
    return std_logic_vector is
  begin
    return vs_saturate(vs_round(v, shift, rnd), w, is_signed, sat);
  end function;

  function vs_flag(b : boolean) return std_logic is
  begin
    if b then return '1'; end if;
    return '0';
  end function;

  function vs_floor_at(v : signed; shift : integer) return signed is
    constant L : positive := vs_round_len(v'length, shift);
  begin
    if shift <= 0 then
      return shift_left(resize(v, L), -shift);
    end if;
    return shift_right(resize(v, L), shift);
  end function;

  function vs_round_up(v : signed; shift : integer; rnd : natural) return std_logic is
    constant L : positive := vs_round_len(v'length, shift);
    variable x : signed(L - 1 downto 0);
    variable above, tie, nonzero : boolean;
  begin
    if shift <= 0 then
      return '0';
    end if;
    x := resize(v, L);
    nonzero := x(shift - 1 downto 0) /= 0;
    if shift = 1 then
      tie := x(0) = '1';
      above := false;
    else
      tie := x(shift - 1) = '1' and x(shift - 2 downto 0) = 0;
      above := x(shift - 1) = '1' and x(shift - 2 downto 0) /= 0;
    end if;
    return vs_flag(vs_round_inc(rnd, x(shift) = '1', above, tie, nonzero, x(L - 1) = '1'));
  end function;

  function vs_round(v : signed; shift : integer; rnd : natural) return signed is
    variable inc : signed(1 downto 0) := "00";
  begin
    inc(0) := vs_round_up(v, shift, rnd);
    return vs_floor_at(v, shift) + inc;  -- the increment enters the adder, no mux after it
  end function;
end package body;
