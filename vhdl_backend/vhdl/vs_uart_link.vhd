-- UART link, 8N1, for vs_byte_proto: CLKS_PER_BIT clock cycles a bit (clock / baud rate, >= 4).
-- rx is synchronized through two flip-flops and sampled in the middle of each bit; a byte whose
-- stop bit is low is dropped and reported on rx_error. tx sends a byte when tx_valid is high
-- and it is idle (tx_ready high). The line idles high.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity vs_uart_link is
  generic (CLKS_PER_BIT : positive);
  port (
    clk, rst : in  std_logic;
    rx       : in  std_logic;
    tx       : out std_logic;
    rx_valid : out std_logic;
    rx_data  : out std_logic_vector(7 downto 0);
    rx_error : out std_logic;
    tx_valid : in  std_logic;
    tx_data  : in  std_logic_vector(7 downto 0);
    tx_ready : out std_logic
  );
end entity;

architecture rtl of vs_uart_link is
  signal rx_s1, rx_s2 : std_logic := '1';    -- rx is asynchronous to clk
  signal r_busy : std_logic := '0';
  signal r_cnt : natural range 0 to CLKS_PER_BIT - 1 := 0;
  signal r_bit : natural range 0 to 9 := 0;  -- 0 start, 1..8 data, 9 stop
  signal r_sh : std_logic_vector(7 downto 0) := (others => '0');
  signal r_valid, r_err : std_logic := '0';

  signal t_busy : std_logic := '0';
  signal t_cnt : natural range 0 to CLKS_PER_BIT - 1 := 0;
  signal t_bit : natural range 0 to 9 := 0;
  signal t_sh : std_logic_vector(9 downto 0) := (others => '1');   -- stop & data & start
begin
  rx_valid <= r_valid;
  rx_data <= r_sh;
  rx_error <= r_err;
  tx <= t_sh(0);
  tx_ready <= not t_busy;

  receive : process (clk)
  begin
    if rising_edge(clk) then
      rx_s1 <= rx;
      rx_s2 <= rx_s1;
      r_valid <= '0';
      r_err <= '0';
      if r_busy = '0' then
        if rx_s2 = '0' then            -- a start bit begins: look again in its middle
          r_busy <= '1';
          r_bit <= 0;
          r_cnt <= CLKS_PER_BIT / 2 - 1;
        end if;
      elsif r_cnt /= 0 then
        r_cnt <= r_cnt - 1;
      else
        r_cnt <= CLKS_PER_BIT - 1;
        if r_bit = 0 then
          if rx_s2 = '1' then          -- a glitch, not a start bit
            r_busy <= '0';
          end if;
          r_bit <= 1;
        elsif r_bit <= 8 then
          r_sh <= rx_s2 & r_sh(7 downto 1);   -- least significant bit first
          r_bit <= r_bit + 1;
        else
          r_busy <= '0';
          if rx_s2 = '1' then
            r_valid <= '1';
          else
            r_err <= '1';
          end if;
        end if;
      end if;
      if rst = '1' then
        r_busy <= '0';
        r_valid <= '0';
        r_err <= '0';
      end if;
    end if;
  end process;

  transmit : process (clk)
  begin
    if rising_edge(clk) then
      if t_busy = '0' then
        if tx_valid = '1' then
          t_busy <= '1';
          t_sh <= '1' & tx_data & '0';
          t_cnt <= CLKS_PER_BIT - 1;
          t_bit <= 0;
        end if;
      elsif t_cnt /= 0 then
        t_cnt <= t_cnt - 1;
      else
        t_cnt <= CLKS_PER_BIT - 1;
        t_sh <= '1' & t_sh(9 downto 1);
        if t_bit = 9 then
          t_busy <= '0';
        else
          t_bit <= t_bit + 1;
        end if;
      end if;
      if rst = '1' then
        t_busy <= '0';
        t_sh <= (others => '1');
      end if;
    end if;
  end process;
end architecture;
