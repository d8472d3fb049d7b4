"""PNG timelines, one per component: a panel per scenario, a lane per method.

A lane is the prober's band (the version answering), the command's steps under it and,
when the load ran (bench/load.py), the site's request latency above it.

Needs the `bench` extra (matplotlib, and koreanize-matplotlib for its NanumGothic font,
since step names are Korean): `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from bench import load as ld
from bench import probes as pr
from bench.commands import Mark
from bench.scenarios import BROKEN, NEW, Measurement, Scenario, cells, median, numbers, ran

DOWN = "#d7301f"
VERSION_COLOURS = {"1.0.0": "#9ecae1", NEW: "#41ab5d", BROKEN: "#fd8d3c"}
OTHER = "#bdbdbd"
STEP_SHADES = ("#f0f0f0", "#d9d9d9")
_CODE = re.compile(r"^(\[\d+/\d+\]|[A-Z]+\d+[a-z]?)(?= )")
LATENCY = "#6a51a3"
LATENCY_BIN = 0.1  # seconds: the latency strip shows the slowest request sent in each
LATENCY_RANGE = (5.0, 2000.0)  # ms at the strip's bottom and top (log scale)
LOADED_PITCH = 1.4  # lane pitch with a latency strip (1.0 without)


def latency_bins(reqs: list[ld.Request], t0: float, width: float = LATENCY_BIN):
    """(bin start − t0, slowest latency in ms) per `width`-second bin of send time that
    has requests, in time order."""
    slowest: dict[int, float] = {}
    for r in reqs:
        k = int((r.t - t0) // width)
        slowest[k] = max(slowest.get(k, 0.0), r.ms)
    return [(k * width, ms) for k, ms in sorted(slowest.items())]


def latency_height(ms: float, lo: float = LATENCY_RANGE[0], hi: float = LATENCY_RANGE[1]) -> float:
    """0..1: where `ms` sits on the strip's log scale (clipped at both ends)."""
    import math

    if ms <= lo:
        return 0.0
    return min(1.0, math.log(ms / lo) / math.log(hi / lo))


def _latency_strip(ax, y: float, m: Measurement, xmax: float) -> None:
    """The load's latency above the prober's band: the slowest request per bin (log scale,
    LATENCY_RANGE), the 500 ms target as a dashed line, a red tick per failed request."""
    base, height, t0 = y + 0.47, 0.42, m.run.t0
    ax.broken_barh([(0, xmax)], (base, height), facecolors="#faf8fc", linewidth=0)
    bins = latency_bins(m.requests, t0)
    if bins:
        xs = [x for x, _ in bins] + [bins[-1][0] + LATENCY_BIN]
        ys = [base + height * latency_height(ms) for _, ms in bins]
        ax.fill_between(xs, base, ys + ys[-1:], step="post", color=LATENCY, lw=0)
    target = base + height * latency_height(ld.TARGET_MAX_MS)
    ax.plot([0, xmax], [target, target], color=DOWN, lw=0.6, ls=(0, (3, 2)))
    bad = [r.t - t0 for r in m.requests if not r.ok]
    if bad:
        ax.plot(bad, [base + height - 0.03] * len(bad), ls="", marker="|", ms=7, color=DOWN)
    lat = ld.latency(m.requests)
    failed = sum(not r.ok for r in m.requests)
    ax.text(
        xmax * 1.01, base + height / 2, f"p99 {ld.ms_text(lat.p99)} · max {ld.ms_text(lat.max)}"
        + (f" · {failed} failed" if failed else ""), va="center", fontsize=7.5, clip_on=False,
        color=DOWN if failed or lat.max >= ld.TARGET_MAX_MS else LATENCY,
    )  # fmt: skip


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _font() -> str:
    """NanumGothic from koreanize-matplotlib (registered without importing the package,
    which changes global settings on import); DejaVu Sans without it."""
    from matplotlib import font_manager

    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec and spec.origin:
        fonts = Path(spec.origin).parent / "fonts"
        for ttf in sorted(fonts.glob("NanumGothic*.ttf")):
            font_manager.fontManager.addfont(str(ttf))
        if (fonts / "NanumGothic.ttf").exists():
            return "NanumGothic"
    return "DejaVu Sans"


