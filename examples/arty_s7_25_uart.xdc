# Pins of the uart wrapper (<project>_uart: clk, rst, rx, tx, busy) on the Digilent Arty S7-25 (Rev. E),
# part xc7s25csga324-1. Use: Model {Interface: uart, BaudRate: 115200, BoardConstraints: examples/arty_s7_25_uart.xdc}.
# Every PACKAGE_PIN / IOSTANDARD and the configuration and VREF lines are copied from the board vendor's
# master XDC: Digilent/digilent-xdc, file Arty-S7-25-Master.xdc (commit 00a3404901f35aa9567b01ecb3f2c233b6efe9f4),
# only the port names changed. The clock constraint is not here: vivado/<project>.xdc sets it from ClockPeriod
# (convert with clock_period=10 for this board's 100 MHz oscillator).
# Checked: against that file, line by line, and against the wrapper's ports (tests/test_interfaces.py).
# NOT checked in Vivado or on a board: this project's machines have no Vivado.

# CLK100MHZ (Sch=ddr3_clk[200]); bank 34 is a 1.35 V bank, hence SSTL135
set_property -dict { PACKAGE_PIN R2    IOSTANDARD SSTL135 } [get_ports { clk }]; #IO_L12P_T1_MRCC_34 Sch=ddr3_clk[200]
# btn[0]: pressed = high = reset
set_property -dict { PACKAGE_PIN G15   IOSTANDARD LVCMOS33 } [get_ports { rst }]; #IO_L18N_T2_A23_15 Sch=btn[0]
# USB-UART bridge: uart_txd_in is the host's transmit line (our rx), uart_rxd_out the host's receive line (our tx)
set_property -dict { PACKAGE_PIN V12   IOSTANDARD LVCMOS33 } [get_ports { rx }]; #IO_L24N_T3_A00_D16_14 Sch=uart_txd_in
set_property -dict { PACKAGE_PIN R12   IOSTANDARD LVCMOS33 } [get_ports { tx }]; #IO_25_14 Sch=uart_rxd_out
# led[0]: on while the core computes
set_property -dict { PACKAGE_PIN E18   IOSTANDARD LVCMOS33 } [get_ports { busy }]; #IO_L16N_T2_A27_15 Sch=led[2]

## Configuration options (from the master XDC)
set_property BITSTREAM.CONFIG.CONFIGRATE 50 [current_design]
set_property CONFIG_VOLTAGE 3.3 [current_design]
set_property CFGBVS VCCO [current_design]
set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 4 [current_design]
set_property CONFIG_MODE SPIx4 [current_design]
## the master XDC: this must be set even if SW3 (pin M5, bank 34) is not used
set_property INTERNAL_VREF 0.675 [get_iobanks 34]
