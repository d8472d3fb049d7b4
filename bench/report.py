"""docs/benchmarks.md from the measurements (pure: no lab, no clock)."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from bench import load as ld
from bench import probes as pr
from bench.scenarios import (
    COMPONENTS,
    FIXED_QUIET_BUSY,
    QUIET_CEILING,
    QUIET_MOST,
    Measurement,
    Scenario,
    cells,
    median,
    numbers,
    ran,
)

#: the cells the targets compare by wall time: measured `deploy_bench.py --repeat N` times
#: each, judged (and shown) on the repetition with the median wall time
REPEATED = frozenset({
    ("rollback", "backend", "release"),
    ("deploy", "frontend", "release"),
    ("deploy", "frontend", "script"),
    ("full-deploy", None, "release"),
    ("full-deploy", None, "manual"),
})  # fmt: skip

ENDPOINT_TEXT = {
    "frontend": "the main page `http://cpu/` (`https://cpu/` after setup)",
    "backend": "`http://cpu/api/version` (through nginx; `https://` after setup)",
    "ai": "`http://gpu:8000/health` (setup's firewall opens it to cpu only; the bench adds one rule for the prober)",
}


@dataclass
class Meta:
    date: str
    machine: str
    command: str
    methods: list[str]
    method_notes: dict[str, str] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)  # method → shown commands
    script_prep: list[str] = field(default_factory=list)
    verbatim: str = ""  # how the scripts were checked against the manual
    pictures: dict[str, str] = field(default_factory=dict)  # component → file name
    interval: float = pr.INTERVAL
    settle: float = 30.0
    #: endpoint → [https answers, how many resumed the TLS session] (none in older runs)
    resumed: dict[str, list[int]] = field(default_factory=dict)
    #: the machine's busy share with only the probers running (scenarios.probing_baseline)
    #: and the margin above it a wait for a quiet machine waited for (None in older runs,
    #: which waited for a fixed FIXED_QUIET_BUSY)
    probing_busy: float | None = None
    quiet_margin: float | None = None
    repeat: int = 1  # --repeat: how often each REPEATED cell was measured (1 in older runs)
    #: probes.Visitor remembered the https redirect and the TLS session (older runs: each
    #: probe was a first visit, the redirect and a full TLS handshake every time)
    returning: bool = False
    #: lab_bench.startup_ms before the probing started and after it stopped (the machine's
    #: speed: it varies from hour to hour; none in older runs)
    startup_ms: list[float] = field(default_factory=list)
    minutes: float = 0.0  # how long the measuring took (0: not known, older runs)
    #: the load beside the probers (bench/load.py; "" in runs without it): what it was,
    #: its idle baseline's requests (load.rows) and the share of a core it used then
    load: str = ""
    idle_load: list = field(default_factory=list)
    idle_load_cpu: float = 0.0


def _wall(m: Measurement, of: int, bold: bool = False) -> str:
    """A cell's wall time and exit code; "median of N" when it shows one of N repetitions."""
    secs = f"**{m.run.seconds:.1f} s**" if bold else f"{m.run.seconds:.1f} s"
    return f"{secs} · exit {m.run.rc}" + (f" · median of {of}" if of > 1 else "")


def cell(m: Measurement | None, endpoint: str, wall: bool = True, of: int = 1) -> str:
    if m is None:
        return "—"
    if m.run is None:
        return f"skipped: {m.note}" if m.note else "—"  # the reason, once per cell
    n = numbers(m, endpoint)
    first = f"**{n.longest:.2f} s** down · {n.failed}/{n.total} failed"
    if not n.up:
        state = "**down at the end** ✗"
    elif n.version == n.expected:
        state = f"serves {n.version} ✓"
    else:
        state = f"serves {n.version or '?'} ✗ (expected {n.expected})"
    parts = [first, state]
    if wall:
        parts.insert(1, _wall(m, of))
    return "<br>".join(parts)