def _lane(ax, y: float, m: Measurement, component: str, xmax: float, labels: list) -> None:
    """One method's lane at height y: probe band on top, step strip below. Step and
    outage labels are queued in `labels` and placed once the layout is final."""
    run = m.run
    if run is None:
        ax.text(0.01 * xmax, y, m.note or "not run", va="center", fontsize=8, color="#636363")
        return
    t0 = run.t0
    if m.requests:
        _latency_strip(ax, y, m, xmax)
    ps = m.probes.get(component, [])
    segs = pr.segments(ps, m.t_end)
    for a, b, state in sorted(segs, key=lambda seg: seg[2] is None):  # failures on top
        colour = DOWN if state is None else VERSION_COLOURS.get(state, OTHER)
        if state is None:  # one failed probe (20 ms) must still be visible
            b = max(b, a + 0.004 * xmax)
        ax.broken_barh([(a - t0, b - a)], (y + 0.02, 0.4), facecolors=colour, linewidth=0)
    for o in pr.outages(ps):
        labels.append((ax, o.start - t0, y + 0.22, o.seconds, [f"{o.seconds:.1f} s"], "white"))

    # a step lasts from its mark to the next (or the command's end); before the first one
    # the command is starting (ssh connecting, fab importing and connecting)
    marks = [Mark(t0, "start-up"), *run.marks] if run.marks else [Mark(t0, "")]
    for i, mk in enumerate(marks):
        end = marks[i + 1].t if i + 1 < len(marks) else run.t1
        a, w = mk.t - t0, max(end - mk.t, 0.0)
        ax.broken_barh(
            [(a, w)], (y - 0.4, 0.36), facecolors=STEP_SHADES[i % 2], edgecolor="white", lw=0.6
        )
        if "실패" in mk.label:  # fab's `!!! B8 … 실패 → 롤백 시작`
            ax.plot([a], [y - 0.02], marker="v", ms=6, color=DOWN, clip_on=False)
        code = _CODE.match(mk.label)
        short = mk.label[:16].rstrip() + "…" if len(mk.label) > 17 else ""
        labels.append((ax, a, y - 0.22, w, [mk.label[:40], short, code.group(0) if code else ""], "#252525"))  # fmt: skip
    settle = max(m.t_end - run.t1, 0)
    ax.broken_barh(
        [(run.seconds, settle)], (y - 0.4, 0.36), facecolors="#f7f7f7", hatch="///",
        edgecolor="#cccccc", lw=0,
    )  # fmt: skip
    top = y + (0.92 if m.requests else 0.47)
    ax.plot([run.seconds] * 2, [y - 0.45, top], color="#252525", lw=1)
    n = numbers(m, component)
    down = f"{n.longest:.2f}" if n.longest < 1 else f"{n.longest:.1f}"
    verdict = "✓" if n.as_expected else ("✗ down" if not n.up else f"✗ {n.version}")
    ax.text(
        xmax * 1.01, y + 0.2, f"{down} s down", va="center", fontsize=8.5,
        fontweight="bold", color=DOWN if n.longest >= 0.05 else "#252525", clip_on=False,
    )  # fmt: skip
    ax.text(
        xmax * 1.01, y - 0.2, f"{run.seconds:.1f} s · exit {run.rc} {verdict}", va="center",
        fontsize=7.5, clip_on=False,
    )  # fmt: skip


def _place(labels: list, renderer) -> None:
    """Each label in its bar if it fits, else its short form (e.g. `B7`), else none."""
    for ax, x, y, w, texts, colour in labels:
        left = ax.transData.transform((x, y))[0]
        room = ax.transData.transform((x + w, y))[0] - left - 4
        for text in texts:
            if not text:
                continue
            big = colour == "white"  # outage lengths
            t = ax.text(
                x, y, text, va="center", fontsize=8 if big else 6.5, color=colour,
                fontweight="bold" if big else "normal", clip_on=True,
            )  # fmt: skip
            width = t.get_window_extent(renderer).width
            if width <= room:
                t.set_x(ax.transData.inverted().transform((left + (room + 4 - width) / 2, 0))[0])
                if colour != "white":  # step names start at the left of their step
                    t.set_x(ax.transData.inverted().transform((left + 2, 0))[0])
                break
            t.remove()


