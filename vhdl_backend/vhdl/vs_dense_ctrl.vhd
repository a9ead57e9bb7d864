-- vs_dense_ctrl: runs one matrix product on the shared MAC engine: a Dense layer (per time
-- step when N_T > 1, weights from a ROM) or a product of two buffers (attention's Q K^T and
-- A V per head, the second operand from a banked buffer that gives P elements a read).
-- For each head h, row t and group g of P outputs: N_IN cycles issue x[XB + i] and the P
-- operands w[WB + i * W_SI] to the engine, the engine drains (4 cycles), then P cycles add
-- each lane's bias, requantize and write y[YB + gP + k], where XB = h*X_H + t*X_T,
-- WB = h*W_H + g*W_G, YB = h*Y_H + t*Y_T. Cycles from start to done:
-- 1 + N_H * N_T * (N_GROUPS * (N_IN + 4) + N_OUT), N_GROUPS = ceil(N_OUT / P).
-- Y_MODE says how the result buffer is banked (y_bank is a one-hot bank write select):
-- 0 one bank; 1 by row (bank t mod Y_BANKS, YB advances by Y_T every Y_BANKS rows);
-- 2 by column (bank k, word YB + g; P = Y_BANKS).
-- All engine outputs are zero while idle, so the top level ORs the engine inputs of all clients.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_dense_ctrl is
  generic (
    N_IN, N_OUT, N_T, P, LANES : positive;
    N_H : positive := 1;
    X_T, X_H, W_G, W_H, W_SI, Y_T, Y_H : natural;
    Y_MODE : natural := 0; Y_BANKS : positive := 1;
    X_W : positive; X_SIGNED : boolean;
    W_W : positive; W_SIGNED : boolean;
    BIAS_W : positive; BIAS_SIGNED : boolean;
    A_W, B_W, ACC_W : positive;
    ACC_SHIFT, BIAS_SHIFT, OUT_SHIFT : integer;
    Y_W : positive; Y_SIGNED : boolean; RND, SAT : natural;
    XA_W, WA_W, BA_W, YA_W : positive
  );
  port (
    clk, rst, start : in std_logic;
    done            : out std_logic;
    x_addr          : out std_logic_vector(XA_W - 1 downto 0);
    x_data          : in  std_logic_vector(X_W - 1 downto 0);
    w_addr          : out std_logic_vector(WA_W - 1 downto 0);
    w_data          : in  std_logic_vector(P * W_W - 1 downto 0);
    b_addr          : out std_logic_vector(BA_W - 1 downto 0);
    b_data          : in  std_logic_vector(BIAS_W - 1 downto 0);
    eng_valid, eng_first, eng_last : out std_logic;
    eng_a           : out std_logic_vector(A_W - 1 downto 0);
    eng_b           : out std_logic_vector(LANES * B_W - 1 downto 0);
    eng_acc         : in  std_logic_vector(LANES * ACC_W - 1 downto 0);
    eng_acc_valid   : in  std_logic;
    y_we            : out std_logic;
    y_bank          : out std_logic_vector(Y_BANKS - 1 downto 0);
    y_addr          : out std_logic_vector(YA_W - 1 downto 0);
    y_data          : out std_logic_vector(Y_W - 1 downto 0)
  );
end entity;

architecture rtl of vs_dense_ctrl is
  constant N_GROUPS : positive := (N_OUT + P - 1) / P;
  constant LAST_NW : positive := N_OUT - (N_GROUPS - 1) * P;
  constant SUM_W   : positive := vs_max(ACC_W + vs_max(ACC_SHIFT, 0), BIAS_W + 1 + vs_max(BIAS_SHIFT, 0)) + 1;
  type state_t is (S_IDLE, S_ISSUE, S_WAIT, S_WRITE);
  signal st    : state_t := S_IDLE;
  signal i     : natural range 0 to N_IN := 0;  -- ranges one past the end: GHDL checks i + 1 statically
  signal g     : natural range 0 to N_GROUPS := 0;
  signal t     : natural range 0 to N_T := 0;
  signal h     : natural range 0 to N_H := 0;
  signal k     : natural range 0 to P := 0;
  signal tb    : natural range 0 to Y_BANKS := 0;  -- t mod Y_BANKS
  -- bases; ranges one past the last address each can reach
  signal xhead, xbase : natural range 0 to N_H * X_H + N_T * X_T + 1 := 0;
  signal whead, wbase : natural range 0 to N_H * W_H + N_GROUPS * W_G + 1 := 0;
  signal wi    : natural range 0 to N_IN * W_SI + 1 := 0;
  signal yhead, ybase : natural range 0 to N_H * Y_H + N_T * Y_T + 1 := 0;
  signal gbase : natural range 0 to N_GROUPS * P := 0;
  signal y_bank_r : std_logic_vector(Y_BANKS - 1 downto 0) := (others => '0');
  signal v1, f1, l1, y_we_r, done_r : std_logic := '0';
  signal y_addr_r : std_logic_vector(YA_W - 1 downto 0) := (others => '0');
  signal y_data_r : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
  signal nw : natural range 1 to P;