def scenario_table(sc: Scenario, ms: list[Measurement], methods: list[str]) -> list[str]:
    """One row per component, one column per method; a cell measured more than once shows
    its median repetition (scenarios.median)."""
    groups = {(k[1], k[2]): g for k, g in cells(ms).items() if k[0] == sc.key}
    by = {k: median(g) for k, g in groups.items()}
    of = {k: len(ran(g)) for k, g in groups.items()}
    head = ["| | " + " | ".join(f"`{x}`" for x in methods) + " |", "|---|" + "---|" * len(methods)]
    rows = []
    if sc.action == "full":
        walls = []
        for x in methods:
            m = by.get((None, x))
            if m is None or m.run is None:
                walls.append(f"skipped: {m.note}" if m and m.note else "—")
            else:
                walls.append(_wall(m, of[(None, x)], bold=True))
        rows.append("| wall time | " + " | ".join(walls) + " |")
        for c in COMPONENTS:
            row = [cell(by.get((None, x)), c, wall=False) for x in methods]
            rows.append(f"| {c} | " + " | ".join(row) + " |")
    else:
        for c in COMPONENTS:
            row = [cell(by.get((c, x)), c, of=of.get((c, x), 1)) for x in methods]
            rows.append(f"| {c} | " + " | ".join(row) + " |")
    return head + rows


def surprises(ms: list[Measurement]) -> list[str]:
    """Runs that exited non-zero or did not end where they should, with their last words:
    every repetition, not only the one a cell shows."""
    out = []
    groups = cells(ms)
    for m in ms:
        group = groups[m.cell]
        rep = f" (repetition {m.repetition} of {len(group)})" if len(group) > 1 else ""
        if m.run is None:
            if m.note and ("preparation" in m.note or ran(group)):
                out.append(f"- `{m.method}` · {m.scenario} · {m.component}{rep}: {m.note}")
            continue
        bad = [c for c in m.watched if not numbers(m, c).as_expected]
        if m.run.rc == 0 and not bad:
            continue
        last = [t for _, t in m.run.lines if t.strip()][-2:]
        words = " / ".join(f"`{t.strip()[:100]}`" for t in last) or "(no output)"
        where = m.component or "all"
        ends = ", ".join(
            f"{c} {'down' if not numbers(m, c).up else numbers(m, c).version}" for c in m.watched
        )
        if not m.settled:
            ends += " (still not answering after the settle time)"
        out.append(
            f"- `{m.method}` · {m.scenario} · {where}{rep}: exit {m.run.rc}; ends with {ends}; "
            f"last output {words}"
        )
    return out


def repeat_note(ms: list[Measurement]) -> str:
    """Which cells were measured more than once and which of their repetitions they show."""
    many = {k: len(g) for k, g in cells(ms).items() if len(g) > 1}
    if not many:
        return ""
    n = max(many.values())
    return (
        f" The cells the targets compare by wall time were measured {n} times each, every "
        "time from a fresh reset (the others once); such a cell shows the repetition with "
        "the median wall time (for an even count the lower middle one) and says "
        f'"median of {n}"; the Targets list every repetition\'s wall time, count every '
        "repetition's failed probes, and the list of surprises names any repetition that "
        "went wrong."
    )


def probe_cost(ms: list[Measurement]) -> str:
    """The probers share the machine with what they measure: say how much they took."""
    runs = [m for m in ms if m.run is not None and m.t_end > m.run.t0]
    if not runs or not any(m.bench_cpu for m in runs):
        return ""
    share = sum(m.bench_cpu for m in runs) / sum(m.t_end - m.run.t0 for m in runs)
    return (
        f" The probers (and this harness) used {share:.0%} of one core while measuring, "
        "on the same machine as the lab."
    )


def probe_text(meta: Meta) -> str:
    """What one probe is (it changed: runs saved before probed like a first-time visitor)."""
    if not meta.returning:
        return (
            "Each probe is a new TCP connection, like a first-time visitor: after setup, "
            "the http request, its redirect 80 → 443 followed, and a full TLS handshake."
        )
    return (
        "Each probe is a new TCP connection (no keep-alive: a restart or a refused port "
        "fails it), made like a browser that has visited before: once setup's permanent "
        "redirect 80 → 443 has been seen, the prober asks the https URL directly (as a "
        "browser does after HSTS) and offers the TLS session of its previous probe (nginx's "
        "session cache; a session the server no longer knows means a full handshake)"
        + resumption(meta)
        + "."
    )


