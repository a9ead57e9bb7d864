"""Device table of the AMD 7-series parts VHDLSpartan targets.

Figures from AMD DS180 (7 Series FPGAs Data Sheet: Overview), tables "Spartan-7 FPGA
Feature Summary" and "Artix-7 FPGA Feature Summary": LUTs = 4 per slice, 8 flip-flops per
slice, distributed RAM in Kb (64 bits per LUT of a SLICEM), block RAM as RAMB36 (each is
two RAMB18), DSP48E1 slices.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnsupportedError


@dataclass(frozen=True)
class Device:
    name: str
    luts: int
    ffs: int
    lutram_luts: int  # LUTs usable as distributed RAM
    ramb36: int
    dsps: int

    @property
    def ramb18(self) -> int:
        return 2 * self.ramb36


DEVICES = {
    d.name: d
    for d in (
        Device('xc7s6', luts=3_752, ffs=7_500, lutram_luts=70 * 1024 // 64, ramb36=5, dsps=10),
        Device('xc7s15', luts=8_000, ffs=16_000, lutram_luts=150 * 1024 // 64, ramb36=10, dsps=20),
        Device('xc7s25', luts=14_600, ffs=29_200, lutram_luts=313 * 1024 // 64, ramb36=45, dsps=80),
        Device('xc7s50', luts=32_600, ffs=65_200, lutram_luts=600 * 1024 // 64, ramb36=75, dsps=120),
        Device('xc7a35t', luts=20_800, ffs=41_600, lutram_luts=400 * 1024 // 64, ramb36=50, dsps=90),
    )
}


def get_device(part: str) -> Device:
    """The device of a part name such as 'xc7s15ftgb196-2' (package and speed grade ignored)."""
    key = str(part).lower()
    for name in sorted(DEVICES, key=len, reverse=True):
        if key.startswith(name):
            return DEVICES[name]
    raise UnsupportedError(f'part {part!r} is not supported; known devices: {", ".join(DEVICES)} (any package/speed)')