def draw(
    component: str,
    scenarios: list[Scenario],
    ms: list[Measurement],
    methods: list[str],
    out: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    # DejaVu for Latin, digits, ✓ and ✗ (NanumGothic's "." reads like ","), Nanum for Korean
    plt.rcParams["font.family"] = ["DejaVu Sans", _font()]
    plt.rcParams["axes.unicode_minus"] = False
    panels = []
    groups = cells(ms)  # a cell measured more than once: its median repetition
    for sc in scenarios:
        comp = None if sc.action == "full" else component
        by = {k[2]: median(g) for k, g in groups.items() if k[:2] == (sc.key, comp)}
        if by:
            panels.append((sc, by))
    active = [x for x in methods if any(x in by and by[x].run for _, by in panels)]
    idle = [x for x in methods if x not in active]
    notes = {by[x].note for _, by in panels for x in idle if x in by and by[x].note}
    methods = active or methods
    loaded = any(m.requests for _, by in panels for m in by.values())
    pitch = LOADED_PITCH if loaded else 1.0
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(12, 0.7 + (0.3 if loaded else 0) + 1.05 * pitch * len(methods) * len(panels)),
        squeeze=False,
    )
    labels: list = []
    for ax, (sc, by) in zip(axes[:, 0], panels, strict=True):
        spans = [m.t_end - m.run.t0 for m in by.values() if m.run is not None]
        xmax = max(spans, default=1.0) * 1.02
        for row, x in enumerate(methods):
            y = (len(methods) - 1 - row) * pitch
            m = by.get(x) or Measurement(sc.key, component, x, note="not measured")
            _lane(ax, y, m, component, xmax, labels)
        ax.set_xlim(0, xmax)
        ax.set_ylim(-0.55, (len(methods) - 1) * pitch + (0.95 if loaded else 0.55))
        names = []  # a lane showing the median of several repetitions says so
        for x in reversed(methods):
            n = len(ran(groups.get((sc.key, None if sc.action == "full" else component, x), [])))
            names.append(f"{x}\nmedian of {n}" if n > 1 else x)
        ax.set_yticks([i * pitch for i in range(len(methods))], labels=names, fontsize=9)
        where = f" — {component}'s endpoint" if sc.action == "full" else ""
        ax.set_title(f"{sc.title}{where}", loc="left", fontsize=10, fontweight="bold")
        ax.tick_params(axis="x", labelsize=8)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", color="#eeeeee", lw=0.6)
        ax.set_axisbelow(True)
    axes[-1, 0].set_xlabel("seconds since the command started", fontsize=8)
    legend = [
        Patch(color=c, label=f"{v}{' (broken commit)' if v == BROKEN else ''} answers")
        for v, c in VERSION_COLOURS.items()
    ]
    legend += [Patch(color=DOWN, label="no good answer")]
    if loaded:
        from matplotlib.lines import Line2D

        lo, hi = (ld.ms_text(x) for x in LATENCY_RANGE)
        legend += [
            Patch(color=LATENCY, label=f"latency under load (slowest per {LATENCY_BIN * 1000:.0f} ms, log {lo}–{hi})"),
            Line2D([], [], color=DOWN, lw=0.8, ls=(0, (3, 2)), label=f"{ld.TARGET_MAX_MS:.0f} ms"),
            Line2D([], [], color=DOWN, ls="", marker="|", ms=7, label="failed request"),
        ]  # fmt: skip
    h = fig.get_figheight()
    head = 0.3 if loaded else 0.0  # a second row for the legend
    if loaded:  # one row of its own under the title
        fig.legend(handles=legend, loc="upper left", ncol=len(legend), fontsize=8, frameon=False,
                   bbox_to_anchor=(0.005, 1 - 0.33 / h), handlelength=1.5, columnspacing=1.2)  # fmt: skip
    else:
        fig.legend(handles=legend, loc="upper right", ncol=4, fontsize=8, frameon=False,
                   bbox_to_anchor=(0.99, 1 - 0.05 / h))  # fmt: skip
    fig.suptitle(f"{component}: what a user saw during each command", x=0.01, y=1 - 0.12 / h,
                 ha="left", va="top", fontsize=12, fontweight="bold")  # fmt: skip
    if idle:
        fig.text(0.01, 1 - (0.45 + head) / h, f"not run: {', '.join(idle)} ({'; '.join(sorted(notes)) or 'skipped'})",
                 fontsize=8.5, color="#636363")  # fmt: skip
    fig.tight_layout(rect=(0, 0, 0.89, 1 - (0.45 + head) / h))
    _place(labels, fig.canvas.get_renderer())
    fig.savefig(out, dpi=110)
    plt.close(fig)
