-- vs_dense_ctrl: runs one matrix product on the shared MAC engine: a Dense layer (per time
-- step when N_T > 1, weights from a ROM) or a product of two buffers (attention's Q K^T and
-- A V per head, the second operand from a banked buffer that gives P elements a read).
-- Groups j = 0 .. G - 1 (G = N_H * N_T * N_GROUPS) run in the order head h, row t, group g of
-- P outputs. Issuing a group takes N_IN cycles: x[XB + i] and the P operands w[WB + i * W_SI]
-- go to the engine, where XB = h*X_H + t*X_T, WB = h*W_H + g*W_G (with X_GAP > 0, element i
-- is read from XB + i + (i / X_TAP) * X_GAP: a dilated Conv1D's taps). The engine's sums appear
-- 5 cycles after a group's last issue cycle (eng_acc_valid) and are copied into the engine's
-- shadow bank; from the next cycle on, the write-back reads lane k's sum from it (eng_sel = k, a
-- register of this controller; the engine registers the word it selects, eng_sum, for the next
-- cycle), adds the lane's bias, requantizes and writes
-- y[YB + gP + k] (k = 0 .. nw - 1; YB = h*Y_H + t*Y_T), one output a cycle, while the engine
-- already accumulates the next groups. nw is P, or LAST_NW for the last group of a row.
-- The write-back is a pipeline of WB_STAGES registers (see below) so that no path between
-- registers holds more than one adder: word k is selected in cycle c, written in cycle c + WB_STAGES.
-- The shadow must hold group j until its last read, so group j + 1 (whose sums arrive
-- max(N_IN, nw_j) cycles after group j's) is issued right after group j, or after a stall of
-- nw_j - N_IN cycles when N_IN < nw_j. Cycles from start to done (G groups, the last one then
-- drains (5) and is written (LAST_NW, through the pipeline) before done):
--   5 + WB_STAGES + N_IN + LAST_NW + N_H * N_T * (N_GROUPS - 1) * max(N_IN, P)
--     + (N_H * N_T - 1) * max(N_IN, LAST_NW),
-- N_GROUPS = ceil(N_OUT / P), LAST_NW = N_OUT - (N_GROUPS - 1) * P.
-- Y_MODE says how the result buffer is banked (y_bank is a one-hot bank write select):
-- 0 one bank; 1 by row (bank t mod Y_BANKS, YB advances by Y_T every Y_BANKS rows);
-- 2 by column (bank k, word YB + g; P = Y_BANKS).
-- All engine outputs (eng_sel included) are zero while idle, so the top level ORs the engine
-- inputs of all clients.
-- Write-back stages (WB_STAGES = 5, or 8 with a fused activation), each ending in a register:
--   select: eng_sel (register) -> engine's shadow select -> eng_sum; the bias address (register) -> ROM
--   sum:    eng_sum << ACC_SHIFT + bias << BIAS_SHIFT
--   round:  to the output scale (vs_round), not yet saturated
--   range:  whether it is above or below the output type's range (vs_sat_flags)
--   clamp:  saturate by those flags (and ReLU, when an activation is fused) -> y_data, or the
--           product's type D
--   round2, range2, clamp2 (fused activation only): D to y's type
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
use work.vs_fixed_pkg.all;

entity vs_dense_ctrl is
  generic (
    N_IN, N_OUT, N_T, P, LANES : positive;
    N_H : positive := 1;
    X_T, X_H, W_G, W_H, W_SI, Y_T, Y_H : natural;
    -- a dilated Conv1D: its window is taps of X_TAP consecutive elements, X_GAP apart (X_GAP = 0: one run)
    X_TAP : positive := 1; X_GAP : natural := 0;
    Y_MODE : natural := 0; Y_BANKS : positive := 1;
    X_W : positive; X_SIGNED : boolean;
    W_W : positive; W_SIGNED : boolean;
    BIAS_W : positive; BIAS_SIGNED : boolean;
    A_W, B_W, ACC_W : positive;
    ACC_SHIFT, BIAS_SHIFT, OUT_SHIFT : integer;
    -- POST = 1: an activation fused into the write-back. The sum is cast to the product's own
    -- type D (D_*), then ReLU (POST_RELU = 1) and a second cast (shift POST_SHIFT) to y's type;
    -- this saves the activation's pass over the tensor and the buffer between them.
    D_W : positive := 1; D_SIGNED : boolean := true; D_RND, D_SAT : natural := 0;
    POST, POST_RELU : natural := 0; POST_SHIFT : integer := 0;
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
    eng_acc_valid   : in  std_logic;
    eng_sel         : out std_logic_vector(vs_max(vs_clog2(LANES), 1) - 1 downto 0);
    eng_sum         : in  std_logic_vector(ACC_W - 1 downto 0);
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
  -- Two machines: the issue side feeds the engine, the write-back side drains the shadow.
  -- I_IDLE: nothing to issue (before start, and once the last group is issued);
  -- I_STALL: waiting until the shadow will be free when the next group's sums arrive.
  type issue_t is (I_IDLE, I_ISSUE, I_STALL);
  -- W_IDLE: no product running (done once the last group is written);
  -- W_WAIT: waiting for a group's sums; W_WRITE: writing output k of the shadowed group.
  type wb_t is (W_IDLE, W_WAIT, W_WRITE);
  signal ist : issue_t := I_IDLE;
  signal wst : wb_t := W_IDLE;
  -- issue side: ranges one past the end (GHDL checks i + 1 statically)
  signal i     : natural range 0 to N_IN := 0;
  signal g     : natural range 0 to N_GROUPS := 0;
  signal t     : natural range 0 to N_T := 0;
  signal h     : natural range 0 to N_H := 0;
  signal sc    : natural range 0 to P := 0;  -- stall cycles still to wait, after this one
  -- i = N_IN - 1, g = N_GROUPS - 1, t = N_T - 1, h = N_H - 1 as registers, set with the counters:
  -- the counters' end tests then feed the next state without a compare (and its carry chain)
  signal i_last, g_last, t_last, h_last : std_logic := '0';
  signal xhead, xbase : natural range 0 to N_H * X_H + N_T * X_T + 1 := 0;
  signal whead, wbase : natural range 0 to N_H * W_H + N_GROUPS * W_G + 1 := 0;
  -- the read addresses xbase + i and wbase + i * W_SI as registers of their own, so that no adder sits
  -- between them and the memories
  signal xa : natural range 0 to N_H * X_H + N_T * X_T + N_IN + (N_IN / X_TAP) * X_GAP + 1 := 0;
  -- with X_GAP > 0: the element of xa is the last of its tap (a register, as i_last); the position in the tap
  signal tap_last : std_logic := '0';
  signal tc : natural range 0 to X_TAP := 0;
  signal wa : natural range 0 to N_H * W_H + N_GROUPS * W_G + N_IN * W_SI + 1 := 0;
  -- write-back side: its own group, row and head (it trails the issue side by one group or less)
  signal k     : natural range 0 to P := 0;
  signal gw    : natural range 0 to N_GROUPS := 0;
  signal tw    : natural range 0 to N_T := 0;
  signal hw    : natural range 0 to N_H := 0;
  signal tb    : natural range 0 to Y_BANKS := 0;  -- tw mod Y_BANKS
  signal gw_last, tw_last, hw_last : std_logic := '0';  -- as i_last .. h_last
  signal yhead, ybase : natural range 0 to N_H * Y_H + N_T * Y_T + 1 := 0;
  signal gbase : natural range 0 to N_GROUPS * P := 0;
  -- The group being written sits in the engine's shadow bank, loaded when eng_acc_valid is high
  -- (the one cycle the engine shows a group's sums before the next group's first products replace
  -- them); the write-back reads word k of it.
  signal v1, f1, l1 : std_logic := '0';
  signal sel_r : natural range 0 to P := 0;  -- eng_sel: k while writing, else 0
  signal b_addr_r : std_logic_vector(BA_W - 1 downto 0) := (others => '0');
  -- write-back pipeline: data stages, and the write's control delayed alongside them
  constant WB_STAGES : positive := 5 + 3 * POST;
  constant RQ_W : positive := vs_round_len(SUM_W, OUT_SHIFT);
  constant DQ_W : positive := vs_round_len(D_W + 1, POST_SHIFT);
  signal sum_r : signed(SUM_W - 1 downto 0) := (others => '0');
  signal rq_r, rqc_r : signed(RQ_W - 1 downto 0) := (others => '0');
  signal d_r : signed(D_W downto 0) := (others => '0');
  signal dq_r, dqc_r : signed(DQ_W - 1 downto 0) := (others => '0');
  signal rq_flags, dq_flags : std_logic_vector(1 downto 0) := "00";
  signal y_data_r : std_logic_vector(Y_W - 1 downto 0) := (others => '0');
  type addr_pipe_t is array (1 to WB_STAGES) of std_logic_vector(YA_W - 1 downto 0);
  type bank_pipe_t is array (1 to WB_STAGES) of std_logic_vector(Y_BANKS - 1 downto 0);
  signal addr_p : addr_pipe_t := (others => (others => '0'));
  signal bank_p : bank_pipe_t := (others => (others => '0'));
  signal we_p, done_p : std_logic_vector(1 to WB_STAGES) := (others => '0');
  signal nw_i, nw_w : natural range 1 to P;
  signal b_next : natural range 0 to N_GROUPS * P;
begin
  eng_sel <= std_logic_vector(to_unsigned(sel_r, eng_sel'length));
  nw_i <= LAST_NW when g_last = '1' else P;         -- outputs of the group being issued
  nw_w <= LAST_NW when gw_last = '1' else P;        -- of the group being written
  b_next <= 0 when gw_last = '1' else gbase + P;     -- bias base of the group written next

  x_addr <= std_logic_vector(to_unsigned(xa, XA_W)) when ist = I_ISSUE else (others => '0');
  w_addr <= std_logic_vector(to_unsigned(wa, WA_W)) when ist = I_ISSUE else (others => '0');
  b_addr <= b_addr_r;

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

  -- The write-back's data stages run every cycle; only the control pipeline says which results
  -- are written. Stage "sum" sees eng_sum and b_data of the word selected a cycle earlier.
  datapath : process (clk)
    variable d_val : signed(D_W downto 0);
  begin
    if rising_edge(clk) then
      sum_r <= shift_left(resize(signed(eng_sum), SUM_W), vs_max(ACC_SHIFT, 0))
               + shift_left(resize(vs_to_signed(b_data, BIAS_SIGNED, BIAS_W + 1), SUM_W), vs_max(BIAS_SHIFT, 0));
      rq_r <= vs_round(sum_r, OUT_SHIFT, D_RND * POST + RND * (1 - POST));
      rqc_r <= rq_r;
      if POST = 0 then
        rq_flags <= vs_sat_flags(rq_r, Y_W, Y_SIGNED, SAT);
        y_data_r <= vs_sat_apply(rqc_r, rq_flags, Y_W, Y_SIGNED, SAT);
      else
        rq_flags <= vs_sat_flags(rq_r, D_W, D_SIGNED, D_SAT);
        d_val := vs_to_signed(vs_sat_apply(rqc_r, rq_flags, D_W, D_SIGNED, D_SAT), D_SIGNED, D_W + 1);
        if POST_RELU = 1 and d_val < 0 then
          d_val := (others => '0');
        end if;
        d_r <= d_val;
        dq_r <= vs_round(d_r, POST_SHIFT, RND);
        dqc_r <= dq_r;
        dq_flags <= vs_sat_flags(dq_r, Y_W, Y_SIGNED, SAT);
        y_data_r <= vs_sat_apply(dqc_r, dq_flags, Y_W, Y_SIGNED, SAT);
      end if;
    end if;
  end process;

  process (clk)
    variable x_step : natural range 1 to 1 + X_GAP;
  begin
    if rising_edge(clk) then
      we_p(1) <= '0';
      done_p(1) <= '0';
      sel_r <= 0;
      for s in 2 to WB_STAGES loop
        we_p(s) <= we_p(s - 1);
        done_p(s) <= done_p(s - 1);
        addr_p(s) <= addr_p(s - 1);
        bank_p(s) <= bank_p(s - 1);
      end loop;
      -- The bias ROM answers a cycle after its address and the engine's eng_sum a cycle after
      -- eng_sel: both are asked for the word selected next. Waiting for sums, that is output 0 of
      -- the group; at the last write of a group it is output 0 of the next group (whose sums may
      -- arrive in this very cycle).
      if wst = W_WRITE and k /= nw_w - 1 then
        b_addr_r <= std_logic_vector(to_unsigned(gbase + k + 1, BA_W));
      elsif wst = W_WRITE then
        b_addr_r <= std_logic_vector(to_unsigned(b_next, BA_W));
      elsif wst = W_WAIT then
        b_addr_r <= std_logic_vector(to_unsigned(gbase, BA_W));
      else
        b_addr_r <= (others => '0');
      end if;
      if ist = I_ISSUE then v1 <= '1'; else v1 <= '0'; end if;
      -- first/last only while issuing: idle controllers drive zeros into the shared engine.
      -- A group's first product restarts each lane's sum, so groups can follow back-to-back.
      if ist = I_ISSUE and i = 0 then f1 <= '1'; else f1 <= '0'; end if;
      if ist = I_ISSUE and i_last = '1' then l1 <= '1'; else l1 <= '0'; end if;
      if rst = '1' then
        ist <= I_IDLE;
        wst <= W_IDLE;
        v1 <= '0';
        we_p <= (others => '0');
        done_p <= (others => '0');
      else
        -- if/elsif, not case: GHDL writes a case as a Verilog case without default,
        -- in which Yosys infers latches
        -- issue side -----------------------------------------------------------------------
        if ist = I_IDLE then
          if start = '1' and wst = W_IDLE then
            i <= 0; g <= 0; t <= 0; h <= 0; sc <= 0;
            i_last <= vs_flag(N_IN = 1); g_last <= vs_flag(N_GROUPS = 1);
            t_last <= vs_flag(N_T = 1); h_last <= vs_flag(N_H = 1);
            xhead <= 0; xbase <= 0; whead <= 0; wbase <= 0; xa <= 0; wa <= 0;
            tc <= 0; tap_last <= vs_flag(X_TAP = 1);
            ist <= I_ISSUE;
          end if;
        elsif ist = I_ISSUE then
          if i_last = '1' then
            i <= 0; i_last <= vs_flag(N_IN = 1);
            sc <= 0;
            tc <= 0; tap_last <= vs_flag(X_TAP = 1);
            if g_last = '1' then
              g <= 0; g_last <= vs_flag(N_GROUPS = 1);
              wbase <= whead; wa <= whead; xa <= xbase;
              if t_last = '1' then
                t <= 0; t_last <= vs_flag(N_T = 1);
                if h_last = '0' then
                  h <= h + 1; h_last <= vs_flag(h = N_H - 2);
                  xhead <= xhead + X_H; xbase <= xhead + X_H; xa <= xhead + X_H;
                  whead <= whead + W_H; wbase <= whead + W_H; wa <= whead + W_H;
                end if;
              else
                t <= t + 1; t_last <= vs_flag(t = N_T - 2);
                xbase <= xbase + X_T; xa <= xbase + X_T;
              end if;
            else
              g <= g + 1; g_last <= vs_flag(g = N_GROUPS - 2);
              wbase <= wbase + W_G; wa <= wbase + W_G; xa <= xbase;
            end if;
            if g_last = '1' and t_last = '1' and h_last = '1' then
              ist <= I_IDLE;  -- all issued; the write-back side finishes the product
            elsif nw_i > N_IN then
              ist <= I_STALL;  -- the next group's sums would come before this group is written
              sc <= nw_i - N_IN - 1;
            end if;
          else
            i <= i + 1; i_last <= vs_flag(i = N_IN - 2);
            -- one adder: its step is 1 or, after a tap's last element, 1 + X_GAP (tap_last selects it)
            x_step := 1;
            if X_GAP > 0 and tap_last = '1' then
              x_step := 1 + X_GAP;
            end if;
            xa <= xa + x_step;
            if X_GAP > 0 then  -- constant false for a run: the tap counter is then not built
              if tap_last = '1' then
                tc <= 0; tap_last <= vs_flag(X_TAP = 1);
              else
                tc <= tc + 1; tap_last <= vs_flag(tc = X_TAP - 2);
              end if;
            end if;
            wa <= wa + W_SI;
          end if;
        elsif ist = I_STALL then
          -- nw - N_IN stall cycles (nw: outputs of the group issued last): the next group's sums
          -- then arrive nw cycles after the previous group's, in the cycle of its last write.
          -- A down-counter, so the test is a compare with 0.
          if sc = 0 then
            ist <= I_ISSUE;
          else
            sc <= sc - 1;
          end if;
        end if;

        -- write-back side ------------------------------------------------------------------
        if wst = W_IDLE then
          if start = '1' and ist = I_IDLE then
            k <= 0; gw <= 0; tw <= 0; hw <= 0; tb <= 0; yhead <= 0; ybase <= 0; gbase <= 0;
            gw_last <= vs_flag(N_GROUPS = 1); tw_last <= vs_flag(N_T = 1); hw_last <= vs_flag(N_H = 1);
            wst <= W_WAIT;
          end if;
        elsif wst = W_WRITE then
          -- the write of word k enters the control pipeline (its data enters at stage "sum")
          if Y_MODE = 2 then
            addr_p(1) <= std_logic_vector(to_unsigned(ybase + gw, YA_W));
          else
            addr_p(1) <= std_logic_vector(to_unsigned(ybase + gbase + k, YA_W));
          end if;
          for b in 0 to Y_BANKS - 1 loop
            if (Y_MODE = 2 and b = k) or (Y_MODE /= 2 and b = tb) then
              bank_p(1)(b) <= '1';
            else
              bank_p(1)(b) <= '0';
            end if;
          end loop;
          we_p(1) <= '1';
          if k = nw_w - 1 then
            k <= 0;
            wst <= W_WAIT;
            if gw_last = '1' then
              gw <= 0; gbase <= 0; gw_last <= vs_flag(N_GROUPS = 1);
              if tw_last = '1' then
                tw <= 0; tb <= 0; tw_last <= vs_flag(N_T = 1);
                if hw_last = '1' then
                  done_p(1) <= '1';
                  wst <= W_IDLE;
                else
                  hw <= hw + 1; hw_last <= vs_flag(hw = N_H - 2);
                  yhead <= yhead + Y_H; ybase <= yhead + Y_H;
                end if;
              else
                tw <= tw + 1; tw_last <= vs_flag(tw = N_T - 2);
                if Y_MODE = 1 and tb < Y_BANKS - 1 then
                  tb <= tb + 1;
                else
                  tb <= 0;
                  ybase <= ybase + Y_T;
                end if;
              end if;
            else
              gw <= gw + 1; gw_last <= vs_flag(gw = N_GROUPS - 2);
              gbase <= gbase + P;
            end if;
          else
            k <= k + 1;
            sel_r <= k + 1;
          end if;
        end if;
        -- A group's sums: the schedule above makes them arrive while waiting or in the cycle of
        -- the previous group's last write, never earlier, so the engine's shadow is free to take them.
        if eng_acc_valid = '1' and wst /= W_IDLE then
          k <= 0;
          wst <= W_WRITE;
        end if;
      end if;
    end if;
  end process;

  y_we <= we_p(WB_STAGES);
  y_bank <= bank_p(WB_STAGES);
  y_addr <= addr_p(WB_STAGES);
  y_data <= y_data_r;
  done <= done_p(WB_STAGES);
end architecture;