def resumption(meta: Meta) -> str:
    """How many https probes resumed their TLS session, when the run counted them."""
    done = sum(n for n, _ in meta.resumed.values())
    if not done:
        return ""
    again = sum(r for _, r in meta.resumed.values())
    return f" ({again} of {done} https probes of this run resumed their session)"


def quiet_note(meta: Meta, ms: list[Measurement]) -> str:
    """The wait for a quiet machine before each measured command (scenarios.wait_quiet)."""
    runs = [m for m in ms if m.run is not None]
    if not runs or not any(m.quiet_wait or m.busy_at_start for m in runs):
        return ""
    if meta.probing_busy is not None:
        threshold = min(meta.probing_busy + (meta.quiet_margin or 0.0), QUIET_CEILING)
        quiet = (
            f"at most {threshold:.0%} busy — what the probing{' and the load' if meta.load else ''} alone kept it busy, "
            f"{meta.probing_busy:.0%} (measured once, after the first reset, with every "
            f"endpoint answering and nothing else running), plus {meta.quiet_margin or 0:.0%}"
            f", at most {QUIET_CEILING:.0%} —"
        )
    else:  # a run saved before the baseline existed
        threshold = FIXED_QUIET_BUSY
        quiet = f"at most {threshold:.0%} busy"
    waits = [m.quiet_wait for m in runs]
    busy = [m.busy_at_start for m in runs]
    capped = sum(1 for m in runs if m.busy_at_start > threshold)
    return (
        " The lab's hosts share this machine's two cores with fab (on real hosts the "
        "operator's machine is another one), so before each measured command the harness "
        f"waited until the machine was {quiet} for at most {QUIET_MOST:.0f} s (so that, "
        "e.g., a JVM compiling after the deploy a rollback starts from is done): the waits "
        f"took {min(waits):.0f}–{max(waits):.0f} s (median {statistics.median(waits):.0f} s), "
        f"the machine was {min(busy):.0%}–{max(busy):.0%} busy as the commands started "
        f"(median {statistics.median(busy):.0%}), and {capped} of {len(runs)} waits ended at "
        f"the {QUIET_MOST:.0f} s limit, the machine still busier than that."
    )


def _runs(ms: list[Measurement], scenario: str, component: str | None, method: str):
    """The cell's repetitions that ran, in repetition order ([] when none did)."""
    return ran([m for m in ms if m.cell == (scenario, component, method)])


def _median(runs: list[Measurement]) -> tuple[float, str]:
    """(the median wall time, how to say it): "1.30 s" for one repetition, "1.30 s (median
    of 3: 1.42, 1.21, 1.30 s)" with every repetition's wall time, in the order measured."""
    secs = median(runs).run.seconds
    if len(runs) == 1:
        return secs, f"{secs:.2f} s"
    every = ", ".join(f"{m.run.seconds:.2f}" for m in runs)
    return secs, f"{secs:.2f} s (median of {len(runs)}: {every} s)"


RELEASE = ("release", "release-bluegreen")  # the methods the targets judge


def where(m: Measurement) -> str:
    """A measurement's name in a list: 'deploy · backend · release (repetition 2)'."""
    rep = f" (repetition {m.repetition})" if m.repetition > 1 else ""
    return f"{m.scenario} · {m.component or 'all'} · {m.method}{rep}"


def load_targets(ms: list[Measurement], idle: list[ld.Request]) -> list[str]:
    """The load's targets (issue 19) on every `release` measurement under load, every
    repetition: 0 failed requests (idle too), p99 at most TARGET_P99_RATIO × the idle p99,
    every request under TARGET_MAX_MS."""
    judged = [m for m in ms if m.method in RELEASE and m.run is not None and m.requests]
    if not judged or not idle:
        return []
    base = ld.latency(idle)
    v = {id(m): ld.verdict(m.requests, base) for m in judged}

    def ok(good: bool) -> str:
        return "meets the target" if good else "**misses the target**"

    def misses(test, say) -> str:
        bad = [m for m in judged if not test(v[id(m)])]
        return "" if not bad else "; missed by " + ", ".join(f"{where(m)} ({say(m)})" for m in bad)

    idle_failed = sum(not r.ok for r in idle)
    failed = [m for m in judged if not v[id(m)].zero_failed]
    limit = base.p99 * ld.TARGET_P99_RATIO
    p99 = [m for m in judged if v[id(m)].p99_ok]
    under = [m for m in judged if v[id(m)].max_ok]
    return [
        f"- load: 0 failed requests while idle ({ld.failure_text(idle)} of {len(idle)}) and "
        f"during every `release` command: {len(judged) - len(failed)} of {len(judged)} "
        f"measurements ({ok(not failed and not idle_failed)})"
        + misses(lambda x: x.zero_failed, lambda m: ld.failure_text(m.requests)),
        f"- load: p99 during every `release` command at most {ld.TARGET_P99_RATIO:g} × the idle "
        f"p99 ({ld.ms_text(base.p99)}, so ≤ {ld.ms_text(limit)}): {len(p99)} of {len(judged)} "
        f"measurements ({ok(len(p99) == len(judged))})"
        + misses(lambda x: x.p99_ok, lambda m: f"{ld.ms_text(ld.latency(m.requests).p99)}, {v[id(m)].p99_ratio:.1f} ×"),
        f"- load: every request under {ld.TARGET_MAX_MS:.0f} ms during every `release` command: "
        f"{len(under)} of {len(judged)} measurements ({ok(len(under) == len(judged))})"
        + misses(lambda x: x.max_ok, lambda m: f"max {ld.ms_text(v[id(m)].max_ms)}"),
    ]  # fmt: skip


