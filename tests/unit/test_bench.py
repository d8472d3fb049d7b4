"""The deploy benchmark's pure parts: outage numbers, marks, the manual's scripts, the report.
(The benchmark itself runs on the lab and is not a test: bench/deploy_bench.py.)"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import commands, manual, report, store
from bench import probes as pr
from bench.commands import CommandRun, Mark
from bench.probes import Probe
from bench.scenarios import SCENARIOS, Measurement, numbers, push_files


def probes(pattern: str, version: str = "1.0.0", step: float = 0.02) -> list[Probe]:
    """'..xx.' → ok, ok, failed, failed, ok, one every `step` seconds from t=10."""
    return [Probe(10 + i * step, c == ".", version if c == "." else "") for i, c in enumerate(pattern)]  # fmt: skip


def test_outages_run_from_first_failure_to_next_good_answer():
    ps = probes("..xxx..x.")
    assert [(round(o.start, 2), round(o.end, 2)) for o in pr.outages(ps)] == [
        (10.04, 10.10), (10.14, 10.16)
    ]  # fmt: skip
    assert pr.longest_outage(ps) == pytest.approx(0.06)
    assert pr.failed(ps) == 4


def test_an_outage_lasting_to_the_end_counts_one_interval_past_its_last_probe():
    assert pr.longest_outage(probes("..xxxx")) == pytest.approx(0.08)
    assert pr.longest_outage(probes("....")) == 0.0
    assert pr.longest_outage([]) == 0.0
    assert pr.final_state(probes("x..x")) == (False, "")
    assert pr.final_state(probes("x.", "1.1.0")) == (True, "1.1.0")


def test_segments_merge_equal_states_and_split_on_version_change():
    ps = probes("..xx") + [Probe(10.08, True, "1.1.0"), Probe(10.10, True, "1.1.0")]
    segs = pr.segments(ps, t_end=10.12)
    assert [(round(a, 2), round(b, 2), s) for a, b, s in segs] == [
        (10.0, 10.04, "1.0.0"), (10.04, 10.08, None), (10.08, 10.12, "1.1.0")
    ]  # fmt: skip


def test_fab_marks():
    assert commands.fab_mark("[10/14] (B8) Gradle 빌드  (예상 3분+)") == "B8 Gradle 빌드"
    assert commands.fab_mark("[1/4] (BR1) 이전 배포 리비전으로 코드 복원  (예상 5초)") == (
        "BR1 이전 배포 리비전으로 코드 복원"
    )
    assert commands.fab_mark("[2/3] Spring Boot 배포... (cpu) 서비스 중단이 발생합니다.") == (
        "Spring Boot 배포... (cpu) 서비스 중단이 발생합니다."
    )
    assert commands.fab_mark("!!! B8 Gradle 빌드 실패 → 롤백 시작 (매뉴얼: 롤백)") == (
        "B8 Gradle 빌드 실패 → 롤백 시작"
    )
    assert (
        commands.fab_mark("[gpu] [1/7] (C1) AI 인스턴스 접속  (예상 30초)") == "C1 AI 인스턴스 접속"
    )
    assert commands.fab_mark("[cpu:backend] [2/9] (B8) Gradle 빌드  (예상 3분+)") == (
        "B8 Gradle 빌드"
    )
    assert commands.fab_mark("      ✓ 0.1s") is None
    assert commands.fab_mark("      $ systemctl stop dojangkok") is None


def test_script_marks_come_from_the_scripts_own_echo_lines_and_a_wait_loop_marks_once():
    mark = commands.script_marker(manual.stored().values())
    lines = [
        (1.0, "=== Spring Boot 백엔드 배포 시작 ==="),
        (1.1, "Already up to date."),
        (1.2, "[5/7] 서비스 중단..."),
        (3.0, "  대기 중... (1/12)"),
        (8.0, "  대기 중... (2/12)"),
        (9.0, "Spring Boot 서버 정상 기동"),
    ]
    assert commands.first_marks(lines, mark) == [
        Mark(1.0, "=== Spring Boot 백엔드 배포 시작 ==="),
        Mark(1.2, "[5/7] 서비스 중단..."),
        Mark(3.0, "대기 중... (1/12)"),
        Mark(9.0, "Spring Boot 서버 정상 기동"),
    ]


def test_masker_hides_secrets():
    mask = commands.masker(["s3cret-value", "abc"])
    assert mask("pw=s3cret-value abc") == "pw=**** abc"


MANUAL_SNIPPET = """
<summary>x</summary>

```bash
#!/bin/bash
# /app/scripts/deploy_frontend.sh

echo "hi"
```

