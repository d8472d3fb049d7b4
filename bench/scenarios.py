"""What is measured: scenarios as data, and the loop that runs them on the lab.

Every measurement starts from a known state: both hosts reset, the sample apps' origins
back to their first commit, every endpoint answering. Then the scenario pushes a commit,
runs its unmeasured preparation (e.g. a deploy before a rollback) and finally the measured
command, while the probers watch. After the command the probers keep going until the
component has answered for a second again (or `settle` seconds passed), so an outage
that outlives the command (a restart nobody waits for) is counted too.

The lab's hosts share this machine's cores with fab and the probers; on real hosts the
operator's machine is another one. A JVM compiling after a deploy (the preparation of a
rollback) keeps both cores busy for seconds and slowed fab's start-up by half. So before
the measured command the loop waits until the machine is quiet again (:func:`wait_quiet`),
the same for every method. "Quiet" is relative to what the probing (and the load,
bench/load.py) alone costs: once per run, right after the first reset with every endpoint
answering and nothing else running, :func:`probing_baseline` measures the machine's busy
share; a wait ends when the machine is at most that plus QUIET_MARGIN busy, or after
QUIET_MOST seconds. The wait and the share it
found are kept with the measurement, the baseline with the run (report.Meta).

To add a scenario, add a Scenario to SCENARIOS; `methods` limits it to some methods.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench import load as ld
from bench import probes as pr
from bench.commands import CommandRun
from bench.methods import Method

NEW = "1.1.0"
COLD_WAIT = 6.0  # seconds after the deploy: past a 2 s warm window
BROKEN = "1.2.0"
COMPONENTS = ("frontend", "backend", "ai")
QUIET_MARGIN = 0.10  # share of all cores above the probing's own baseline that is "quiet"
QUIET_CEILING = 0.60  # "quiet" is never busier than this, whatever the baseline said
QUIET_MOST = 30.0  # seconds: well inside a warm window (backend_keep_warm, default 600 s)
FIXED_QUIET_BUSY = 0.35  # the fixed threshold of runs saved before the baseline existed
BASELINE_SAMPLE = 3.0  # seconds per busy-share sample of the baseline
BASELINE_AGREE = 0.03  # two samples this close in a row: the reset lab has settled
BASELINE_MOST = 30.0  # seconds of sampling at most


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str  # the report's heading
    action: str  # the measured command: "deploy", "rollback" or "full" (every component)
    push: str = "new"  # commit pushed first: "new" (VERSION 1.1.0), "break" (build fails)
    prepare: tuple[str, ...] = ()  # unmeasured actions after the push, e.g. ("deploy",)
    wait: float = 0.0  # seconds between the preparation and the measured command
    expect: str = "new"  # what should answer at the end: "new" or "old" (the first version)
    methods: tuple[str, ...] | None = None  # None: every method
    about: str = ""
    #: settings for fab (appended to the lab's inventory), e.g. a short warm window
    settings: tuple[tuple[str, str], ...] = ()


SCENARIOS = [
    Scenario("deploy", "Deploy a new version", "deploy", about=f"1.0.0 → {NEW}"),
    Scenario(
        "rollback",
        "Rollback right after a deploy",
        "rollback",
        prepare=("deploy",),
        expect="old",
        about=f"{NEW} was just deployed with the same method; back to 1.0.0",
    ),
    Scenario(
        "rollback-cold",
        "Rollback after the warm window (release)",
        "rollback",
        prepare=("deploy",),
        wait=COLD_WAIT,
        expect="old",
        methods=("release",),
        settings=(("backend_keep_warm", "2"), ("ai_keep_warm", "2")),
        about=f"the old backend instance stopped {COLD_WAIT:.0f} s after the deploy "
        "(backend_keep_warm=2): the rollback starts it, then switches",
    ),
    Scenario(
        "failed-build",
        "Deploy whose build fails",
        "deploy",
        push="break",
        expect="old",
        about=f"the pushed commit ({BROKEN}) does not build; 1.0.0 should stay up",
    ),
    Scenario(
        "full-deploy",
        "Full deploy (all three components)",
        "full",
        about=f"all three at 1.0.0 → {NEW}",
    ),
]


def push_files(component: str, kind: str, apps_dir) -> dict[str, str]:
    """The files of the pushed commit. The AI app has no build: its "build" is
    `pip install -r requirements.txt`, broken by a requirement the wheelhouse lacks
    (tests/apps/ai/README.md)."""
    if kind == "new":
        return {"VERSION": NEW + "\n"}
    if component == "ai":
        reqs = (apps_dir / "ai" / "requirements.txt").read_text()
        return {"VERSION": BROKEN + "\n", "requirements.txt": reqs + "dojangkok-missing-package==0.0.0\n"}  # fmt: skip
    return {"VERSION": BROKEN + "\n", "BREAK": "build\n"}


@dataclass
class Measurement:
    scenario: str
    component: str | None  # None: a full deploy
    method: str
    note: str = ""  # why it was skipped or failed to prepare
    run: CommandRun | None = None
    t_end: float = 0.0  # end of the settle time
    settled: bool = True
    baseline: dict[str, str] = field(default_factory=dict)  # version per endpoint at start
    expected: dict[str, str] = field(default_factory=dict)
    probes: dict[str, list[pr.Probe]] = field(default_factory=dict)
    #: the load's requests sent in the window (bench/load.py; none in runs without it)
    requests: list[ld.Request] = field(default_factory=list)
    load_cpu: float = 0.0  # CPU seconds the load process used in the window
    bench_cpu: float = 0.0  # CPU seconds this process (the probers) used in the window
    quiet_wait: float = 0.0  # seconds waited for a quiet machine before the command
    busy_at_start: float = 0.0  # the machine's busy share when the command started
    repetition: int = 1  # which measurement of its cell this is (deploy_bench --repeat)

    @property
    def watched(self) -> tuple[str, ...]:
        return COMPONENTS if self.component is None else (self.component,)

    @property
    def cell(self) -> tuple[str, str | None, str]:
        return self.scenario, self.component, self.method


def let_the_prober_ask_the_ai_server(lab) -> None:
    """Setup's firewall lets only the CPU host reach the AI server's ports; the prober asks
    it from this machine. One rule for the prober's address, on top of the tool's table (the
    firewall is not what the bench measures; a tunnel through cpu would die with cpu's
    resets)."""
    rule = (
        f"nft insert rule inet dojangkok input ip saddr {lab.operator_ip} "
        "tcp dport '{ 8000, 8001, 8002 }' accept"
    )
    res = lab.run("gpu", f"if nft list table inet dojangkok >/dev/null 2>&1; then {rule}; fi")
    if res.returncode != 0:
        raise RuntimeError(f"cannot let the prober reach the AI server: {res.stderr.strip()}")


#: the AI server's .env on the lab's GPU host (the file its unit reads: appenv.system_path)
AI_ENV = "/etc/dojangkok/env/ai.env"


def ai_delay_command(seconds: float) -> str:
    """As root on the GPU host: the sample AI's start-up delay in its .env, then a restart
    (the first start the probers wait for takes that long too)."""
    line = f"STARTUP_DELAY_SECONDS={seconds:g}"
    return (f"sed -i '/^STARTUP_DELAY_SECONDS=/d' {AI_ENV} && echo {line} >> {AI_ENV} && "
            "systemctl restart fastapi")  # fmt: skip


class Bench:
    def __init__(self, lab, probers: pr.Probers, mask, log=print, settle: float = 30.0,
                 margin: float = QUIET_MARGIN, load: ld.Load | None = None,
                 ai_startup_delay: float | None = None):  # fmt: skip
        self.lab, self.probers, self.mask, self.log, self.settle = lab, probers, mask, log, settle
        self.margin, self.load = margin, load
        #: the sample AI's start-up (STARTUP_DELAY_SECONDS), for every method alike
        self.ai_startup_delay = ai_startup_delay
        self.probing_busy: float | None = None  # the baseline, after the first reset
        self.idle: list[ld.Request] = []  # the load's idle baseline, after the first reset
        self.idle_cpu = 0.0  # CPU seconds the load process used in it

    @property
    def quiet_busy(self) -> float:
        """The busy share a wait for a quiet machine waits for: never above QUIET_CEILING
        (a baseline taken while something else ran would make every wait end at once)."""
        return min((self.probing_busy or 0.0) + self.margin, QUIET_CEILING)

    def fresh(self, method: Method) -> dict[str, str]:
        """Hosts and origins reset; every endpoint answering; returns their versions. The
        lab's hosts boot bare (tests/lab): `setup=True` is as `fab setup` left them, serving
        1.0.0 (a cached layer), which every method starts from."""
        self.lab.reset(setup=True)
        if self.ai_startup_delay is not None:  # the served AI's .env, as setup writes it
            self.lab.run("gpu", ai_delay_command(self.ai_startup_delay), timeout=60)
        method.prepare_hosts(self.lab)
        let_the_prober_ask_the_ai_server(self.lab)
        since = time.monotonic()
        if not self.probers.wait_healthy(COMPONENTS, 1.0, 180, since):
            raise RuntimeError("the lab did not come back up after a reset")
        win = self.probers.window(since, time.monotonic())
        return {c: pr.final_state(win[c])[1] for c in COMPONENTS}

    def load_cpu(self) -> float:
        return self.load.cpu_seconds() if self.load else 0.0

    def baselines(self) -> None:
        """Once, after the first reset, with nothing but the probers (and the load) running:
        the machine's busy share (what "quiet" is measured against), then the load's idle
        latency over IDLE_SECONDS (what a command's is compared with)."""
        self.probing_busy = probing_baseline()
        what = "the probing alone keeps"
        if self.load:  # the settled lab (a JVM just started compiles for a while)
            t0, cpu = time.monotonic(), self.load_cpu()
            time.sleep(ld.IDLE_SECONDS)
            self.idle = self.load.window(t0, time.monotonic())
            self.idle_cpu = self.load_cpu() - cpu
            lat = ld.latency(self.idle)
            what = "the probing and the load keep"
            self.log(f"   idle load: {lat.n} requests, failed {ld.failure_text(self.idle)}, "
                     f"p50 {lat.p50:.0f} ms, p99 {lat.p99:.0f} ms, max {lat.max:.0f} ms")  # fmt: skip
        self.log(f"   {what} the machine {self.probing_busy:.0%} busy: "
                 f"quiet is at most {self.quiet_busy:.0%}")  # fmt: skip

    def measure(
        self, sc: Scenario, component: str | None, method: Method, repetition: int = 1
    ) -> Measurement:
        m = Measurement(sc.key, component, method.name, repetition=repetition)
        ok, why = method.available(self.lab, sc.action, component)
        if not ok:
            m.note = why
            return m
        label = f"{sc.key} · {component or 'all'} · {method.name}"
        label += f" · repetition {repetition}" if repetition > 1 else ""
        self.log(f"-- {label}: resetting the lab")
        m.baseline = self.fresh(method)
        if self.probing_busy is None:
            self.baselines()
        for c in m.watched:
            if sc.push:
                self.lab.push_app(c, push_files(c, sc.push, self.lab.settings.apps_dir), f"bench {sc.key}")  # fmt: skip
            m.expected[c] = NEW if sc.expect == "new" else m.baseline[c]
        for action in sc.prepare:
            prep = method.run(self.lab, action, component, self.mask, sc.settings)
            if prep.rc != 0:
                m.note = f"preparation `{prep.shown}` failed (exit {prep.rc})"
                self.log(f"   {m.note}:\n{prep.tail(15)}")
                return m
            if not self.probers.wait_healthy(m.watched, 1.0, 120, time.monotonic()):
                m.note = f"not up again after the preparation `{prep.shown}`"
                return m
        time.sleep(sc.wait)
        m.quiet_wait, m.busy_at_start = wait_quiet(self.quiet_busy)
        self.log(f"-- {label}: measuring (waited {m.quiet_wait:.1f} s for a quiet machine: "
                 f"{m.busy_at_start:.0%} busy)")  # fmt: skip
        cpu, load_cpu = time.process_time(), self.load_cpu()
        m.run = method.run(self.lab, sc.action, component, self.mask, sc.settings)
        m.settled = self.probers.wait_healthy(m.watched, 1.0, self.settle, m.run.t1)
        m.t_end = time.monotonic()
        m.bench_cpu = time.process_time() - cpu
        m.load_cpu = self.load_cpu() - load_cpu
        m.probes = self.probers.window(m.run.t0, m.t_end)
        m.requests = self.load.window(m.run.t0, m.t_end) if self.load else []
        self.log(f"   exit {m.run.rc} after {m.run.seconds:.1f} s; {summary(m)}")
        return m


def busy_share(interval: float = 0.5) -> float:
    """How busy the machine's cores were over ``interval`` seconds (0..1, all cores)."""

    def snap() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    total, idle = snap()
    time.sleep(interval)
    total2, idle2 = snap()
    return 1.0 - (idle2 - idle) / max(1, total2 - total)


def probing_baseline(
    sample: float = BASELINE_SAMPLE, agree: float = BASELINE_AGREE, most: float = BASELINE_MOST
) -> float:
    """The machine's busy share while the probers run and nothing else does: `sample`-second
    shares until two in a row differ by at most `agree` (the freshly reset lab has settled;
    their mean), else after `most` seconds the lowest share seen."""
    start = time.monotonic()
    seen = [busy_share(sample)]
    while time.monotonic() - start < most:
        seen.append(busy_share(sample))
        if abs(seen[-1] - seen[-2]) <= agree:
            return (seen[-1] + seen[-2]) / 2
    return min(seen)


def wait_quiet(busy: float, most: float = QUIET_MOST) -> tuple[float, float]:
    """Wait until the machine is at most ``busy`` busy, for at most ``most`` seconds;
    returns (seconds waited, the last busy share seen)."""
    start = time.monotonic()
    while True:
        share = busy_share()
        waited = time.monotonic() - start
        if share <= busy or waited >= most:
            return waited, share


# -- numbers from a measurement ----------------------------------------------------------
@dataclass(frozen=True)
class Numbers:
    failed: int
    total: int
    longest: float
    up: bool  # answering at the end
    version: str  # the version answering at the end
    expected: str

    @property
    def as_expected(self) -> bool:
        return self.up and self.version == self.expected


def numbers(m: Measurement, endpoint: str) -> Numbers:
    ps = m.probes.get(endpoint, [])
    up, version = pr.final_state(ps)
    return Numbers(
        pr.failed(ps),
        len(ps),
        pr.longest_outage(ps),
        up,
        version,
        m.expected.get(endpoint, ""),
    )


def cells(ms: list[Measurement]) -> dict[tuple, list[Measurement]]:
    """The measurements by cell (scenario, component, method), in the order measured."""
    out: dict[tuple, list[Measurement]] = {}
    for m in ms:
        out.setdefault(m.cell, []).append(m)
    return out


def ran(group: list[Measurement]) -> list[Measurement]:
    """The repetitions that ran their command, in repetition order."""
    return sorted((m for m in group if m.run is not None), key=lambda m: m.repetition)


def median(group: list[Measurement]) -> Measurement:
    """The repetition a cell shows: the one with the median wall time among those that ran
    (for an even count the lower middle one, the faster of the two); the first one when
    none ran (it carries the note why)."""
    done = sorted(ran(group), key=lambda m: (m.run.seconds, m.repetition))
    return done[(len(done) - 1) // 2] if done else group[0]


def medians(ms: list[Measurement]) -> list[Measurement]:
    """One measurement per cell (:func:`median`), cells in the order first measured."""
    return [median(group) for group in cells(ms).values()]


def summary(m: Measurement) -> str:
    parts = []
    for c in m.watched:
        n = numbers(m, c)
        parts.append(f"{c}: {n.failed}/{n.total} failed, longest {n.longest:.2f} s, ends {n.version or 'down'}")  # fmt: skip
    if m.requests:
        lat = ld.latency(m.requests)
        parts.append(f"load: {lat.n} requests, failed {ld.failure_text(m.requests)}, "
                     f"p50 {lat.p50:.0f} ms, p99 {lat.p99:.0f} ms, max {lat.max:.0f} ms")  # fmt: skip
    return "; ".join(parts)