begin
  nw <= LAST_NW when g = N_GROUPS - 1 else P;

  x_addr <= std_logic_vector(to_unsigned(xbase + i, XA_W)) when st = S_ISSUE else (others => '0');
  w_addr <= std_logic_vector(to_unsigned(wbase + wi, WA_W)) when st = S_ISSUE else (others => '0');
  b_addr <= std_logic_vector(to_unsigned(gbase + k + 1, BA_W)) when st = S_WRITE else
            std_logic_vector(to_unsigned(gbase, BA_W)) when st = S_WAIT else (others => '0');

  -- Operands arrive one cycle after their addresses (registered reads).
  eng_valid <= v1;
  eng_first <= f1;
  eng_last  <= l1;
  eng_a <= std_logic_vector(vs_to_signed(x_data, X_SIGNED, A_W)) when v1 = '1' else (others => '0');
  operands : for lane in 0 to LANES - 1 generate
    used : if lane < P generate
      eng_b((lane + 1) * B_W - 1 downto lane * B_W) <=
        std_logic_vector(vs_to_signed(w_data((lane + 1) * W_W - 1 downto lane * W_W), W_SIGNED, B_W))
        when v1 = '1' else (others => '0');
    end generate;
    unused : if lane >= P generate
      eng_b((lane + 1) * B_W - 1 downto lane * B_W) <= (others => '0');
    end generate;
  end generate;

  process (clk)
    variable acc_k : signed(ACC_W - 1 downto 0);
    variable sum   : signed(SUM_W - 1 downto 0);
  begin
    if rising_edge(clk) then
      y_we_r <= '0';
      done_r <= '0';
      if st = S_ISSUE then v1 <= '1'; else v1 <= '0'; end if;
      -- first/last only while issuing: idle controllers drive zeros into the shared engine
      if st = S_ISSUE and i = 0 then f1 <= '1'; else f1 <= '0'; end if;
      if st = S_ISSUE and i = N_IN - 1 then l1 <= '1'; else l1 <= '0'; end if;
      if rst = '1' then
        st <= S_IDLE;
        v1 <= '0';
      else
        -- if/elsif, not case: GHDL writes a case as a Verilog case without default,
        -- in which Yosys infers latches
        if st = S_IDLE then
            if start = '1' then
              i <= 0; g <= 0; t <= 0; h <= 0; k <= 0; tb <= 0; wi <= 0;
              xhead <= 0; xbase <= 0; whead <= 0; wbase <= 0; yhead <= 0; ybase <= 0; gbase <= 0;
              st <= S_ISSUE;
            end if;
        elsif st = S_ISSUE then
            if i = N_IN - 1 then
              i <= 0;
              wi <= 0;
              st <= S_WAIT;
            else
              i <= i + 1;
              wi <= wi + W_SI;
            end if;
        elsif st = S_WAIT then
            if eng_acc_valid = '1' then
              k <= 0;
              st <= S_WRITE;
            end if;
        elsif st = S_WRITE then
            acc_k := (others => '0');
            for lane in 0 to P - 1 loop
              if lane = k then
                acc_k := signed(eng_acc((lane + 1) * ACC_W - 1 downto lane * ACC_W));
              end if;
            end loop;
            sum := shift_left(resize(acc_k, SUM_W), vs_max(ACC_SHIFT, 0))
                   + shift_left(resize(vs_to_signed(b_data, BIAS_SIGNED, BIAS_W + 1), SUM_W), vs_max(BIAS_SHIFT, 0));
            y_data_r <= vs_requant(sum, OUT_SHIFT, Y_W, Y_SIGNED, RND, SAT);
            if Y_MODE = 2 then
              y_addr_r <= std_logic_vector(to_unsigned(ybase + g, YA_W));
            else
              y_addr_r <= std_logic_vector(to_unsigned(ybase + gbase + k, YA_W));
            end if;
            for b in 0 to Y_BANKS - 1 loop
              if (Y_MODE = 2 and b = k) or (Y_MODE /= 2 and b = tb) then
                y_bank_r(b) <= '1';
              else
                y_bank_r(b) <= '0';
              end if;
            end loop;
            y_we_r <= '1';
            if k = nw - 1 then
              k <= 0;
              if g = N_GROUPS - 1 then
                g <= 0; gbase <= 0; wbase <= whead;
                if t = N_T - 1 then
                  t <= 0; tb <= 0;
                  if h = N_H - 1 then
                    done_r <= '1';
                    st <= S_IDLE;
                  else
                    h <= h + 1;
                    xhead <= xhead + X_H; xbase <= xhead + X_H;
                    whead <= whead + W_H; wbase <= whead + W_H;
                    yhead <= yhead + Y_H; ybase <= yhead + Y_H;
                    st <= S_ISSUE;
                  end if;
                else
                  t <= t + 1;
                  xbase <= xbase + X_T;
                  if Y_MODE = 1 and tb < Y_BANKS - 1 then
                    tb <= tb + 1;
                  else
                    tb <= 0;
                    ybase <= ybase + Y_T;
                  end if;
                  st <= S_ISSUE;
                end if;
              else
                g <= g + 1;
                gbase <= gbase + P;
                wbase <= wbase + W_G;
                st <= S_ISSUE;
              end if;
            else
              k <= k + 1;
            end if;
        end if;
      end if;
    end if;
  end process;

  y_we <= y_we_r;
  y_bank <= y_bank_r;
  y_addr <= y_addr_r;
  y_data <= y_data_r;
  done <= done_r;
end architecture;
