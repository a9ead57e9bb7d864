-- AXI4-Stream link: the input frame arrives as N_IN beats on the slave port (one value a beat,
-- the low IN_W bits of tdata; tlast is not needed and not checked), the inference runs, and the
-- N_OUT outputs leave as N_OUT beats on the master port, sign-extended (zero-extended when
-- unsigned) to the tdata width, tlast on the last. A beat moves when tvalid and tready are both
-- high; the master holds tdata/tlast/tvalid until tready, so back-pressure on either side stalls
-- without losing or repeating a beat. Frames are taken one at a time: s_axis_tready is low from
-- the frame's last beat until the last output beat has gone.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity vs_axis_link is
  generic (
    N_IN       : positive;
    IN_W       : positive;
    IN_AW      : positive;
    S_W        : positive;     -- slave tdata width (a multiple of 8, >= IN_W)
    N_OUT      : positive;
    OUT_W      : positive;
    OUT_AW     : positive;
    M_W        : positive;     -- master tdata width (a multiple of 8, >= OUT_W)
    OUT_SIGNED : boolean
  );
  port (
    clk, rst      : in  std_logic;
    s_axis_tdata  : in  std_logic_vector(S_W - 1 downto 0);
    s_axis_tvalid : in  std_logic;
    s_axis_tready : out std_logic;
    m_axis_tdata  : out std_logic_vector(M_W - 1 downto 0);
    m_axis_tvalid : out std_logic;
    m_axis_tready : in  std_logic;
    m_axis_tlast  : out std_logic;
    busy          : out std_logic;
    core_start : out std_logic;
    core_done  : in  std_logic;
    in_we      : out std_logic;
    in_addr    : out std_logic_vector(IN_AW - 1 downto 0);
    in_data    : out std_logic_vector(IN_W - 1 downto 0);
    out_addr   : out std_logic_vector(OUT_AW - 1 downto 0);
    out_data   : in  std_logic_vector(OUT_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_axis_link is
  type state_t is (S_LOAD, S_START, S_BUSY, S_FETCH, S_FETCH2, S_SEND);
  signal st : state_t := S_LOAD;
  signal k : natural range 0 to N_IN + N_OUT := 0;
  signal s_ready, m_valid, m_last, we_r, start_r : std_logic := '0';
  signal m_data : std_logic_vector(M_W - 1 downto 0) := (others => '0');
begin
  s_axis_tready <= s_ready;
  m_axis_tvalid <= m_valid;
  m_axis_tdata <= m_data;
  m_axis_tlast <= m_last;
  in_we <= we_r;
  core_start <= start_r;
  busy <= '1' when st = S_START or st = S_BUSY else '0';

  process (clk)
  begin
    if rising_edge(clk) then
      we_r <= '0';
      start_r <= '0';
      if st = S_LOAD then
        s_ready <= '1';
        if s_ready = '1' and s_axis_tvalid = '1' then
          we_r <= '1';
          in_addr <= std_logic_vector(to_unsigned(k, IN_AW));
          in_data <= s_axis_tdata(IN_W - 1 downto 0);
          if k = N_IN - 1 then
            s_ready <= '0';    -- registered, so the frame's last beat is also the last taken
            k <= 0;
            st <= S_START;
          else
            k <= k + 1;
          end if;
        end if;
      elsif st = S_START then
        -- the last input element is written in this cycle
        start_r <= '1';
        st <= S_BUSY;
      elsif st = S_BUSY then
        if core_done = '1' then
          st <= S_FETCH;
        end if;
      elsif st = S_FETCH then
        -- out_addr registered; the output memory answers a cycle later
        out_addr <= std_logic_vector(to_unsigned(k, OUT_AW));
        st <= S_FETCH2;
      elsif st = S_FETCH2 then
        st <= S_SEND;
      elsif st = S_SEND then
        if m_valid = '0' then
          m_valid <= '1';
          if OUT_SIGNED then
            m_data <= std_logic_vector(resize(signed(out_data), M_W));
          else
            m_data <= std_logic_vector(resize(unsigned(out_data), M_W));
          end if;
          if k = N_OUT - 1 then
            m_last <= '1';
          end if;
        elsif m_axis_tready = '1' then
          m_valid <= '0';
          m_last <= '0';
          if k = N_OUT - 1 then
            k <= 0;
            st <= S_LOAD;
          else
            k <= k + 1;
            st <= S_FETCH;
          end if;
        end if;
      end if;
      if rst = '1' then
        st <= S_LOAD;
        k <= 0;
        s_ready <= '0';
        m_valid <= '0';
        m_last <= '0';
        we_r <= '0';
        start_r <= '0';
      end if;
    end if;
  end process;
end architecture;
