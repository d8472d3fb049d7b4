"""Deploy benchmark on the lab: deploy methods side by side, seen by an outside prober.

Methods (columns): `script` runs the manual's own scripts unchanged (bench/manual_scripts/,
checked against design-step1.md), `manual` and `release` run `fab … --strategy=NAME` (a
strategy fab does not offer yet is skipped with a note). For each component and scenario
(bench/scenarios.py: deploy, rollback, failed build, full deploy) it resets the lab,
pushes a commit and runs the command while probers poll the three public endpoints every
20 ms and the manual's V1 load (bench/load.py: 50 keep-alive users × 2 req/s, GETs and
POSTs) runs against the site. The cells the targets compare by wall time
(report.REPEATED) are measured --repeat times (each from its own reset) and judged on
their median; the others once. Writes
docs/benchmarks.md and docs/bench-<component>.png (with the `bench` extra).

    flock /tmp/dojangkok-lab.lock .venv/bin/python bench/deploy_bench.py \\
        [--methods script,manual,release] [--scenarios deploy,rollback,...] \\
        [--components frontend,backend,ai] [--repeat 3] [--users 50] [--save RUN.json] \\
        [--from RUN.json]

Not a test: numbers vary with the machine. --from redraws from a saved run, without the lab.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import commands, manual, methods, report, store, timeline  # noqa: E402
from bench import load as ld  # noqa: E402
from bench import probes as pr  # noqa: E402
from bench.lab_bench import machine, startup_ms  # noqa: E402
from bench.scenarios import COMPONENTS, SCENARIOS, Bench, Measurement  # noqa: E402
from tests.lab.acme import SITE_NAME  # noqa: E402
from tests.lab.site import site  # noqa: E402

DOCS = ROOT / "docs"
REPEAT = 3


def args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--methods",
        default="script,manual,release",
        help="columns: `script` (the manual's scripts) or a fab strategy name",
    )
    p.add_argument(
        "--scenarios",
        default=",".join(s.key for s in SCENARIOS),
        help="bench/scenarios.py keys (default: all)",
    )
    p.add_argument("--components", default=",".join(COMPONENTS), help="default: all three")
    p.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="max seconds to watch a component come back after the command",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=REPEAT,
        help="measurements of each cell the targets compare by wall time (median judged)",
    )
    p.add_argument(
        "--users",
        type=int,
        default=ld.USERS,
        help=f"the load's keep-alive users, {ld.RATE:g} req/s each (0: no load)",
    )
    p.add_argument(
        "--ai-startup-delay",
        type=float,
        default=None,
        help="seconds the sample AI server takes to start (its STARTUP_DELAY_SECONDS; the "
        "team's server: ~45); default: the sample's own 3",
    )
    p.add_argument("--out", type=Path, default=DOCS / "benchmarks.md", help="pictures go beside")
    p.add_argument("--save", type=Path, help="also write the raw measurements (JSON)")
    p.add_argument("--from", dest="load", type=Path, help="redraw from saved measurements")
    return p


def verbatim_note() -> str:
    found = manual.find_manual()
    if found is None:
        return "The stored scripts could not be compared with design-step1.md (not found)."
    differ = manual.check(found)
    if differ:
        raise SystemExit(f"bench/manual_scripts/ differ from the manual: {', '.join(differ)}")
    return (
        "`bench/manual_scripts/` was checked against design-step1.md at the start of the "
        f"run: {len(manual.NAMES)} scripts, byte for byte the manual's text."
    )


def measure_all(args, names: list[str], tmp: Path) -> tuple[report.Meta, list[Measurement]]:
    from tests.lab import Lab

    lab = Lab.from_repo(ROOT)
    if not lab.is_up():
        lab.up()
    # the hosts as every cell starts them, before the probers and the load read the site's
    # roots: a cached setup layer's certificate may chain to the root of the pebble that
    # made it, which the reset adds to .lab/tls/site-ca.pem (tests/lab/acme.py site_roots);
    # a TLS context made before it trusts only the running pebble's, and every https probe
    # fails ("the lab did not come back up after a reset")
    lab.reset(setup=True)
    mask = commands.masker(lab.env().values())
    delay = args.ai_startup_delay
    extra = () if delay is None else (("ai_env", methods.ai_env_with_delay(lab, delay)),)
    chosen = methods.make(names, ROOT, history=tmp / "history.jsonl", extra=extra)
    for meth in chosen:
        meth.prepare_tool()
    scenarios = [s for s in SCENARIOS if s.key in args.scenarios.split(",")]
    components = [c for c in COMPONENTS if c in args.components.split(",")]
    eps = pr.endpoints(SITE_NAME, lab.addresses["gpu"])  # the site by its name (tests/lab/site.py)
    cafile = site(lab).ca
    meta = report.Meta(
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(),
        command=command_line(args),
        methods=names,
        verbatim=verbatim_note() if "script" in names else "",
        script_prep=methods.SCRIPT_PREP if "script" in names else [],
        settle=args.settle,
        repeat=args.repeat,
        returning=True,
        load=ld.describe(args.users) if args.users else "",
    )
    python = ROOT / ".venv" / "bin" / "python"
    meta.startup_ms.append(startup_ms(python))
    results: list[Measurement] = []
    load = ld.Load(ld.site_url(eps["frontend"].url), cafile, tmp / "load.tsv", args.users)
    with pr.Probers(eps, pr.tls_context(cafile)) as probers, loaded(load, args.users):
        bench = Bench(lab, probers, mask, settle=args.settle, load=load if args.users else None,
                      ai_startup_delay=delay)  # fmt: skip
        for sc in scenarios:
            for comp in [None] if sc.action == "full" else components:
                # repetitions interleave the methods (script, release, script, release, …):
                # a drift of the machine over time weighs on every column alike
                first: dict[str, Measurement] = {}
                for rep in range(1, args.repeat + 1):
                    for meth in chosen:
                        if sc.methods is not None and meth.name not in sc.methods:
                            continue
                        if rep > 1 and not repeated(sc.key, comp, meth.name, first):
                            continue
                        try:
                            m = bench.measure(sc, comp, meth, rep)
                        except Exception as exc:  # one broken cell must not lose the others
                            note = mask(f"{type(exc).__name__}: {exc}")
                            print(f"   failed: {note}", flush=True)
                            m = Measurement(sc.key, comp, meth.name, note=note, repetition=rep)
                        first.setdefault(meth.name, m)
                        results.append(m)
    meta.startup_ms.append(startup_ms(python))
    lab.reset()  # leave the lab fresh for whoever runs next
    meta.probing_busy, meta.quiet_margin = bench.probing_busy, bench.margin
    meta.idle_load = ld.rows(bench.idle)
    if bench.idle:
        meta.idle_load_cpu = bench.idle_cpu / ld.IDLE_SECONDS
    meta.resumed = {n: list(v) for n, v in probers.resumption().items() if v[0]}
    print(f"https probes (answers, resumed TLS sessions): {meta.resumed}", flush=True)
    for meth in chosen:
        skipped = sorted({m.note for m in results if m.method == meth.name and m.run is None})
        notes = [meth.note] if meth.note else []
        ran = any(m.method == meth.name and m.run is not None for m in results)
        notes += [f"{'skipped where' if ran else 'not run:'} {n}" for n in skipped if n]
        meta.method_notes[meth.name] = "; ".join(notes)
        shown = [m.run.shown for m in results if m.method == meth.name and m.run is not None]
        meta.commands[meth.name] = list(dict.fromkeys(shown))
    return meta, results


def loaded(load: ld.Load, users: int):
    """The load running for the block (nothing when `--users 0`)."""
    return load if users else contextlib.nullcontext()


def repeated(scenario: str, component, method: str, first: dict[str, Measurement]) -> bool:
    """Whether a cell is measured again: one the targets compare by wall time whose first
    repetition ran (a skipped or broken cell is not retried)."""
    m = first.get(method)
    return (scenario, component, method) in report.REPEATED and m is not None and m.run is not None


def command_line(args) -> str:
    cmd = "flock /tmp/dojangkok-lab.lock .venv/bin/python bench/deploy_bench.py"
    cmd += f" --methods {args.methods}"
    if args.scenarios != ",".join(s.key for s in SCENARIOS):
        cmd += f" --scenarios {args.scenarios}"
    if args.components != ",".join(COMPONENTS):
        cmd += f" --components {args.components}"
    if args.repeat != REPEAT:
        cmd += f" --repeat {args.repeat}"
    if args.users != ld.USERS:
        cmd += f" --users {args.users}"
    if args.ai_startup_delay is not None:
        cmd += f" --ai-startup-delay {args.ai_startup_delay:g}"
    return cmd


def write(meta: report.Meta, results: list[Measurement], out: Path) -> str:
    out.parent.mkdir(parents=True, exist_ok=True)
    scenarios = [s for s in SCENARIOS if any(m.scenario == s.key for m in results)]
    meta.pictures = {}
    if timeline.available():
        for c in COMPONENTS:
            if any(m.component == c for m in results):
                png = out.parent / f"bench-{c}.png"
                timeline.draw(c, scenarios, results, meta.methods, png)
                meta.pictures[c] = png.name
    else:
        print("matplotlib is missing: no pictures (pip install -e '.[bench]')", file=sys.stderr)
    text = report.render(meta, scenarios, results)
    if out.exists():  # other benchmarks' sections stay (bench/build_bench.py's)
        text = report.keep_sections(out.read_text(), text)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return text


def main() -> int:
    parser = args_parser()
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.users and not args.load and importlib.util.find_spec("locust") is None:
        parser.error("the load needs locust: .venv/bin/pip install -e '.[bench]' (or --users 0)")
    if args.load:
        meta, results = store.load(args.load)
    else:
        names = [n for n in args.methods.split(",") if n]
        t = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            meta, results = measure_all(args, names, Path(tmp))
        meta.minutes = (time.monotonic() - t) / 60
        print(f"measured in {meta.minutes * 60:.0f} s", flush=True)
        if args.save:
            store.save(args.save, meta, results)
    print(write(meta, results, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
