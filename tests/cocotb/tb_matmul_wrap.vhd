-- tb_matmul_wrap: test-only toplevel for cocotb_matmul.py: one vs_dense_ctrl driving a real
-- vs_mac_engine, as the generated top level connects them (one client, so no OR of requests).
-- The operand memories (x, banked w, bias) are modelled in Python through the ports.
-- The engine request signals are brought out so that the test can check they rest at zero.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity tb_matmul_wrap is
  generic (
    N_IN, N_OUT, N_T, P, LANES : positive;
    N_H : positive;
    X_T, X_H, W_G, W_H, W_SI, Y_T, Y_H : natural;
    Y_MODE : natural; Y_BANKS : positive;
    X_W : positive; X_SIGNED : boolean;
    W_W : positive; W_SIGNED : boolean;
    BIAS_W : positive; BIAS_SIGNED : boolean;
    A_W, B_W, ACC_W : positive;
    ACC_SHIFT, BIAS_SHIFT, OUT_SHIFT : integer;
    D_W : positive; D_SIGNED : boolean; D_RND, D_SAT : natural;
    POST, POST_RELU : natural; POST_SHIFT : integer;
    Y_W : positive; Y_SIGNED : boolean; RND, SAT : natural;
    XA_W, WA_W, BA_W, YA_W : positive;
    DSP_LANES : natural
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
    y_we            : out std_logic;
    y_bank          : out std_logic_vector(Y_BANKS - 1 downto 0);
    y_addr          : out std_logic_vector(YA_W - 1 downto 0);
    y_data          : out std_logic_vector(Y_W - 1 downto 0);
    eng_valid, eng_first, eng_last, eng_acc_valid : out std_logic;
    eng_a_o         : out std_logic_vector(A_W - 1 downto 0);
    eng_b_o         : out std_logic_vector(LANES * B_W - 1 downto 0)
  );
end entity;

architecture wrap of tb_matmul_wrap is
  signal valid_s, first_s, last_s, acc_valid_s : std_logic;
  signal a_s   : std_logic_vector(A_W - 1 downto 0);
  signal b_s   : std_logic_vector(LANES * B_W - 1 downto 0);
  signal sel_s : std_logic_vector(vs_max(vs_clog2(LANES), 1) - 1 downto 0);
  signal sum_s : std_logic_vector(ACC_W - 1 downto 0);
begin
  ctrl : entity work.vs_dense_ctrl
    generic map (
      N_IN => N_IN, N_OUT => N_OUT, N_T => N_T, P => P, LANES => LANES, N_H => N_H,
      X_T => X_T, X_H => X_H, W_G => W_G, W_H => W_H, W_SI => W_SI, Y_T => Y_T, Y_H => Y_H,
      Y_MODE => Y_MODE, Y_BANKS => Y_BANKS,
      X_W => X_W, X_SIGNED => X_SIGNED, W_W => W_W, W_SIGNED => W_SIGNED,
      BIAS_W => BIAS_W, BIAS_SIGNED => BIAS_SIGNED, A_W => A_W, B_W => B_W, ACC_W => ACC_W,
      ACC_SHIFT => ACC_SHIFT, BIAS_SHIFT => BIAS_SHIFT, OUT_SHIFT => OUT_SHIFT,
      D_W => D_W, D_SIGNED => D_SIGNED, D_RND => D_RND, D_SAT => D_SAT,
      POST => POST, POST_RELU => POST_RELU, POST_SHIFT => POST_SHIFT,
      Y_W => Y_W, Y_SIGNED => Y_SIGNED, RND => RND, SAT => SAT,
      XA_W => XA_W, WA_W => WA_W, BA_W => BA_W, YA_W => YA_W
    )
    port map (
      clk => clk, rst => rst, start => start, done => done,
      x_addr => x_addr, x_data => x_data, w_addr => w_addr, w_data => w_data,
      b_addr => b_addr, b_data => b_data,
      eng_valid => valid_s, eng_first => first_s, eng_last => last_s,
      eng_a => a_s, eng_b => b_s, eng_acc_valid => acc_valid_s, eng_sel => sel_s, eng_sum => sum_s,
      y_we => y_we, y_bank => y_bank, y_addr => y_addr, y_data => y_data
    );

  engine : entity work.vs_mac_engine
    generic map (LANES => LANES, DSP_LANES => DSP_LANES, A_W => A_W, B_W => B_W, ACC_W => ACC_W)
    port map (
      clk => clk, in_valid => valid_s, in_first => first_s, in_last => last_s,
      a => a_s, b => b_s, acc => open, acc_valid => acc_valid_s, sel => sel_s, sum => sum_s
    );

  eng_valid <= valid_s;
  eng_first <= first_s;
  eng_last <= last_s;
  eng_acc_valid <= acc_valid_s;
  eng_a_o <= a_s;
  eng_b_o <= b_s;
end architecture;
