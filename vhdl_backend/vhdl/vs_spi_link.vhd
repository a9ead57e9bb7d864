-- SPI slave link, mode 0 (CPOL 0, CPHA 0, most significant bit first), for vs_byte_proto.
-- sclk, cs_n and mosi are synchronized to clk and their edges found there, so sclk must be at
-- most clk / 8. mosi is sampled on the rising edge of sclk, miso changes on the falling edge.
-- The byte sent in a transfer is chosen when the transfer before it ends (or when cs_n falls):
-- the protocol's next byte if it has one, else 0x00. So the answer to a command starts in the
-- second byte after it: the host clocks one filler byte, then the answer (README). Releasing
-- cs_n ends the transaction (abort): an unfinished command is dropped, a pending answer too.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity vs_spi_link is
  port (
    clk, rst : in  std_logic;
    sclk     : in  std_logic;
    cs_n     : in  std_logic;
    mosi     : in  std_logic;
    miso     : out std_logic;
    rx_valid : out std_logic;
    rx_data  : out std_logic_vector(7 downto 0);
    abort    : out std_logic;
    tx_valid : in  std_logic;
    tx_data  : in  std_logic_vector(7 downto 0);
    tx_ready : out std_logic
  );
end entity;

architecture rtl of vs_spi_link is
  signal sclk_s, cs_s, mosi_s : std_logic_vector(2 downto 0) := "111";  -- 2 sync stages + previous
  signal bit_k : natural range 0 to 7 := 0;
  signal r_sh, t_sh : std_logic_vector(7 downto 0) := (others => '0');
  signal next_b : std_logic_vector(7 downto 0) := (others => '0');   -- the next transfer's byte
  signal r_valid, r_abort, take : std_logic := '0';
begin
  rx_valid <= r_valid;
  rx_data <= r_sh;
  abort <= r_abort;
  miso <= t_sh(7);
  tx_ready <= take;

  process (clk)
    variable rise, fall : boolean;
  begin
    if rising_edge(clk) then
      sclk_s <= sclk_s(1 downto 0) & sclk;
      cs_s <= cs_s(1 downto 0) & cs_n;
      mosi_s <= mosi_s(1 downto 0) & mosi;
      rise := sclk_s(2) = '0' and sclk_s(1) = '1';
      fall := sclk_s(2) = '1' and sclk_s(1) = '0';
      r_valid <= '0';
      r_abort <= '0';
      take <= '0';
      if cs_s(1) = '1' then
        bit_k <= 0;
        if cs_s(2) = '0' then
          r_abort <= '1';
        end if;
      end if;
      if cs_s(1) = '0' and cs_s(2) = '1' then   -- a transaction begins: its first byte
        t_sh <= next_b;
      elsif cs_s(1) = '0' and rise then
        r_sh <= r_sh(6 downto 0) & mosi_s(1);
        if bit_k = 7 then
          bit_k <= 0;
          r_valid <= '1';
        else
          bit_k <= bit_k + 1;
        end if;
      elsif cs_s(1) = '0' and fall then
        if bit_k = 0 then                       -- a byte ended: the next one goes out
          t_sh <= next_b;
        else
          t_sh <= t_sh(6 downto 0) & '0';
        end if;
      end if;
      -- next_b is chosen when a byte ends (or while the bus is idle), taking the protocol's byte
      if (cs_s(1) = '1' or (rise and bit_k = 7)) and take = '0' then
        if tx_valid = '1' and cs_s(1) = '0' then
          next_b <= tx_data;
          take <= '1';
        else
          next_b <= x"00";
        end if;
      end if;
      if rst = '1' then
        bit_k <= 0;
        r_valid <= '0';
        r_abort <= '0';
        take <= '0';
        t_sh <= (others => '0');
        next_b <= x"00";
      end if;
    end if;
  end process;
end architecture;
