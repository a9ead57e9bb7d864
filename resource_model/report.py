"""Reports a person can read: a per-layer table, a utilization summary, and PNG plots."""

from __future__ import annotations

from pathlib import Path

from .estimate import RESOURCES

TABLE_RESOURCES = ('LUT', 'LUTRAM', 'FF', 'BRAM18', 'DSP', 'CARRY4')


def table(est, synth: dict | None = None) -> str:
    rows = [['layer', *TABLE_RESOURCES]]
    for layer, res in est.per_layer.items():
        rows.append([layer or '(engine, glue)', *[f'{res[r]:.0f}' for r in TABLE_RESOURCES]])
    rows.append(['total (estimate)', *[f'{est.total[r]:.0f}' for r in TABLE_RESOURCES]])
    if synth:
        rows.append(['total (synthesis)', *[f'{synth[r]}' for r in TABLE_RESOURCES]])
        rows.append(['error', *[_err(est.total[r], synth[r]) for r in TABLE_RESOURCES]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, '-' * len(lines[0]))
    util = est.utilization
    lines.append('')
    lines.append(f'{est.part}: ' + ', '.join(f'{r} {util[r]:.1%}' for r in util)
                 + f'; binding: {est.binding}; {"fits" if est.fits else "does NOT fit"}')  # fmt: skip
    lines.append(f'latency: {est.cycles} cycles = {est.latency_us:.2f} us at {1000 / est.clock_ns:.0f} MHz '
                 f'(ClockPeriod {est.clock_ns:g} ns; {est.macs} multiply-accumulates)')  # fmt: skip
    lines.append(est.timing_line())
    if synth and synth.get('timing'):
        from ..vhdl_backend.timing import format_report

        lines.append(format_report(synth['timing'], units=5))
    return '\n'.join(lines)


def _err(est: float, syn: int) -> str:
    if syn == 0:
        return '0' if round(est) == 0 else f'+{est:.0f}'
    return f'{(est - syn) / syn:+.1%}'


def plots(est, out_dir, synth: dict | None = None) -> list:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    layers = list(est.per_layer)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, res in zip(axes, ('LUT', 'FF', 'BRAM18')):
        vals = [est.per_layer[layer][res] for layer in layers]
        ax.barh([layer or '(engine, glue)' for layer in layers], vals, color='tab:blue')
        ax.set_title(f'{res} per layer (estimate)')
        ax.invert_yaxis()
    fig.tight_layout()
    paths.append(out / 'resources_per_layer.png')
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    util = est.utilization
    ax.bar(list(util), [100 * v for v in util.values()],
           color=['tab:red' if v > 1 else 'tab:green' for v in util.values()])  # fmt: skip
    ax.axhline(100, color='black', lw=1)
    ax.set_ylabel(f'% of {est.part}')
    ax.set_title(f'utilization (binding: {est.binding})')
    fig.tight_layout()
    paths.append(out / 'utilization.png')
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    if synth:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        xs = range(len(RESOURCES))
        ax.bar([x - 0.2 for x in xs], [est.total[r] for r in RESOURCES], 0.4, label='estimate')
        ax.bar([x + 0.2 for x in xs], [synth[r] for r in RESOURCES], 0.4, label='synthesis (Yosys)')
        ax.set_xticks(list(xs), RESOURCES)
        ax.set_yscale('symlog')
        ax.legend()
        ax.set_title('estimate against synthesis')
        fig.tight_layout()
        paths.append(out / 'estimate_vs_synthesis.png')
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths
