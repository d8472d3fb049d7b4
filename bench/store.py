"""Save the raw measurements (every probe, every request, every output line) to JSON and load them back,
so the report and pictures can be redrawn without the lab (`deploy_bench.py --from`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from bench import load as ld
from bench.commands import CommandRun, Mark
from bench.probes import Probe
from bench.report import Meta
from bench.scenarios import Measurement


def _m_to(m: Measurement) -> dict:
    d = {k: v for k, v in m.__dict__.items() if k not in ("run", "probes", "requests")}
    d["requests"] = ld.rows(m.requests)
    d["probes"] = {e: [[round(p.t, 4), int(p.ok), p.version] for p in ps] for e, ps in m.probes.items()}  # fmt: skip
    if m.run is not None:
        r = m.run
        d["run"] = {
            "shown": r.shown, "t0": r.t0, "t1": r.t1, "rc": r.rc,
            "lines": [[round(t, 4), s] for t, s in r.lines],
            "marks": [[round(k.t, 4), k.label] for k in r.marks],
        }  # fmt: skip
    return d


def _m_from(d: dict) -> Measurement:
    run = d.pop("run", None)
    probes = d.pop("probes", {})
    requests = d.pop("requests", [])  # none in runs saved before the load
    m = Measurement(**d)
    m.requests = ld.from_rows(requests)
    m.probes = {e: [Probe(t, bool(ok), v) for t, ok, v in ps] for e, ps in probes.items()}
    if run:
        m.run = CommandRun(run["shown"], run["t0"], run["t1"], run["rc"])
        m.run.lines = [(t, s) for t, s in run["lines"]]
        m.run.marks = [Mark(t, s) for t, s in run["marks"]]
    return m


def save(path: Path, meta: Meta, ms: list[Measurement]) -> None:
    data = {"meta": asdict(meta), "measurements": [_m_to(m) for m in ms]}
    path.write_text(json.dumps(data, ensure_ascii=False))


def load(path: Path) -> tuple[Meta, list[Measurement]]:
    data = json.loads(path.read_text())
    return Meta(**data["meta"]), [_m_from(d) for d in data["measurements"]]
