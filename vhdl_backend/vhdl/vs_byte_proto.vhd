-- Byte protocol engine shared by the UART and SPI links (README, "Board interfaces").
--
-- Bytes in (rx_valid/rx_data, one cycle each), bytes out (tx_valid/tx_data, taken when tx_ready):
--   0x00 NOP          ignored (an SPI host clocks it to read an answer)
--   0xA1 WRITE L0 L1 <L bytes>  input frame, L little-endian; L must be N_IN * BPV_IN
--   0xA2 START        start an inference
--   0xA3 STATUS       answers 2 bytes: state (0 idle, 1 busy, 2 done, 3 error), error code
--   0xA4 READ         answers the state byte, then, only when it is 2 (done), the output frame
--   0xA5 ID           answers the 4 bytes of HW_ID, least significant first
--   0xA6 CLEAR        clears the error (the state goes back to idle or done)
-- A value is BPV bytes (ceil(width / 8)), least significant first, sign-extended (zero-extended
-- for an unsigned type); bits above the type's width of a received value are ignored.
--
-- Malformed input never reaches the core: a WRITE of the wrong length is read and dropped, a
-- START while busy and a WRITE while busy are refused (the running inference goes on), a READ
-- before done answers the state alone. A WRITE that stops short is ended by `abort` (SPI chip
-- select released) or by TIMEOUT cycles without a byte (UART; 0 = no timeout). Each sets the
-- error code, which stays until CLEAR or reset; START is refused while it is set.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity vs_byte_proto is
  generic (
    N_IN       : positive;
    IN_W       : positive;             -- bits of an input value (<= 31)
    IN_AW      : positive;
    N_OUT      : positive;
    OUT_W      : positive;
    OUT_AW     : positive;
    OUT_SIGNED : boolean;
    HW_ID      : std_logic_vector(31 downto 0);
    TIMEOUT    : natural               -- cycles without a byte that end a WRITE; 0: none
  );
  port (
    clk, rst  : in  std_logic;
    rx_valid  : in  std_logic;
    rx_data   : in  std_logic_vector(7 downto 0);
    rx_error  : in  std_logic;          -- a framing error of the link (UART stop bit)
    abort     : in  std_logic;          -- the link ended the transaction (SPI chip select high)
    tx_valid  : out std_logic;
    tx_data   : out std_logic_vector(7 downto 0);
    tx_ready  : in  std_logic;
    busy      : out std_logic;          -- the core is computing
    -- the core top level's ports
    core_start : out std_logic;
    core_done  : in  std_logic;
    in_we      : out std_logic;
    in_addr    : out std_logic_vector(IN_AW - 1 downto 0);
    in_data    : out std_logic_vector(IN_W - 1 downto 0);
    out_addr   : out std_logic_vector(OUT_AW - 1 downto 0);
    out_data   : in  std_logic_vector(OUT_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_byte_proto is
  constant BPV_IN  : positive := (IN_W + 7) / 8;
  constant BPV_OUT : positive := (OUT_W + 7) / 8;
  constant FRAME   : natural := N_IN * BPV_IN;
  function max3(a, b, c : natural) return natural is
  begin
    if a >= b and a >= c then
      return a;
    elsif b >= c then
      return b;
    end if;
    return c;
  end function;
  -- the value register holds the widest value's bytes (at least 2 bytes: no null slices); the
  -- element counter counts to the larger frame (one bit spare for the compares with N - 2)
  constant VW : positive := 8 * max3(BPV_IN, BPV_OUT, 2);
  constant EW : positive := max3(IN_AW, OUT_AW, 1) + 1;

  constant C_NOP    : std_logic_vector(7 downto 0) := x"00";
  constant C_WRITE  : std_logic_vector(7 downto 0) := x"A1";
  constant C_START  : std_logic_vector(7 downto 0) := x"A2";
  constant C_STATUS : std_logic_vector(7 downto 0) := x"A3";
  constant C_READ   : std_logic_vector(7 downto 0) := x"A4";
  constant C_ID     : std_logic_vector(7 downto 0) := x"A5";
  constant C_CLEAR  : std_logic_vector(7 downto 0) := x"A6";

  -- error codes (the second STATUS byte)
  constant E_UNKNOWN   : natural := 1;  -- unknown command byte
  constant E_LENGTH    : natural := 2;  -- WRITE length is not the input frame's
  constant E_SHORT     : natural := 3;  -- WRITE ended before its last byte
  constant E_START     : natural := 4;  -- START while busy or while an error is set
  constant E_NOT_DONE  : natural := 5;  -- READ before done
  constant E_WRITE     : natural := 6;  -- WRITE while busy
  constant E_INTERRUPT : natural := 7;  -- a command byte while an answer was being sent
  constant E_FRAMING   : natural := 8;  -- the link saw a malformed byte

  type pstate_t is (P_CMD, P_LEN0, P_LEN1, P_LENCHK, P_DATA, P_DROP, P_ANSWER, P_FETCH, P_FETCH2, P_LOAD, P_VALUE);
  type answer_t is (A_STATUS, A_READ, A_ID);
  signal ps : pstate_t := P_CMD;
  signal answer : answer_t := A_STATUS;

  signal running, finished : std_logic := '0';   -- the core computes / has results
  signal err : unsigned(3 downto 0) := (others => '0');

  -- the received byte, registered and decoded (keeps the compares out of the state machine's paths)
  signal rv, rv_nop, rv_write, rv_start, rv_status, rv_read, rv_id, rv_clear, rv_other, rv_err : std_logic := '0';
  signal rd : std_logic_vector(7 downto 0) := (others => '0');

  signal len_lo : unsigned(7 downto 0) := (others => '0');
  signal len_zero, len_ok : std_logic := '0';          -- the WRITE length is 0 / the input frame's
  signal left_n : unsigned(15 downto 0) := (others => '0');   -- bytes still to drop, less one
  signal byte_k : natural range 0 to 3 := 0;           -- byte of the value being moved
  signal elem : unsigned(EW - 1 downto 0) := (others => '0');  -- element index
  signal elem_last : std_logic := '0';                 -- elem is the last element (of the input or the output)
  signal value : std_logic_vector(VW - 1 downto 0) := (others => '0');
  signal idle_cycles : natural range 0 to TIMEOUT := 0;
  signal expired : std_logic := '0';                   -- TIMEOUT cycles without a byte in a WRITE
  signal ans_k : natural range 0 to 4 := 0;            -- answer byte index (STATUS, ID, READ's first)

  signal txv : std_logic := '0';
  signal txd : std_logic_vector(7 downto 0) := (others => '0');
  signal we_r : std_logic := '0';
  signal start_r : std_logic := '0';

  function state_byte(run, fin : std_logic; e : unsigned) return std_logic_vector is
  begin
    if e /= 0 then
      return x"03";
    elsif run = '1' then
      return x"01";
    elsif fin = '1' then
      return x"02";
    end if;
    return x"00";
  end function;

  function flag(b : boolean) return std_logic is
  begin
    if b then
      return '1';
    end if;
    return '0';
  end function;
begin
  tx_valid <= txv;
  tx_data <= txd;
  in_we <= we_r;
  core_start <= start_r;
  busy <= running;

  decode : process (clk)
  begin
    if rising_edge(clk) then
      rv <= rx_valid;
      rd <= rx_data;
      rv_nop <= rx_valid and flag(rx_data = C_NOP);
      rv_write <= rx_valid and flag(rx_data = C_WRITE);
      rv_start <= rx_valid and flag(rx_data = C_START);
      rv_status <= rx_valid and flag(rx_data = C_STATUS);
      rv_read <= rx_valid and flag(rx_data = C_READ);
      rv_id <= rx_valid and flag(rx_data = C_ID);
      rv_clear <= rx_valid and flag(rx_data = C_CLEAR);
      rv_other <= rx_valid and flag(rx_data /= C_NOP and (unsigned(rx_data) < unsigned(C_WRITE) or unsigned(rx_data) > unsigned(C_CLEAR)));
      rv_err <= rx_error;
      if rst = '1' then
        rv <= '0';
        rv_nop <= '0';
        rv_write <= '0';
        rv_start <= '0';
        rv_status <= '0';
        rv_read <= '0';
        rv_id <= '0';
        rv_clear <= '0';
        rv_other <= '0';
        rv_err <= '0';
      end if;
    end if;
  end process;

  -- a WRITE that stops short: TIMEOUT cycles without a byte (the flag is registered)
  watchdog : process (clk)
  begin
    if rising_edge(clk) then
      expired <= '0';
      if TIMEOUT > 0 and (ps = P_LEN0 or ps = P_LEN1 or ps = P_LENCHK or ps = P_DATA or ps = P_DROP) then
        if rv = '1' then
          idle_cycles <= 0;
        elsif idle_cycles = TIMEOUT then
          expired <= '1';
        else
          idle_cycles <= idle_cycles + 1;
        end if;
      else
        idle_cycles <= 0;
      end if;
      if rst = '1' or expired = '1' then
        idle_cycles <= 0;
        expired <= '0';
      end if;
    end if;
  end process;

  process (clk)
    variable fail : natural range 0 to 8;
    variable full : std_logic_vector(VW - 1 downto 0);
  begin
    if rising_edge(clk) then
      we_r <= '0';
      start_r <= '0';
      fail := 0;
      if txv = '1' and tx_ready = '1' then
        txv <= '0';
      end if;
      -- (running: a core reset mid-inference can raise no stale done)
      if core_done = '1' and running = '1' then
        running <= '0';
        finished <= '1';
      end if;

      if ps = P_CMD then
        if rv_write = '1' then
          ps <= P_LEN0;
        elsif rv_start = '1' then
          if running = '1' or err /= 0 then
            fail := E_START;
          else
            running <= '1';
            finished <= '0';
            start_r <= '1';
          end if;
        elsif rv_status = '1' then
          answer <= A_STATUS;
          ans_k <= 0;
          ps <= P_ANSWER;
        elsif rv_read = '1' then
          answer <= A_READ;
          ans_k <= 0;
          ps <= P_ANSWER;
        elsif rv_id = '1' then
          answer <= A_ID;
          ans_k <= 0;
          ps <= P_ANSWER;
        elsif rv_clear = '1' then
          err <= (others => '0');
        elsif rv_other = '1' then
          fail := E_UNKNOWN;
        end if;
      elsif ps = P_LEN0 then
        if rv = '1' then
          len_lo <= unsigned(rd);
          ps <= P_LEN1;
        end if;
      elsif ps = P_LEN1 then
        if rv = '1' then
          len_zero <= flag(unsigned(rd) = 0 and len_lo = 0);
          len_ok <= flag(unsigned(rd) & len_lo = FRAME);
          left_n <= (unsigned(rd) & len_lo) - 1;
          byte_k <= 0;
          elem <= (others => '0');
          elem_last <= flag(N_IN = 1);
          ps <= P_LENCHK;
        end if;
      elsif ps = P_LENCHK then
        -- the frame is dropped, byte by byte, unless its length is right and the core idle
        -- (a byte that comes in this cycle is taken in the next: rv stays for one cycle only, so
        -- this state lasts one cycle and the link's bytes are at least 4 cycles apart)
        if len_zero = '1' then
          ps <= P_CMD;
          fail := E_LENGTH;
        elsif len_ok = '0' or running = '1' then
          ps <= P_DROP;
        else
          ps <= P_DATA;
        end if;
      elsif ps = P_DATA then
        -- bytes shift in from the top; a value's BPV bytes end up at its top
        if rv = '1' then
          full := rd & value(VW - 1 downto 8);
          value <= full;
          if byte_k = BPV_IN - 1 then
            byte_k <= 0;
            we_r <= '1';
            in_addr <= std_logic_vector(elem(IN_AW - 1 downto 0));
            in_data <= full(VW - 8 * BPV_IN + IN_W - 1 downto VW - 8 * BPV_IN);
            elem <= elem + 1;
            elem_last <= flag(to_integer(elem) = N_IN - 2);
            if elem_last = '1' then
              ps <= P_CMD;
            end if;
          else
            byte_k <= byte_k + 1;
          end if;
        end if;
      elsif ps = P_DROP then
        if rv = '1' then
          left_n <= left_n - 1;
          if left_n = 0 then
            ps <= P_CMD;
            if len_ok = '0' then
              fail := E_LENGTH;
            else
              fail := E_WRITE;
            end if;
          end if;
        end if;

      -- answers: one byte at a time into the tx register, the next once it is taken
      elsif ps = P_ANSWER then
        if txv = '0' then
          txv <= '1';
          ans_k <= ans_k + 1;
          if answer = A_STATUS then
            if ans_k = 0 then
              txd <= state_byte(running, finished, err);
            else
              txd <= std_logic_vector(resize(err, 8));
              ps <= P_CMD;
            end if;
          elsif answer = A_ID then
            if ans_k = 0 then
              txd <= HW_ID(7 downto 0);
            elsif ans_k = 1 then
              txd <= HW_ID(15 downto 8);
            elsif ans_k = 2 then
              txd <= HW_ID(23 downto 16);
            else
              txd <= HW_ID(31 downto 24);
              ps <= P_CMD;
            end if;
          else
            txd <= state_byte(running, finished, err);
            if finished = '1' and running = '0' and err = 0 then
              elem <= (others => '0');
              elem_last <= flag(N_OUT = 1);
              ps <= P_FETCH;
            else
              ps <= P_CMD;
              if err = 0 then   -- an error already set is the one to report
                fail := E_NOT_DONE;
              end if;
            end if;
          end if;
        end if;
      elsif ps = P_FETCH then
        -- out_addr is registered; the memory answers one cycle later
        out_addr <= std_logic_vector(elem(OUT_AW - 1 downto 0));
        ps <= P_FETCH2;
      elsif ps = P_FETCH2 then
        ps <= P_LOAD;
      elsif ps = P_LOAD then
        if OUT_SIGNED then
          value <= std_logic_vector(resize(signed(out_data), VW));
        else
          value <= std_logic_vector(resize(unsigned(out_data), VW));
        end if;
        byte_k <= 0;
        ps <= P_VALUE;
      elsif ps = P_VALUE then
        -- the value's bytes, least significant first
        if txv = '0' then
          txv <= '1';
          txd <= value(7 downto 0);
          value <= x"00" & value(VW - 1 downto 8);
          if byte_k = BPV_OUT - 1 then
            if elem_last = '1' then
              ps <= P_CMD;
            else
              elem <= elem + 1;
              elem_last <= flag(to_integer(elem) = N_OUT - 2);
              ps <= P_FETCH;
            end if;
          else
            byte_k <= byte_k + 1;
          end if;
        end if;
      end if;

      -- a command byte while an answer is out: refused (NOPs are the SPI host's clocking)
      if (ps = P_ANSWER or ps = P_FETCH or ps = P_FETCH2 or ps = P_LOAD or ps = P_VALUE) and rv = '1' and rv_nop = '0' then
        fail := E_INTERRUPT;
      end if;
      if rv_err = '1' then
        fail := E_FRAMING;
      end if;
      if expired = '1' then
        ps <= P_CMD;
        fail := E_SHORT;
      end if;
      -- the transaction is over: a WRITE short of its length fails; an answer is dropped
      if abort = '1' then
        if ps = P_LEN0 or ps = P_LEN1 or ps = P_LENCHK or ps = P_DATA or ps = P_DROP then
          fail := E_SHORT;
        end if;
        ps <= P_CMD;
        txv <= '0';
      end if;
      if fail /= 0 then
        err <= to_unsigned(fail, 4);
      end if;

      if rst = '1' then
        ps <= P_CMD;
        running <= '0';
        finished <= '0';
        err <= (others => '0');
        txv <= '0';
        we_r <= '0';
        start_r <= '0';
      end if;
    end if;
  end process;
end architecture;
