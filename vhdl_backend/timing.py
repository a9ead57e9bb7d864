"""Register-to-register timing of a synthesized design, from Yosys's JSON netlist.

There is no open place-and-route for the XC7S15, so the estimate walks the netlist ``synth_xilinx``
leaves: paths start at flip-flop, block RAM, distributed RAM and DSP outputs and end at every
data, enable, set or reset input of those cells; each cell on the way adds its arc and each net
a routing delay (`timing_model.py`: the figures and their sources). The netlist keeps the
hierarchy (one module per entity instance), so the walk flattens it itself and can tell which
top-level instance (unit, memory, the engine, or the top level's own glue) each path ends in.

    report = analyze(json.loads(Path('synth/netlist.json').read_text()), 'myproject')
    report['delay_ns'], report['levels'], report['fmax_mhz'], report['per_unit']

A walk of the reference encoder takes about a second.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .timing_model import UNCERTAINTY, CellTiming, TimingModelError, cell_timing, net_delay

BUDGET_NS = 1000 / 150  # 150 MHz: every generated design meets it (README, issue 14)
BUDGET_LEVELS = 6  # LUT levels between registers


@dataclass
class Cell:
    path: str  # hierarchical instance name, '/'-separated
    type: str
    timing: CellTiming
    pins: dict  # pin -> net id (one bit each)
    outputs: frozenset  # output pin names


class Netlist:
    """The primitive cells of the top module and everything below it, with nets numbered afresh."""

    def __init__(self, modules: dict, top: str):
        self.modules = modules
        self.cells: list[Cell] = []
        self._next = 0
        self._parent = []  # union-find over net ids: $buf cells join two names of one net
        top_mod = modules[top]
        ports = {}
        for port in top_mod['ports'].values():
            for b in port['bits']:
                if isinstance(b, int):
                    ports[b] = self._new()
        self._expand(top, '', ports)
        self.driver, self.sinks = {}, {}
        for ci, cell in enumerate(self.cells):
            for pin, net in cell.pins.items():
                net = self._find(net)
                cell.pins[pin] = net
                if pin in cell.outputs:
                    self.driver[net] = (ci, pin)
                else:
                    self.sinks.setdefault(net, []).append((ci, pin))

    def _new(self) -> int:
        self._parent.append(len(self._parent))
        return len(self._parent) - 1

    def _find(self, n: int) -> int:
        root = n
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[n] != root:
            self._parent[n], n = root, self._parent[n]
        return root

    def _expand(self, mod_name: str, path: str, bound: dict):
        """Add the cells of module mod_name; bound maps its port bits to nets of the parent."""
        mod = self.modules[mod_name]
        local = dict(bound)

        def net(bit):
            if not isinstance(bit, int):
                return None  # a constant
            if bit not in local:
                local[bit] = self._new()
            return local[bit]

        for name, cell in sorted(mod['cells'].items()):
            ctype = cell['type']
            conns = cell.get('connections', {})
            inst = f'{path}/{clean(name)}' if path else clean(name)
            child = self.modules.get(ctype)
            if ctype == '$buf':
                a, y = [net(b) for b in conns['A']], [net(b) for b in conns['Y']]
                for na, ny in zip(a, y):
                    if na is not None and ny is not None:
                        self._parent[self._find(ny)] = self._find(na)
                continue
            if ctype.startswith('$'):
                continue  # specify rules and other annotations of library cells
            if child is not None and not child.get('attributes', {}).get('blackbox'):
                sub = {}
                for port, bits in conns.items():
                    for b_child, b_parent in zip(child['ports'][port]['bits'], bits):
                        n = net(b_parent)
                        if n is not None and isinstance(b_child, int):
                            sub[b_child] = n
                self._expand(ctype, inst, sub)
                continue
            widths = {p: len(bits) for p, bits in conns.items()}
            timing = cell_timing(ctype, cell.get('parameters', {}), widths)
            if timing is None:
                continue
            dirs = cell.get('port_directions', {})
            pins, outputs = {}, set()
            for port, bits in conns.items():
                names = [port] if len(bits) == 1 else [f'{port}{k}' for k in range(len(bits))]
                for pin, b in zip(names, bits):
                    n = net(b)
                    if n is None:
                        continue
                    pins[pin] = n
                    if dirs.get(port) == 'output':
                        outputs.add(pin)
            self.cells.append(Cell(inst, ctype, timing, pins, frozenset(outputs)))


def clean(name: str) -> str:
    return name.lstrip('\\')


@dataclass
class Arrival:
    ns: float
    levels: int
    prev: tuple | None  # (net, cell index) the worst path came through; None at its start


class Walk:
    """Longest arrival (ns) and deepest LUT count at every net, from the netlist's start points."""

    def __init__(self, netlist: Netlist):
        self.n = netlist
        self.delay, self.depth = {}, {}  # net -> Arrival (worst by ns / by LUT levels)

    def wire(self, net: int, sink: tuple) -> float:
        sinks = self.n.sinks.get(net, [])
        ci, pin = sink
        drv = self.n.driver.get(net)
        if len(sinks) == 1 and drv is not None and pin in self.n.cells[ci].timing.dedicated:
            if self.n.cells[drv[0]].type.startswith(('LUT', 'MUXF7', 'CARRY4')):
                return 0.0  # the slice's own wire
        return net_delay(len(sinks))

    def arrive(self, net: int):
        """(worst by delay, worst by levels) at net, or (None, None) if no register reaches it."""
        if net in self.delay:
            return self.delay[net], self.depth[net]
        self.delay[net] = self.depth[net] = None  # guards against a combinational loop
        best_d = best_l = None
        drv = self.n.driver.get(net)
        if drv is not None:
            ci, pin = drv
            cell = self.n.cells[ci]
            t = cell.timing
            if pin in t.launch:
                best_d = best_l = Arrival(t.launch[pin], 0, None)
            step = 1 if t.lut_level else 0
            for in_pin, outs in t.arcs.items():
                if pin not in outs or in_pin not in cell.pins:
                    continue
                src = cell.pins[in_pin]
                d, lv = self.arrive(src)
                if d is None:
                    continue
                w = self.wire(src, (ci, in_pin)) + outs[pin]
                if best_d is None or d.ns + w > best_d.ns:
                    best_d = Arrival(d.ns + w, d.levels + step, (src, ci))
                if best_l is None or lv.levels + step > best_l.levels:
                    best_l = Arrival(lv.ns + w, lv.levels + step, (src, ci))
        self.delay[net], self.depth[net] = best_d, best_l
        return best_d, best_l

    def trace(self, net: int, table: dict) -> list:
        """The cells of the worst path into net, start first: [(instance, cell type)]."""
        out = []
        while net is not None:
            a = table.get(net)
            drv = self.n.driver.get(net)
            if drv is not None:
                out.append((self.n.cells[drv[0]].path, self.n.cells[drv[0]].type))
            net = a.prev[0] if a is not None and a.prev is not None else None
        return out[::-1]