```bash
echo "not a script of /app/scripts"
```
"""


def test_extract_finds_the_scripts_by_their_header_comment():
    assert manual.extract(MANUAL_SNIPPET) == {
        "deploy_frontend.sh": '#!/bin/bash\n# /app/scripts/deploy_frontend.sh\n\necho "hi"\n'
    }


def test_stored_scripts_are_the_manuals_text_verbatim():
    found = manual.find_manual()
    if found is None:
        pytest.skip("design-step1.md not found (shared/manual beside the checkout)")
    assert manual.check(found) == []


def measurement(scenario="deploy", component="backend", method="script", rc=0) -> Measurement:
    run = CommandRun("ssh cpu /app/scripts/deploy_backend.sh", 10.0, 10.2, rc)
    run.lines = [(10.01, "=== start ==="), (10.19, "BUILD FAILED")]
    run.marks = [Mark(10.01, "=== start ===")]
    m = Measurement(scenario, component, method, run=run, t_end=10.2)
    m.expected = {component: "1.1.0"}
    m.probes = {component: probes("..xxx") + [Probe(10.1, True, "1.1.0")]}
    return m


def test_numbers_and_report():
    ok = measurement()
    n = numbers(ok, "backend")
    assert (n.failed, n.total, n.up, n.version, n.as_expected) == (3, 6, True, "1.1.0", True)
    assert n.longest == pytest.approx(0.06)
    broken = measurement("failed-build", rc=1)
    broken.expected = {"backend": "1.0.0"}
    skipped = Measurement("deploy", "backend", "release", note="no --strategy yet")
    meta = report.Meta("2026-01-01", "test machine", "python bench/deploy_bench.py",
                       ["script", "release"], method_notes={"release": "skipped"},
                       resumed={"frontend": [10, 9], "backend": [5, 4]}, returning=True)  # fmt: skip
    text = report.render(meta, SCENARIOS, [ok, broken, skipped])
    assert "Each probe is a new TCP connection" in text
    assert "(13 of 15 https probes of this run resumed their session)" in text
    assert "| | `script` | `release` |" in text
    assert "| backend | **0.06 s** down · 3/6 failed<br>0.2 s · exit 0<br>serves 1.1.0 ✓ |" in text
    assert "skipped: no --strategy yet" in text
    assert "serves 1.1.0 ✗ (expected 1.0.0)" in text
    assert "`script` · failed-build · backend: exit 1" in text and "`BUILD FAILED`" in text
    assert "## Full deploy" not in text  # no measurement, no table


def test_full_deploy_table_has_wall_time_and_a_row_per_component():
    m = measurement("full-deploy", None)
    m.probes = {c: probes("....") for c in ("frontend", "backend", "ai")}
    m.expected = {c: "1.0.0" for c in ("frontend", "backend", "ai")}
    meta = report.Meta("d", "m", "c", ["script"])
    text = report.render(meta, SCENARIOS, [m])
    assert "| wall time | **0.2 s** · exit 0 |" in text
    assert "| ai | **0.00 s** down · 0/4 failed<br>serves 1.0.0 ✓ |" in text


def test_saved_measurements_load_back(tmp_path):
    meta = report.Meta("d", "m", "c", ["script"], probing_busy=0.23, quiet_margin=0.1, repeat=3,
                       resumed={"frontend": [10, 9]}, startup_ms=[301.2, 352.0],
                       minutes=41.3)  # fmt: skip
    ms = [measurement(), Measurement("deploy", "ai", "release", note="skipped", repetition=2)]
    store.save(tmp_path / "run.json", meta, ms)
    meta2, ms2 = store.load(tmp_path / "run.json")
    assert meta2 == meta
    assert ms2[0].probes == ms[0].probes and ms2[0].run.marks == ms[0].run.marks
    assert ms2[1].run is None and ms2[1].note == "skipped"
    assert [m.repetition for m in ms2] == [1, 2]
    text = report.render(meta2, SCENARIOS, ms2)
    assert "`python -c 'import fabric'` (most of fab's start-up) took 301 ms and 352 ms" in text
    assert "this run took 41 minutes; `--from RUN.json`" in text


def test_a_run_saved_before_repetitions_and_the_baseline_still_loads(tmp_path):
    import json

    store.save(tmp_path / "run.json", report.Meta("d", "m", "c", ["script"]), [measurement()])
    data = json.loads((tmp_path / "run.json").read_text())
    for key in (
        "resumed",
        "probing_busy",
        "quiet_margin",
        "repeat",
        "returning",
        "startup_ms",
        "minutes",
    ):
        del data["meta"][key]
    del data["measurements"][0]["repetition"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    meta, ms = store.load(tmp_path / "old.json")
    assert (meta.probing_busy, meta.repeat, ms[0].repetition) == (None, 1, 1)
    text = report.render(meta, SCENARIOS, ms)
    assert "median of" not in text and "0.2 s · exit 0<br>" in text
    assert "like a first-time visitor" in text and "visited before" not in text
    assert "machine speed" not in text and "this run took" not in text


def test_scenarios():
    assert len({s.key for s in SCENARIOS}) == len(SCENARIOS)
    assert all(s.action in ("deploy", "rollback", "full") for s in SCENARIOS)
    assert push_files("backend", "break", None)["BREAK"] == "build\n"
    assert push_files("frontend", "new", None) == {"VERSION": "1.1.0\n"}


class FakeLab:
    inventory = "hosts.ini"
    env_file = ".env"


def fake_fab(tmp_path, strategy: bool):
    """A `fab` whose deploy-backend has --strategy (manual|release) or not."""
    fab = tmp_path / "fab"
    help_text = "--strategy=NAME  manual or release" if strategy else "-y, --yes"
    fab.write_text(
        "#!/bin/sh\n"
        f'case "$*" in\n  "--help deploy-backend") echo "{help_text}";;\n'
        '  "--help rollback-backend") echo "-y, --yes";;\n'
        "  *--strategy=release*|*--strategy=manual*) exit 0;;\n"
        "  *) echo 'No idea what --strategy=bluegreen is' >&2; exit 1;;\nesac\n"
    )
    fab.chmod(0o755)
    return fab


def test_a_strategy_is_used_once_fab_offers_it(tmp_path):
    from bench.methods import FabMethod

    fab = fake_fab(tmp_path, strategy=True)
    release = FabMethod("release", tmp_path, fab=fab)
    assert release.available(FakeLab, "deploy", "backend") == (True, "")
    deploy = release.command(FakeLab, "deploy", "backend")
    assert deploy.shown == "fab -H cpu deploy-backend --yes --strategy=release"
    # a rollback task without --strategy runs without it (it reads the deploy records)
    assert release.command(FakeLab, "rollback", "backend").shown == "fab -H cpu rollback-backend --yes"  # fmt: skip
    other = FabMethod("bluegreen", tmp_path, fab=fab)
    ok, why = other.available(FakeLab, "deploy", "backend")
    assert not ok and "No idea what --strategy=bluegreen is" in why


def test_without_strategy_option_manual_runs_plain_fab_and_others_are_skipped(tmp_path):
    from bench.methods import FabMethod

    fab = fake_fab(tmp_path, strategy=False)
    manual_ = FabMethod("manual", tmp_path, fab=fab)
    assert manual_.available(FakeLab, "deploy", "backend") == (True, "")
    assert manual_.command(FakeLab, "deploy", "backend").shown == "fab -H cpu deploy-backend --yes"
    assert FabMethod("release", tmp_path, fab=fab).available(FakeLab, "deploy", "backend") == (
        False,
        "fab has no `--strategy` option yet",
    )


def test_a_rerun_keeps_the_other_benchmarks_sections():
    from bench.report import keep_sections

    old = (
        "# Deploy\nold table\n\n<!-- build-on:begin -->\n## Build\n48.5 %\n<!-- build-on:end -->\n"
    )
    new = "# Deploy\nnew table\n"
    kept = keep_sections(old, new)
    assert kept.startswith("# Deploy\nnew table\n") and "old table" not in kept
    assert "<!-- build-on:begin -->\n## Build\n48.5 %\n<!-- build-on:end -->\n" in kept
    # a section the new text has already is not doubled
    assert keep_sections(old, kept) == kept
    assert keep_sections("# nothing marked\n", new) == new


def test_the_harness_waits_for_a_quiet_machine_and_says_so(monkeypatch):
    from bench import report, scenarios

    assert 0.0 <= scenarios.busy_share(0.05) <= 1.0
    shares = iter([0.9, 0.8, 0.2])
    monkeypatch.setattr(scenarios, "busy_share", lambda *a: next(shares))
    waited, busy = scenarios.wait_quiet(busy=0.35, most=30)
    assert busy == 0.2
    monkeypatch.setattr(scenarios, "busy_share", lambda *a: 0.9)
    waited, busy = scenarios.wait_quiet(busy=0.35, most=0.01)  # gives up, says how busy
    assert busy == 0.9 and waited >= 0.01
    m = scenarios.Measurement("rollback", "backend", "release", quiet_wait=4.2, busy_at_start=0.3)
    m.run = object()
    old = report.Meta("d", "m", "c", ["release"])  # a run saved before the baseline
    note = report.quiet_note(old, [m])
    assert "at most 35% busy for at most 30 s" in note and "took 4–4 s" in note
    assert "0 of 1 waits ended at the 30 s limit" in note
    capped = scenarios.Measurement("deploy", "backend", "release", quiet_wait=30.2, busy_at_start=0.34)  # fmt: skip
    capped.run = object()
    meta = report.Meta("d", "m", "c", ["release"], probing_busy=0.22, quiet_margin=0.1)
    note = report.quiet_note(meta, [m, capped])
    assert "at most 32% busy — what the probing alone kept it busy, 22% (measured once" in note
    assert (
        "plus 10%, at most 60% — for at most 30 s" in note and "took 4–30 s (median 17 s)" in note
    )
    assert "1 of 2 waits ended at the 30 s limit" in note
    # a baseline taken while something else ran: "quiet" still means at most 60 % busy
    busy = report.Meta("d", "m", "c", ["release"], probing_busy=0.94, quiet_margin=0.1)
    assert "at most 60% busy" in report.quiet_note(busy, [m])
    bench = scenarios.Bench(None, None, None, margin=0.1)
    bench.probing_busy = 0.94
    assert bench.quiet_busy == scenarios.QUIET_CEILING


def test_the_probing_baseline_waits_for_the_reset_lab_to_settle(monkeypatch):
    from bench import scenarios

    shares = iter([0.6, 0.4, 0.25, 0.23, 0.9])
    monkeypatch.setattr(scenarios, "busy_share", lambda *a: next(shares))
    assert scenarios.probing_baseline() == pytest.approx(0.24)  # 0.25 and 0.23 agree
    clock = [0.0]  # each 3 s sample moves a fake clock on

    def sample(seconds):
        clock[0] += seconds
        return [0.6, 0.3, 0.5][int(clock[0] / seconds) % 3]  # never two alike in a row

    monkeypatch.setattr(scenarios, "busy_share", sample)
    monkeypatch.setattr(scenarios, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    assert scenarios.probing_baseline() == 0.3  # gave up after 30 s: the lowest share seen
    assert clock[0] == pytest.approx(30.0)


def test_the_targets_are_judged_from_the_cells_exactly():
    from bench import report

    warm = measurement("rollback", "backend", "release")  # 0.2 s, but 3 failed probes
    fe, script = measurement("deploy", "frontend", "release"), measurement("deploy", "frontend")
    script.run.t1 = 10.19  # the script was faster by 0.01 s
    lines = "\n".join(report.targets([warm, fe, script]))
    assert "0 of 2 measurements (**misses the target**)" in lines
    assert "0.20 s wall time (target ≤ 1.50 s: meets the target)" in lines
    assert "`release` 0.20 s, the manual's own script 0.19 s (target: no longer: **misses" in lines
    warm.run.t1 = 11.51
    assert "1.51 s wall time (target ≤ 1.50 s: **misses" in "\n".join(report.targets([warm]))
    assert report.targets([]) == []


def test_a_permanent_redirect_to_https_on_the_same_host_is_remembered():
    url = "http://cpu/api/version"
    assert pr.remembered(url, 301, "https://cpu/api/version") == "https://cpu/api/version"
    assert pr.remembered(url, 308, "https://cpu/api/version") == "https://cpu/api/version"
    assert pr.remembered(url, 302, "https://cpu/api/version") == url  # temporary: asked again
    assert pr.remembered(url, 301, "https://elsewhere/") == url  # not an upgrade of this host
    assert pr.remembered(url, 301, "/login") == url  # http → http
    assert pr.remembered(url, 200, "") == url
    https = "https://cpu/api/version"
    assert pr.remembered(https, 301, "https://cpu/v2") == https


@pytest.fixture
def site(tmp_path):
    """nginx in small: an http server that redirects (301) to an https server (a
    self-signed certificate for 127.0.0.1, HTTP/1.1 keep-alive like nginx) serving
    /api/version. Yields (http port, https port, the request log, a client context, a
    function that stops the https server)."""
    import datetime as dt
    import ipaddress
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))  # fmt: skip
    log: list[tuple[str, str, int]] = []  # (scheme, path, client port)

    class Api(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            log.append(("https", self.path, self.client_address[1]))
            body = b'{"version": "1.1.0"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            if self.path.endswith("/closing"):  # the server closes, not the client
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    https = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    https.socket = server_ctx.wrap_socket(https.socket, server_side=True)
    port = https.server_address[1]

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self):
            log.append(("http", self.path, self.client_address[1]))
            self.send_response(301)
            self.send_header("Location", f"https://127.0.0.1:{port}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    servers = [https, http]
    for s in servers:
        threading.Thread(
            target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop_https():
        https.shutdown()
        https.server_close()
        servers.remove(https)

    yield http.server_address[1], port, log, pr.tls_context(str(tmp_path / "cert.pem")), stop_https
    for s in servers:
        s.shutdown()
        s.server_close()


def test_a_visitor_asks_https_directly_after_the_redirect_and_resumes_its_tls_session(site):
    http_port, https_port, log, ctx, stop_https = site
    ep = pr.Endpoint("backend", f"http://127.0.0.1:{http_port}/api/version", "json", '"version"')
    v = pr.Visitor(ep, ctx)
    assert v.ask() == (True, "1.1.0")
    assert [(s, p) for s, p, _ in log] == [("http", "/api/version"), ("https", "/api/version")]
    assert v.url == f"https://127.0.0.1:{https_port}/api/version"
    for _ in range(3):
        assert v.ask() == (True, "1.1.0")
    assert [s for s, _, _ in log] == ["http"] + ["https"] * 4  # no second redirect
    assert (v.https, v.resumed) == (4, 3)  # the first handshake is a full one
    assert len({port for _, _, port in log}) == 5  # a new connection for every request
    closing = pr.Visitor(pr.Endpoint("backend", v.url + "/closing", "json", '"version"'), ctx)
    for _ in range(2):  # the server's `Connection: close`: the session is read all the same
        assert closing.ask() == (True, "1.1.0")
    assert (closing.https, closing.resumed) == (2, 1)
    del log[5:]
    stop_https()
    assert v.ask() == (False, "")  # refused: the probe fails, the visitor stays on https
    assert v.url.startswith("https://") and len(log) == 5
    assert pr.ask(ep, ctx) == (False, "")  # a first-time visitor is redirected, then refused
    assert [s for s, _, _ in log] == ["http"] + ["https"] * 4 + ["http"]


def repetitions(scenario, component, method, walls, rc=0):
    """A cell measured len(walls) times, with these wall times, in this order."""
    out = []
    for i, secs in enumerate(walls, 1):
        m = measurement(scenario, component, method, rc)
        m.run.t1 = 10.0 + secs
        m.repetition = i
        out.append(m)
    return out


def test_a_cell_measured_more_than_once_shows_its_median_repetition():
    from bench.scenarios import median, medians

    three = repetitions("rollback", "backend", "release", [1.42, 1.21, 1.30])
    assert median(three).repetition == 3  # 1.21 < 1.30 < 1.42
    four = repetitions("rollback", "backend", "release", [1.42, 1.21, 1.30, 1.25])
    assert median(four).run.seconds == pytest.approx(1.25)  # the lower middle one
    broken = Measurement("rollback", "backend", "release", note="SSHException", repetition=2)
    assert median([three[0], broken, three[2]]).repetition == 3  # of 1.42, 1.30: the lower
    skipped = Measurement("deploy", "ai", "script", note="no script")
    assert median([skipped]) is skipped
    once = measurement("deploy", "ai", "release")
    assert medians([*three, once, skipped]) == [three[2], once, skipped]


def test_tables_show_the_median_repetition_and_targets_list_every_one():
    warm = repetitions("rollback", "backend", "release", [1.42, 1.21, 1.30])
    fe = repetitions("deploy", "frontend", "release", [2.80, 2.90])
    script = repetitions("deploy", "frontend", "script", [2.86, 2.85])
    for m in warm + fe:
        m.probes = {m.component: probes("....")}
    warm[0].probes = {"backend": probes("..x.")}  # a failed probe, not in the median one
    full = repetitions("full-deploy", None, "release", [10.0, 11.0, 9.0])
    manual = repetitions("full-deploy", None, "manual", [19.0, 20.0, 21.0])
    for m in full + manual:
        m.probes = {c: probes("....") for c in ("frontend", "backend", "ai")}
        m.expected = {c: "1.0.0" for c in ("frontend", "backend", "ai")}
    ms = warm + fe + script + full + manual
    lines = "\n".join(report.targets(ms))
    assert ("backend rollback in the warm window: 1.30 s (median of 3: 1.42, 1.21, 1.30 s) "
            "wall time (target ≤ 1.50 s: meets the target)") in lines  # fmt: skip
    assert ("`release` 2.80 s (median of 2: 2.80, 2.90 s), the manual's own script 2.85 s "
            "(median of 2: 2.86, 2.85 s) (target: no longer: meets the target)") in lines  # fmt: skip
    assert ("`full-deploy`: 10.00 s (median of 3: 10.00, 11.00, 9.00 s) = 0.50 × the `manual` "
            "strategy's 20.00 s (median of 3: 19.00, 20.00, 21.00 s) (target ≤ 0.60: meets") in lines  # fmt: skip
    # failed probes count in every repetition: 3 rollbacks and 2 deploys, one probe failed
    assert "4 of 5 measurements, every repetition (**misses the target**)" in lines
    assert "a cell measured more than once by the median of its wall times" in lines
    text = report.render(report.Meta("d", "m", "c", ["script", "manual", "release"]), SCENARIOS, ms)
    assert "**0.00 s** down · 0/4 failed<br>1.3 s · exit 0 · median of 3<br>" in text
    assert "| wall time | — | **20.0 s** · exit 0 · median of 3 | **10.0 s** · exit 0 · median of 3 |" in text  # fmt: skip
    assert "measured 3 times each, every time from a fresh reset" in text
    warm[0].run.t1 = 11.60  # the slowest one and the median one miss: the median misses
    warm[2].run.t1 = 11.55
    assert "1.55 s (median of 3: 1.60, 1.21, 1.55 s) wall time (target ≤ 1.50 s: **misses" in (
        "\n".join(report.targets(ms))
    )


def test_surprises_name_every_repetition_that_went_wrong():
    warm = repetitions("rollback", "backend", "release", [1.42, 1.21, 1.30])
    warm[0].run.rc = 1  # not the median one
    warm[1].run = None
    warm[1].note = "SSHException: timed out"
    bad = report.surprises(warm)
    assert bad[0].startswith("- `release` · rollback · backend (repetition 1 of 3): exit 1;")
    assert bad[1] == "- `release` · rollback · backend (repetition 2 of 3): SSHException: timed out"
    assert len(bad) == 2
    assert report.surprises([Measurement("deploy", "ai", "script", note="no script")]) == []


def test_only_the_cells_the_targets_compare_are_measured_again():
    from bench.deploy_bench import repeated

    ran = measurement("rollback", "backend", "release")
    assert repeated("rollback", "backend", "release", {"release": ran})
    assert not repeated("rollback", "frontend", "release", {"release": ran})
    skipped = Measurement("rollback", "backend", "release", note="no --strategy")
    assert not repeated("rollback", "backend", "release", {"release": skipped})
    assert repeated("full-deploy", None, "manual", {"manual": ran})


# -- the load beside the probers (bench/load.py) --------------------------------------------
from bench import load as ld  # noqa: E402


def reqs(latencies, t0: float = 10.0, step: float = 0.01, method="GET", name="/", error=""):
    """Requests with these latencies (ms), one every `step` seconds from t0."""
    status = 0 if error and not error.startswith("HTTP") else int(error[5:] or 0) if error else 200
    return [ld.Request(t0 + i * step, ms, method, name, status, error) for i, ms in enumerate(latencies)]  # fmt: skip


def test_percentiles_are_nearest_rank_values_that_were_measured():
    values = list(range(100, 0, -1))  # 100 … 1, unsorted
    assert [ld.percentile(values, p) for p in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert ld.percentile([7.0], 99) == 7.0 and ld.percentile([], 50) == 0.0
    assert ld.percentile([1, 2, 3], 50) == 2 and ld.percentile([1, 2, 3, 4], 50) == 2
    lat = ld.latency(reqs([5.0] * 98 + [40.0, 900.0]))
    assert (lat.n, lat.p50, lat.p95, lat.p99, lat.max) == (100, 5.0, 5.0, 40.0, 900.0)
    assert ld.latency([]) == ld.Latency(0, 0.0, 0.0, 0.0, 0.0)


def test_failed_requests_are_counted_by_method_and_why():
    mixed = (
        reqs([3] * 5)
        + reqs([4] * 3, method="POST", name="/api/notes", error="HTTP 502")
        + reqs([1], name="/api/version", error="RemoteDisconnected")
        + reqs([2], method="POST", name="/api/notes", error="HTTP 503")
    )
    assert ld.failures(mixed) == {
        "POST HTTP 502": 3,
        "GET RemoteDisconnected": 1,
        "POST HTTP 503": 1,
    }
    assert ld.failure_text(mixed) == "5: POST HTTP 502 ×3, GET RemoteDisconnected ×1, POST HTTP 503 ×1"  # fmt: skip
    assert ld.failure_text(reqs([3, 3])) == "0"


def test_an_answer_is_judged_by_its_status_and_the_version_it_shows():
    page = '<meta name="dojangkok-version" content="1.1.0">'
    assert ld.judge("GET", "/", 200, page) == ""
    assert ld.judge("GET", "/", 200, "<html>nginx default</html>") == "bad body"
    assert ld.judge("GET", "/api/version", 200, '{"version":"1.1.0"}') == ""
    assert ld.judge("GET", "/api/version", 200, "{}") == "bad body"
    assert ld.judge("GET", "/api/notes", 502, "") == "HTTP 502"
    assert ld.judge("POST", "/api/notes", 201, '{"id":1}') == ""
    assert ld.judge("POST", "/api/notes", 200, '{"id":1}') == "HTTP 200"  # created is 201


def test_a_client_error_is_named_by_its_innermost_cause():
    import http.client

    import requests
    from urllib3.exceptions import ProtocolError

    gone = http.client.RemoteDisconnected("Remote end closed connection without response")
    wrapped = requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", gone))
    assert ld.exception_kind(wrapped) == "RemoteDisconnected"
    assert ld.exception_kind(gone) == "RemoteDisconnected"  # as locust reports it, unwrapped
    try:
        try:
            raise ConnectionResetError(104, "reset")
        except OSError:
            raise requests.exceptions.ReadTimeout("read timed out") from None
    except requests.exceptions.ReadTimeout as exc:
        assert ld.exception_kind(exc) == "ReadTimeout"  # `from None` hides the reset
    loop = ValueError("a")
    loop.__context__ = loop
    assert ld.exception_kind(loop) == "ValueError"


def test_the_load_file_is_read_by_window_whole_lines_only(tmp_path):
    out = tmp_path / "load.tsv"
    a, b, c = reqs([12.5, 3.25, 8.0], step=1.0)
    out.write_text(ld.row(b) + ld.row(a) + ld.row(c)[:7])  # written as they finished
    load = ld.Load("https://cpu", None, out)
    assert load.window(0, 100) == [a, b]  # sorted by send time; the cut line waits
    with open(out, "a") as f:
        f.write(ld.row(c)[7:])
    assert load.window(10.5, 12.0) == [b, c]
    assert load.window(13, 20) == []
    assert ld.parse(
        ld.row(ld.Request(1.5, 2.0, "POST", "/api/notes", 0, "RemoteDisconnected"))
    ) == (ld.Request(1.5, 2.0, "POST", "/api/notes", 0, "RemoteDisconnected"))
    assert ld.from_rows(ld.rows([a, b])) == [a, b]
    # a request sent just before the window's end is written when it ends: the window waits
    import threading
    import time

    now = time.monotonic()
    late = ld.Request(round(now - 0.1, 4), 250.0, "GET", "/", 200)
    writer = threading.Timer(0.25, lambda: out.open("a").write(ld.row(late)))
    writer.start()
    assert ld.Load("https://cpu", None, out, settle=0.6).window(now - 1, now) == [late]
    writer.join()


def test_the_load_asks_the_site_the_prober_asks_over_https():
    assert ld.site_url("http://10.77.0.2/") == "https://10.77.0.2"
    assert ld.site_url("http://cpu.lab.test:8080/x") == "https://cpu.lab.test:8080"


def loaded(scenario="deploy", component="backend", method="release", latencies=(10.0,) * 100,
           errors=()):  # fmt: skip
    m = measurement(scenario, component, method)
    m.requests = reqs(list(latencies)) + [r for e in errors for r in reqs([2.0], error=e)]
    m.load_cpu = 0.02
    return m


def test_the_load_targets_judge_failures_p99_against_idle_and_the_max():
    idle = reqs([5.0] * 99 + [10.0])  # idle p99 5 ms: the p99 target is 15 ms
    good = loaded(latencies=[8.0] * 98 + [15.0, 499.0])
    v = ld.verdict(good.requests, ld.latency(idle))
    assert (v.failed, v.p99_ratio, v.max_ms, v.ok) == (0, 3.0, 499.0, True)
    lines = "\n".join(report.load_targets([good], idle))
    assert "0 failed requests while idle (0 of 100) and during every `release` command: 1 of 1 measurements (meets" in lines  # fmt: skip
    assert "at most 3 × the idle p99 (5 ms, so ≤ 15 ms): 1 of 1 measurements (meets" in lines
    assert "every request under 500 ms during every `release` command: 1 of 1 measurements (meets" in lines  # fmt: skip
    slow = loaded("rollback", latencies=[8.0] * 98 + [16.0, 500.0], errors=["RemoteDisconnected"])
    slow.repetition = 2
    lines = "\n".join(report.load_targets([good, slow], idle))
    assert "1 of 2 measurements (**misses the target**); missed by rollback · backend · release (repetition 2) (1: GET RemoteDisconnected ×1)" in lines  # fmt: skip
    assert "(5 ms, so ≤ 15 ms): 1 of 2 measurements (**misses the target**); missed by rollback · backend · release (repetition 2) (16 ms, 3.2 ×)" in lines  # fmt: skip
    assert "under 500 ms during every `release` command: 1 of 2 measurements (**misses the target**); missed by rollback · backend · release (repetition 2) (max 500 ms)" in lines  # fmt: skip
    failing_idle = idle + reqs([1.0], error="HTTP 502")
    assert (
        "while idle (1: GET HTTP 502 ×1 of 101) and during every `release` command: 1 of 1 measurements (**misses"
        in (  # fmt: skip
            "\n".join(report.load_targets([good], failing_idle))
        )
    )
    # only the release strategy is judged, and only with an idle baseline to compare with
    assert report.load_targets([loaded(method="manual", errors=["HTTP 502"])], idle) == []
    assert report.load_targets([good], []) == []
    assert "- load: 0 failed requests" in "\n".join(report.targets([good], idle))


def test_the_report_shows_every_measurement_under_load_against_the_idle_baseline(tmp_path):
    idle = reqs([5.0] * 99 + [10.0])
    meta = report.Meta("d", "m", "c", ["manual", "release"], load=ld.describe(),
                       idle_load=ld.rows(idle), idle_load_cpu=0.12)  # fmt: skip
    ms = [loaded(method="manual"), loaded(latencies=[8.0] * 99 + [1500.0], errors=["HTTP 502"])]
    text = report.render(meta, SCENARIOS, ms)
    assert "50 users × 2 requests/s each (100 req/s; locust `HttpUser`, keep-alive" in text
    assert "| idle (30 s) | 100 | 0 | 5 ms | 5 ms | 5 ms | 10 ms |" in text
    assert "| deploy · backend · manual | 100 | 0 | 10 ms | 10 ms | 10 ms (2.0 ×) | 10 ms |" in text
    assert "| deploy · backend · release | 101 | 1: GET HTTP 502 ×1 | 8 ms | 8 ms | 8 ms (1.6 ×) | 1.50 s |" in text  # fmt: skip
    assert "used 12% of one core while idle and 10% during the commands" in text
    assert "slowest request sent in each 100 ms" not in text  # no pictures in this run
    store.save(tmp_path / "run.json", meta, ms)
    meta2, ms2 = store.load(tmp_path / "run.json")
    assert meta2 == meta and [m.requests for m in ms2] == [m.requests for m in ms]
    assert ms2[1].load_cpu == 0.02
    quiet = report.render(report.Meta("d", "m", "c", ["release"]), SCENARIOS, ms)
    assert "Under load" not in quiet and "- load:" not in quiet  # a run without the load


def test_the_latency_strip_shows_the_slowest_request_of_each_bin():
    from bench import timeline

    rs = reqs([5.0, 40.0, 7.0], step=0.06) + reqs([900.0], t0=10.31)
    assert timeline.latency_bins(rs, 10.0) == [(0.0, 40.0), (0.1, 7.0), (pytest.approx(0.3), 900.0)]  # fmt: skip
    assert timeline.latency_height(5.0) == 0.0 and timeline.latency_height(1.0) == 0.0
    assert timeline.latency_height(2000.0) == 1.0 and timeline.latency_height(9000.0) == 1.0
    assert timeline.latency_height(100.0) == pytest.approx(0.5, abs=0.01)  # log scale


def test_the_load_process_keeps_connections_alive_and_names_what_failed(tmp_path):
    """bench/loadgen.py for real (locust, the `bench` extra) against a small keep-alive
    server that closes a connection under every third `GET /api/version`, as an nginx
    worker closing an idle keep-alive connection does, and answers 502 to every other
    POST."""
    import importlib.util

    if importlib.util.find_spec("locust") is None:  # not imported here: it patches for gevent
        pytest.skip("locust is not installed (pip install -e '.[bench]')")
    import threading
    import time
    from collections import Counter
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = {"version": 0, "post": 0, "ports": set()}

    class Site(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            seen["ports"].add(self.client_address[1])
            if self.path == "/api/version":
                seen["version"] += 1
                if seen["version"] % 3 == 0:
                    self.close_connection = True  # closed under the request, no answer
                    return
                return self.answer(200, '{"version":"1.0.0"}')
            self.answer(200, '<meta name="dojangkok-version" content="1.0.0">' if self.path == "/" else "[]")  # fmt: skip

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen["post"] += 1
            self.answer(502 if seen["post"] % 2 else 201, "{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()  # fmt: skip
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with ld.Load(base, None, tmp_path / "load.tsv", users=4, rate=5, settle=1.0) as load:
            t0 = time.monotonic()
            time.sleep(3)
            got = load.window(t0, time.monotonic())
            assert load.cpu_seconds() > 0
    finally:
        server.shutdown()
        server.server_close()
    f = ld.failures(got)
    assert set(f) == {"GET RemoteDisconnected", "POST HTTP 502"}, f
    assert 30 <= len(got) <= 66, len(got)  # 4 users × 5 req/s for 3 s (a busy machine: fewer)
    asked = Counter((r.method, r.name) for r in got)
    assert (
        asked[("GET", "/")] > asked[("POST", "/api/notes")] < asked[("GET", "/api/version")]
    )  # MIX's weights
    # keep-alive: far fewer connections than requests (a new one after each close)
    assert len(seen["ports"]) < len(got) / 2


def test_users_keep_the_rate_on_average_and_drift_out_of_step():
    """steady(): each wait is the rest of the 1/rate period the task left, within ±jitter of
    it, so the mean period is 1/rate (constant_throughput's) while phases wander."""
    import random

    clock = [100.0]
    draws = iter([0.8, 1.2, 1.0, 0.8, 1.2])
    wait = ld.steady(2.0, 0.2, clock=lambda: clock[0], draw=lambda a, b: next(draws))
    user = SimpleNamespace()
    periods, start = [], clock[0]
    for task_seconds in (0.1, 0.1, 0.1, 0.6, 0.1):  # the fourth task overruns its period
        clock[0] += task_seconds
        w = wait(user)
        clock[0] += w
        periods.append(round(clock[0] - start, 6))
        start = clock[0]
    # first wait: no task timed yet (0.5 × 0.8); then the rest of 0.5 s, jittered
    assert periods == [0.5, pytest.approx(0.1 + 0.4 * 1.2), 0.5, 0.6, pytest.approx(0.1 + 0.4 * 1.2)]  # fmt: skip
    rng = random.Random(7)
    wait = ld.steady(2.0, clock=lambda: clock[0], draw=rng.uniform)
    user, t_first = SimpleNamespace(), clock[0]
    for _ in range(2000):
        clock[0] += 0.02  # a 20 ms request
        clock[0] += wait(user)
    assert (clock[0] - t_first) / 2000 == pytest.approx(0.5, rel=0.01)  # 2 tasks/s
    lone = ld.steady(2.0, 0.0, clock=lambda: clock[0])  # no jitter: constant_throughput
    assert lone(SimpleNamespace()) == 0.5


def test_the_load_trusts_the_ca_it_is_given_and_nothing_else(site, tmp_path):
    """The load over https (loadgen.TrustOnce: one TLS context, the CA read once): the
    site's answers are read with the CA that signed its certificate; with other CAs (the
    public ones) every request fails, named by its cause."""
    import importlib.util
    import time

    import certifi

    if importlib.util.find_spec("locust") is None:
        pytest.skip("locust is not installed (pip install -e '.[bench]')")
    http_port, https_port, log, ctx, stop_https = site
    base = f"https://127.0.0.1:{https_port}"

    def run(cafile: Path, name: str):
        with ld.Load(
            base, str(cafile), tmp_path / f"{name}.tsv", users=2, rate=5, settle=1.0
        ) as load:
            t0 = time.monotonic()
            time.sleep(1.5)
            return load.window(t0, time.monotonic())

    trusted = run(tmp_path / "cert.pem", "trusted")  # the fixture's self-signed certificate
    # the fixture's server answers any GET with a version and knows no POST
    assert {r.name: r.error for r in trusted if r.method == "GET"} == {
        "/": "bad body", "/api/version": "", "/api/notes": ""
    }  # fmt: skip
    assert {r.error for r in trusted if r.method == "POST"} <= {"HTTP 501"}
    gets = sum(r.method == "GET" for r in trusted)
    assert len({port for _, _, port in log}) < gets / 2  # kept alive
    public = run(Path(certifi.where()), "public")
    assert public and {r.error for r in public} == {"SSLCertVerificationError"}


def test_the_ai_start_up_delay_reaches_the_inventory_and_the_served_env(tmp_path):
    """--ai-startup-delay: every fab run's ai_env (setup writes the .env from it) and the
    served AI's .env after each reset, for every method alike."""
    import json
    import subprocess

    from bench import methods, scenarios

    inv = tmp_path / "hosts.ini"
    inv.write_text('[gpu:vars]\nai_env={"MODEL_NAME": "lab-stub", "STARTUP_DELAY_SECONDS": "3"}\n')
    env = json.loads(methods.ai_env_with_delay(SimpleNamespace(inventory=inv), 45))
    assert env == {"MODEL_NAME": "lab-stub", "STARTUP_DELAY_SECONDS": "45"}
    (fab,) = methods.make(["release"], tmp_path, extra=(("ai_env", json.dumps(env)),))
    assert ("ai_env", json.dumps(env)) in fab.settings
    served = tmp_path / "ai.env"
    served.write_text("MODEL_NAME=lab-stub\nSTARTUP_DELAY_SECONDS=3\n")
    command = scenarios.ai_delay_command(45).replace(scenarios.AI_ENV, str(served))
    command = command.replace("&& systemctl restart fastapi", "")
    subprocess.run(["bash", "-c", command], check=True)
    assert served.read_text() == "MODEL_NAME=lab-stub\nSTARTUP_DELAY_SECONDS=45\n"