def load_section(meta: Meta, ms: list[Measurement]) -> list[str]:
    """Every measurement's requests under load against the run's idle baseline."""
    if not meta.load:
        return []
    idle = ld.from_rows(meta.idle_load)
    base = ld.latency(idle)
    runs = [m for m in ms if m.run is not None and m.t_end > m.run.t0]
    cpu = ""
    if runs and any(m.load_cpu for m in runs):
        share = sum(m.load_cpu for m in runs) / sum(m.t_end - m.run.t0 for m in runs)
        cpu = (f" The load process used {meta.idle_load_cpu:.0%} of one core while idle and "
               f"{share:.0%} during the commands, on the same machine as the lab.")  # fmt: skip
    L = [
        "## Under load: keep-alive users",
        "",
        f"Beside the probers, the manual's V1 load ran for the whole benchmark: {meta.load}. "
        "A cell counts the requests sent from the command's start to the end of its settle "
        f"time. The idle baseline is {ld.IDLE_SECONDS:.0f} s with nothing else running, after "
        "the first reset, once the machine had settled. Latency runs from sending a request to "
        "its whole answer, failed requests included; percentiles are nearest-rank (a measured "
        f"value). The load runs in its own process (locust patches the standard library for "
        f"gevent), at nice {ld.NICE} so that, as a user's browser on another machine, it is "
        "not starved by the build it measures." + cpu,
        "",
        "| | requests | failed | p50 | p95 | p99 | max |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    if idle:
        L.append(f"| idle ({ld.IDLE_SECONDS:.0f} s) | {base.n} | {ld.failure_text(idle)} | "
                 f"{ld.ms_text(base.p50)} | {ld.ms_text(base.p95)} | {ld.ms_text(base.p99)} | "
                 f"{ld.ms_text(base.max)} |")  # fmt: skip
    for m in runs:
        if not m.requests:
            continue
        lat = ld.latency(m.requests)
        ratio = f" ({lat.p99 / base.p99:.1f} ×)" if idle and base.p99 else ""
        L.append(f"| {where(m)} | {lat.n} | {ld.failure_text(m.requests)} | "
                 f"{ld.ms_text(lat.p50)} | {ld.ms_text(lat.p95)} | {ld.ms_text(lat.p99)}{ratio} | "
                 f"{ld.ms_text(lat.max)} |")  # fmt: skip
    return L + [""]


def targets(ms: list[Measurement], idle: list[ld.Request] | None = None) -> list[str]:
    """The release strategy's targets (issues 8 and 19), judged from this run's
    measurements, exactly: wall times on a cell's median repetition, failed probes and the
    load's numbers in every repetition."""
    out = []

    def verdict(ok: bool) -> str:
        return "meets the target" if ok else "**misses the target**"

    again = any(len(g) > 1 for g in cells(ms).values())
    zero = [(m, c) for m in ms if m.method == "release" and m.run
            for c in m.watched if c in ("frontend", "backend")
            and m.scenario in ("deploy", "rollback", "rollback-cold", "failed-build")]  # fmt: skip
    if zero:
        failed = [(m, c) for m, c in zero if numbers(m, c).failed]
        out.append(f"- 0 failed probes in every `release` frontend and backend deploy and rollback, "
                   f"a failed build's too: {len(zero) - len(failed)} of {len(zero)} measurements"
                   f"{', every repetition' if again else ''} ({verdict(not failed)})")  # fmt: skip
    bg = [m for m in ms if m.method == "release-bluegreen" and m.component == "ai" and m.run]
    if bg:
        bad = [m for m in bg if numbers(m, "ai").failed]
        out.append(f"- AI with blue/green: 0 failed probes in {len(bg) - len(bad)} of {len(bg)} "
                   f"measurements ({verdict(not bad)})")  # fmt: skip
    warm = _runs(ms, "rollback", "backend", "release")
    if warm:
        secs, said = _median(warm)
        out.append(f"- backend rollback in the warm window: {said} wall time "
                   f"(target ≤ 1.50 s: {verdict(secs <= 1.5)})")  # fmt: skip
    full, manual = _runs(ms, "full-deploy", None, "release"), _runs(ms, "full-deploy", None, "manual")  # fmt: skip
    if full and manual:
        (secs, said), (manual_secs, manual_said) = _median(full), _median(manual)
        ratio = secs / manual_secs
        out.append(f"- `full-deploy`: {said} = {ratio:.2f} × the `manual` strategy's "
                   f"{manual_said} (target ≤ 0.60: {verdict(ratio <= 0.6)})")  # fmt: skip
    fe, script = _runs(ms, "deploy", "frontend", "release"), _runs(ms, "deploy", "frontend", "script")  # fmt: skip
    if fe and script:
        (secs, said), (script_secs, script_said) = _median(fe), _median(script)
        out.append(f"- frontend deploy: `release` {said}, the manual's own script {script_said} "
                   f"(target: no longer: {verdict(secs <= script_secs)})")  # fmt: skip
    ai = [m for m in ms if m.method == "release" and m.component == "ai" and m.run]
    if ai:
        bad = [m for m in ai if numbers(m, "ai").failed]
        longest = max(numbers(m, "ai").longest for m in ai)
        out.append(f"- AI with the default switch (`ai_switch=auto`: blue/green where the host "
                   f"holds two instances, as the lab's GPU-less host does; else a drained "
                   f"restart): 0 failed probes in {len(ai) - len(bad)} of {len(ai)} measurements, "
                   f"longest outage {longest:.2f} s ({verdict(not bad)})")  # fmt: skip
    out += load_targets(ms, idle or [])
    if not out:
        return []
    how = "one measurement per cell"
    if again:
        how = ("a cell measured more than once by the median of its wall times (for an even "
               "count the lower middle one), failed probes counted in every repetition")  # fmt: skip
    return ["## Targets (release strategy)", "", f"From this run's measurements, exactly ({how}):",
            "", *out, ""]  # fmt: skip


def speed_line(startup_ms: list[float]) -> str:
    """How fast the machine was during the run, in what fab's start-up costs."""
    at = " and ".join(f"{x:.0f} ms" for x in startup_ms)
    return (
        f"- machine speed: `python -c 'import fabric'` (most of fab's start-up) took {at} "
        "(median of 5, with the lab idle, before the probing started and after it ended). "
        "This machine's speed varies from hour to hour and every wall time scales with it: "
        "compare runs by it, columns within a run"
    )


def render(meta: Meta, scenarios: list[Scenario], ms: list[Measurement]) -> str:
    L = [
        "# Deploy benchmark: the manual's scripts and fab, side by side",
        "",
        "Generated by `bench/deploy_bench.py` on the local lab (two real hosts, `cpu` and "
        '`gpu`; see docs/developing.md, "The lab"). Numbers vary with the machine; compare columns, '
        "not runs.",
        "",
        f"- date: {meta.date}",
        f"- machine: {meta.machine}",
        *([speed_line(meta.startup_ms)] if meta.startup_ms else []),
        f"- reproduce: `{meta.command}` (after `.venv/bin/pip install -e '.[dev,bench]'`; "
        "it brings the lab up when it is down; "
        + (f"this run took {meta.minutes:.0f} minutes; " if meta.minutes else "")
        + "`--from RUN.json` redraws a run saved with `--save RUN.json`)",
        "",
        "**How to read a cell.** While the command runs, a prober on the operator side sends "
        f"one request every {meta.interval * 1000:.0f} ms to each public endpoint — "
        + ", ".join(f"{c}: {t}" for c, t in ENDPOINT_TEXT.items())
        + ". "
        + probe_text(meta)
        + " A probe fails on a connection or TLS error, a timeout (1 s), a status other than "
        "200 or a body without the version. **down** is the longest run of failed probes (first "
        "failure → next good answer), then failed/total probes, the command's wall time and "
        "exit code, and what answers at the end (✓ as expected). Probing goes on after the "
        "command until the component has answered for 1 s "
        f"(at most {meta.settle:.0f} s), so an outage that outlives the command counts too. "
        "Every cell starts from freshly reset hosts with 1.0.0 running."
        + repeat_note(ms)
        + probe_cost(ms)
        + quiet_note(meta, ms),
        "",
    ]
    L += targets(ms, ld.from_rows(meta.idle_load))
    for sc in scenarios:
        if not any(m.scenario == sc.key for m in ms):
            continue
        L += [f"## {sc.title}", ""]
        if sc.about:
            L += [sc.about[0].upper() + sc.about[1:] + ".", ""]
        L += scenario_table(sc, ms, meta.methods) + [""]
    L += load_section(meta, ms)
    if meta.pictures:
        L += [
            "## Timelines",
            "",
            "Per component, every scenario: one lane per method. The upper band is what the "
            "prober saw (colour = the version answering, red = no good answer); the strip "
            "under it is the step the command was in (fab's `[k/n] (B7) …` lines, the "
            "scripts' own `echo` lines). The grey tail is the settle time after the command."
            + (
                " The purple strip on top is the site's latency under the load: the slowest "
                "request sent in each 100 ms (log scale, 5 ms to 2 s; the dashed line is "
                "500 ms), a red tick per failed request."
                if meta.load
                else ""
            ),
            "",
        ]
        for c, name in meta.pictures.items():
            L += [f"### {c}", "", f"![{c} timeline]({name})", ""]
    bad = surprises(ms)
    if bad:
        L += ["## Non-zero exits and unexpected end states", ""] + bad + [""]
    L += ["## Methods", ""]
    for x in meta.methods:
        note = meta.method_notes.get(x, "")
        L.append(f"- `{x}`" + (f": {note}" if note else ""))
        for shown in meta.commands.get(x, []):
            L.append(f"  - `{shown}`")
    L.append("")
    if meta.verbatim:
        L += [meta.verbatim, ""]
    if meta.script_prep:
        L += ["Host-side preparation for `script` after each reset (no script was edited):", ""]
        L += [f"- {p}" for p in meta.script_prep] + [""]
    return "\n".join(L)


_SECTION = re.compile(r"<!-- ([\w-]+):begin -->\n.*?<!-- \1:end -->\n?", re.S)


def keep_sections(old: str, new: str) -> str:
    """``new`` with every marked section of ``old`` (``<!-- name:begin -->`` …
    ``<!-- name:end -->``, written by another benchmark, e.g. bench/build_bench.py) that
    ``new`` lacks, appended: one benchmark's rerun keeps the other's numbers."""
    kept = [m.group(0) for m in _SECTION.finditer(old) if f"<!-- {m.group(1)}:begin -->" not in new]
    if not kept:
        return new
    return new.rstrip("\n") + "\n\n" + "\n".join(b.rstrip("\n") + "\n" for b in kept)