def analyze(netlist_json: dict, top: str, clock_ns: float | None = None) -> dict:
    """The timing report: worst path by delay (with its levels, start and end), the deepest path in
    LUT levels, the estimated Fmax, and the worst path per top-level instance. ``meets``: within the
    design budget (BUDGET_NS and BUDGET_LEVELS); ``meets_clock``: within the clock asked for."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 100000))
    try:
        netlist = Netlist(netlist_json['modules'], top)
        walk = Walk(netlist)
        ends = []
        for ci, cell in enumerate(netlist.cells):
            for pin, setup in cell.timing.setup.items():
                net = cell.pins.get(pin)
                if net is None:
                    continue
                d, lv = walk.arrive(net)
                if d is None:
                    continue
                w = walk.wire(net, (ci, pin))
                ends.append((d.ns + w + setup + UNCERTAINTY, lv.levels, d.levels, ci, pin, net))
    finally:
        sys.setrecursionlimit(limit)
    if not ends:
        return {'delay_ns': 0.0, 'levels': 0, 'max_levels': 0, 'fmax_mhz': None, 'paths': 0, 'per_unit': {},
                'budget_ns': round(BUDGET_NS, 3), 'meets': True, 'clock_ns': clock_ns, 'meets_clock': True}  # fmt: skip

    def describe(end, table):
        ns, _, levels, ci, pin, net = end
        path = walk.trace(net, table)
        cell = netlist.cells[ci]
        return {
            'delay_ns': round(ns, 3), 'levels': levels if table is walk.delay else end[1],
            'start': path[0][0] if path else cell.path, 'end': f'{cell.path}.{pin}',
            'cells': [f'{inst} ({ctype})' for inst, ctype in path] + [f'{cell.path}.{pin} ({cell.type})'],
        }  # fmt: skip

    worst = max(ends, key=lambda e: (e[0], e[2]))
    deepest = max(ends, key=lambda e: (e[1], e[0]))
    per_unit, levels_of = {}, {}
    for e in ends:
        unit = unit_of(netlist.cells[e[3]].path)
        if unit not in per_unit or e[0] > per_unit[unit][0]:
            per_unit[unit] = e
        levels_of[unit] = max(levels_of.get(unit, 0), e[1])
    units = {}
    for u, e in sorted(per_unit.items(), key=lambda kv: -kv[1][0]):
        d = describe(e, walk.delay)
        units[u] = {'delay_ns': d['delay_ns'], 'levels': e[2], 'max_levels': levels_of[u], 'start': d['start'],
                    'end': d['end'], 'cells': d['cells']}  # fmt: skip
    report = describe(worst, walk.delay)
    deep = describe(deepest, walk.depth)
    return {
        'delay_ns': report['delay_ns'],
        'levels': report['levels'],
        'max_levels': deepest[1],
        'fmax_mhz': round(1000 / worst[0], 1),
        'budget_ns': round(BUDGET_NS, 3),
        'meets': worst[0] <= BUDGET_NS and deepest[1] <= BUDGET_LEVELS,
        'clock_ns': clock_ns,
        'meets_clock': clock_ns is None or worst[0] <= clock_ns,
        'worst': report,
        'deepest': deep,
        'paths': len(ends),
        'per_unit': units,
    }


def unit_of(path: str) -> str:
    """The top-level instance a cell belongs to ('top' for the top level's own cells)."""
    return path.split('/', 1)[0] if '/' in path else 'top'


def format_report(t: dict, units: int = 12) -> str:
    if not t.get('paths'):
        return 'timing: no register-to-register paths'
    lines = [f"timing (estimate): worst path {t['delay_ns']:.2f} ns, {t['levels']} LUT levels -> "
             f"Fmax {t['fmax_mhz']:.0f} MHz; deepest {t['max_levels']} levels; budget {t['budget_ns']:.2f} ns "
             f"and {BUDGET_LEVELS} levels: {'met' if t['meets'] else 'NOT met'}",
             f"  worst: {t['worst']['start']} -> {t['worst']['end']}"]  # fmt: skip
    for unit, u in list(t['per_unit'].items())[:units]:
        lines.append(f"  {unit:32s} {u['delay_ns']:5.2f} ns {u['levels']:2d} levels (deepest {u['max_levels']}) "
                     f"-> {u['end']}")
    return '\n'.join(lines)


__all__ = ['analyze', 'format_report', 'BUDGET_NS', 'BUDGET_LEVELS', 'TimingModelError']
