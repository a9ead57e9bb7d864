# Pins of the spi wrapper (<project>_spi: clk, rst, sclk, cs_n, mosi, miso, busy) on the Digilent Arty S7-25
# (Rev. E), part xc7s25csga324-1, the SPI bus on Pmod JA in the Pmod SPI order (pin 1 CS, 2 MOSI, 3 MISO, 4 SCK).
# Every PACKAGE_PIN / IOSTANDARD and the configuration and VREF lines are copied from Digilent/digilent-xdc,
# Arty-S7-25-Master.xdc (commit 00a3404901f35aa9567b01ecb3f2c233b6efe9f4), only the port names changed.
# The host's sclk must be at most the clock / 8 (12.5 MHz at 100 MHz; vs_spi_link.vhd).
# NOT checked in Vivado or on a board: this project's machines have no Vivado.

set_property -dict { PACKAGE_PIN R2    IOSTANDARD SSTL135 } [get_ports { clk }]; #IO_L12P_T1_MRCC_34 Sch=ddr3_clk[200]
set_property -dict { PACKAGE_PIN G15   IOSTANDARD LVCMOS33 } [get_ports { rst }]; #IO_L18N_T2_A23_15 Sch=btn[0]
set_property -dict { PACKAGE_PIN L17   IOSTANDARD LVCMOS33 } [get_ports { cs_n }]; #IO_L4P_T0_D04_14 Sch=ja_p[1]
set_property -dict { PACKAGE_PIN L18   IOSTANDARD LVCMOS33 } [get_ports { mosi }]; #IO_L4N_T0_D05_14 Sch=ja_n[1]
set_property -dict { PACKAGE_PIN M14   IOSTANDARD LVCMOS33 } [get_ports { miso }]; #IO_L5P_T0_D06_14 Sch=ja_p[2]
set_property -dict { PACKAGE_PIN N14   IOSTANDARD LVCMOS33 } [get_ports { sclk }]; #IO_L5N_T0_D07_14 Sch=ja_n[2]
set_property -dict { PACKAGE_PIN E18   IOSTANDARD LVCMOS33 } [get_ports { busy }]; #IO_L16N_T2_A27_15 Sch=led[2]

set_property BITSTREAM.CONFIG.CONFIGRATE 50 [current_design]
set_property CONFIG_VOLTAGE 3.3 [current_design]
set_property CFGBVS VCCO [current_design]
set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 4 [current_design]
set_property CONFIG_MODE SPIx4 [current_design]
set_property INTERNAL_VREF 0.675 [get_iobanks 34]
