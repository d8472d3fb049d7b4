"""Local tests of the sample apps in tests/apps (no lab): build, run and break each one.

Every test works on a temporary copy, so nothing is built inside tests/apps.
Set DOJANGKOK_TEST_DB_URL (and DOJANGKOK_TEST_DB_USER / DOJANGKOK_TEST_DB_PASSWORD) to a
reachable MariaDB to also exercise the backend's notes API against a real database.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parent / "apps"
BUILD_OUTPUT = ("build", "node_modules", "venv", "__pycache__", ".gradle", "*.class")

needs_npm = pytest.mark.skipif(
    shutil.which("npm") is None or shutil.which("node") is None,
    reason="node/npm not installed: cannot build the frontend sample app",
)
needs_jdk = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("javac", "jar", "java")),
    reason="JDK (javac, jar, java) not installed: cannot build the backend sample app",
)
needs_fastapi = pytest.mark.skipif(
    importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None,
    reason="fastapi/uvicorn not installed in this interpreter: "
    "pip install -r tests/apps/ai/requirements.txt",
)


# --------------------------------------------------------------------------- helpers


def copy_app(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(APPS / name, target, ignore=shutil.ignore_patterns(*BUILD_OUTPUT))
    return target


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        cmd,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http(method: str, url: str, body: object | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, raw.decode(errors="replace")


class Server:
    """A sample app running as a child process, its output going to a log file."""

    def __init__(self, cmd: list[str], cwd: Path, env: dict[str, str], port: int):
        self.port = port
        self.log_path = cwd.parent / f"{cwd.name}-{port}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for_log(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.log}"
            assert time.monotonic() < deadline, f"no {text!r} in the log:\n{self.log}"
            time.sleep(0.05)

    def wait_until_listening(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.log}"
            assert time.monotonic() < deadline, f"port {self.port} never opened:\n{self.log}"
            time.sleep(0.05)

    def wait_exit(self, timeout: float = 20) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running after {timeout}s:\n{self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


# --------------------------------------------------------------------------- all apps


@pytest.mark.parametrize("name", ["frontend", "backend", "ai"])
def test_app_layout(name: str) -> None:
    app = APPS / name
    assert (app / "VERSION").read_text().strip() == "1.0.0"
    readme = (app / "README.md").read_text()
    assert "BREAK" in readme
    assert 3 <= len(readme.strip().splitlines()) <= 8
    ignored = (app / ".gitignore").read_text().split()
    assert ".env" in ignored
    assert not (app / ".env").exists()
    assert not (app / "BREAK").exists()


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("frontend", {"REACT_APP_API_URL"}),
        ("backend", {"DB_URL", "DB_USER", "DB_PASSWORD", "SERVER_PORT", "AI_SERVER_URL"}),
        ("ai", {"MODEL_NAME", "LOG_DIR", "VECTOR_STORE_DIR", "STARTUP_DELAY_SECONDS"}),
    ],
)
def test_env_example_has_keys_without_values(name: str, keys: set[str]) -> None:
    lines = (APPS / name / ".env.example").read_text().splitlines()
    pairs = dict(line.split("=", 1) for line in lines if line.strip())
    assert set(pairs) == keys
    assert all(value == "" for value in pairs.values())


# --------------------------------------------------------------------------- frontend


def test_frontend_package_files_need_no_registry() -> None:
    app = APPS / "frontend"
    package = json.loads((app / "package.json").read_text())
    lock = json.loads((app / "package-lock.json").read_text())
    assert package["scripts"]["build"] == "node scripts/build.js"
    assert not any(key.endswith("ependencies") for key in package)
    assert lock["lockfileVersion"] == 3
    assert (lock["name"], lock["version"]) == (package["name"], package["version"])
    assert list(lock["packages"]) == [""]
    npmrc = (app / ".npmrc").read_text().split()
    assert {"audit=false", "fund=false", "update-notifier=false"} <= set(npmrc)


@pytest.fixture
def frontend(tmp_path: Path) -> Path:
    """A copy of the frontend after `npm ci`, run offline against an unreachable registry."""
    app = copy_app("frontend", tmp_path)
    result = run(
        ["npm", "ci", "--offline"],
        app,
        env={
            "npm_config_registry": "http://127.0.0.1:9/",
            "npm_config_cache": str(tmp_path / "npm-cache"),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return app


def npm_build(app: Path, env: dict[str, str] | None = None):
    return run(["npm", "run", "build"], app, env={"REACT_APP_API_URL": "", **(env or {})})


def assert_hashed(build: Path, href: str, ext: str) -> str:
    match = re.fullmatch(rf"/static/{ext}/main\.([0-9a-f]{{8}})\.{ext}", href)
    assert match, href
    content = (build / href.lstrip("/")).read_bytes()
    assert hashlib.sha256(content).hexdigest()[:8] == match.group(1)
    return content.decode()


@needs_npm
def test_frontend_build(frontend: Path) -> None:
    result = npm_build(frontend, {"REACT_APP_API_URL": "http://api.lab.test/"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Compiled successfully" in result.stdout
    build = frontend / "build"
    html = (build / "index.html").read_text()
    assert '<meta name="dojangkok-version" content="1.0.0"' in html
    assert "dojangkok frontend 1.0.0" in html
    (script,) = re.findall(r'<script[^>]* src="([^"]+)"', html)
    (style,) = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    js = assert_hashed(build, script, "js")
    assert_hashed(build, style, "css")
    assert 'const API_URL = "http://api.lab.test";' in js
    assert not (frontend / "node_modules").exists() or not any(
        (frontend / "node_modules").iterdir()
    )


@needs_npm
def test_frontend_rebuild_cleans_and_restamps(frontend: Path) -> None:
    assert npm_build(frontend).returncode == 0
    old_assets = set((frontend / "build" / "static" / "js").iterdir())
    (frontend / "build" / "stale.txt").write_text("left over")
    (frontend / "VERSION").write_text("1.1.0\n")
    result = npm_build(frontend)
    assert result.returncode == 0, result.stderr
    html = (frontend / "build" / "index.html").read_text()
    assert "dojangkok frontend 1.1.0" in html and 'content="1.1.0"' in html
    assert not (frontend / "build" / "stale.txt").exists()
    new_assets = set((frontend / "build" / "static" / "js").iterdir())
    assert len(new_assets) == 1 and new_assets != old_assets


@needs_npm
def test_frontend_break_build_fails_and_writes_nothing(frontend: Path) -> None:
    (frontend / "BREAK").write_text("build\n")
    result = npm_build(frontend)
    assert result.returncode == 1
    assert "Failed to compile" in result.stderr and "BREAK=build" in result.stderr
    assert not (frontend / "build").exists()


@needs_npm
def test_frontend_break_health_builds_without_index(frontend: Path) -> None:
    (frontend / "BREAK").write_text(" health \n")
    result = npm_build(frontend)
    assert result.returncode == 0, result.stderr
    assert not (frontend / "build" / "index.html").exists()
    assert list((frontend / "build" / "static" / "js").glob("main.*.js"))


@needs_npm
def test_frontend_ignores_other_break_values(frontend: Path) -> None:
    (frontend / "BREAK").write_text("start\n")
    assert npm_build(frontend).returncode == 0
    assert (frontend / "build" / "index.html").is_file()


# --------------------------------------------------------------------------- backend


def test_gradlew_is_executable() -> None:
    gradlew = APPS / "backend" / "gradlew"
    assert gradlew.read_text().startswith("#!/bin/sh\n")
    assert gradlew.stat().st_mode & 0o777 == 0o755


def gradlew(app: Path, *args: str):
    return run(["./gradlew", *args], app, timeout=120)


def build_backend(tmp_path: Path, version: str | None = None, break_mode: str | None = None):
    app = copy_app("backend", tmp_path)
    if version:
        (app / "VERSION").write_text(version + "\n")
    if break_mode:
        (app / "BREAK").write_text(break_mode + "\n")
    result = gradlew(app, "clean", "build", "-x", "test")
    return app, result


def jar_of(app: Path) -> Path:
    return app / "build" / "libs" / "dojangkok.jar"


@pytest.fixture(scope="module")
def backend_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if any(shutil.which(tool) is None for tool in ("javac", "jar", "java")):
        pytest.skip("JDK (javac, jar, java) not installed")
    app, result = build_backend(tmp_path_factory.mktemp("backend"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "> Task :compileJava" in result.stdout
    assert re.search(r"^BUILD SUCCESSFUL in \d+s$", result.stdout, re.M), result.stdout
    return jar_of(app)


def start_backend(
    servers: list[Server],
    jar: Path,
    delay: str = "0",
    db_url: str | None = None,
    args: tuple[str, ...] = (),
    **env: str,
) -> Server:
    port = free_port()
    server = Server(
        ["java", "-jar", str(jar), *args],
        jar.parent,
        {
            "SERVER_PORT": str(port),
            "STARTUP_DELAY_SECONDS": delay,
            # Nothing listens there: the backend must run and report DOWN.
            "DB_URL": f"jdbc:mariadb://127.0.0.1:{free_port()}/dojangkok"
            if db_url is None
            else db_url,
            **env,
        },
        port,
    )
    servers.append(server)
    return server


@needs_jdk
def test_backend_jar_manifest_and_resources(backend_jar: Path) -> None:
    with zipfile.ZipFile(backend_jar) as jar:
        manifest = jar.read("META-INF/MANIFEST.MF").decode()
        names = set(jar.namelist())
        assert jar.read("dojangkok/VERSION").decode().strip() == "1.0.0"
    assert "Main-Class: kr.dojangkok.DojangkokApplication" in manifest
    assert "Class-Path: /usr/share/java/mariadb-java-client.jar" in manifest
    assert "dojangkok/BREAK" not in names
    assert "kr/dojangkok/DojangkokApplication.class" in names


@needs_jdk
def test_backend_runs_without_db(backend_jar: Path, servers: list[Server]) -> None:
    server = start_backend(servers, backend_jar)
    server.wait_until_listening()
    assert http("GET", server.url("/api/version")) == (200, {"version": "1.0.0"})
    assert http("GET", server.url("/health")) == (503, {"status": "DOWN"})
    assert http("GET", server.url("/actuator/health")) == (503, {"status": "DOWN"})
    status, body = http("GET", server.url("/api/notes"))
    assert status == 503 and "database" in body["error"]
    assert http("POST", server.url("/api/notes"), {"txt": "x"})[0] == 400
    assert http("POST", server.url("/api/notes"), {"text": "x"})[0] == 503
    assert http("GET", server.url("/nope"))[0] == 404
    assert "Database unavailable" in server.log

    server.proc.send_signal(signal.SIGTERM)
    # The JVM exits 128+15 after its shutdown hooks ran, as Spring Boot does.
    assert server.wait_exit() in (0, 143)
    assert "Shutting down" in server.log and "Shutdown complete" in server.log


@needs_jdk
def test_backend_calls_the_ai_server(
    backend_jar: Path, servers: list[Server], tmp_path: Path
) -> None:
    """As the team's backend: AI_SERVER_URL's /health asked on each call; 502 with the cause
    when it cannot be reached, 503 when none is set."""
    (tmp_path / "health").write_text('{"status":"ok"}')
    port = free_port()
    ai = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                          cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        server = start_backend(servers, backend_jar, AI_SERVER_URL=f"http://127.0.0.1:{port}")
        server.wait_until_listening()
        for _ in range(50):  # the stand-in AI server is starting too
            status, body = http("GET", server.url("/api/ai/health"))
            if status == 200:
                break
            time.sleep(0.1)
        assert (status, body) == (200, {"status": "ok"})
    finally:
        ai.terminate()
        ai.wait(10)
    status, body = http("GET", server.url("/api/ai/health"))
    assert status == 502 and "cannot reach the AI server" in body["error"]
    assert "cannot reach the AI server" in server.log
    unset = start_backend(servers, backend_jar)
    unset.wait_until_listening()
    assert http("GET", unset.url("/api/ai/health")) == (503, {"error": "AI_SERVER_URL is not set"})


def in_thread(method: str, url: str) -> tuple[threading.Thread, list]:
    """A request made in a thread; its (status, body) lands in the list, or the error that
    ended it (a request a bounded shutdown cuts off)."""
    got: list = []

    def call() -> None:
        try:
            got.append(http(method, url))
        except OSError as exc:
            got.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, got


@needs_jdk
def test_backend_graceful_shutdown_lets_a_request_in_flight_finish(
    backend_jar: Path, servers: list[Server]
) -> None:
    """Spring Boot's server.shutdown=graceful, as the units pass it: on SIGTERM no new
    connection, the request in flight answers, then the JVM exits; the timeout bounds it."""
    graceful = ("--server.shutdown=graceful", "--spring.lifecycle.timeout-per-shutdown-phase=20s")
    server = start_backend(servers, backend_jar, args=graceful)
    server.wait_until_listening()
    assert http("GET", server.url("/api/slow?seconds=601"))[0] == 400
    assert http("GET", server.url("/api/slow?seconds=x"))[0] == 400
    assert http("GET", server.url("/api/slow?seconds=0.1")) == (
        200, {"slept": 0.1, "version": "1.0.0"},
    )  # fmt: skip
    thread, got = in_thread("GET", server.url("/api/slow?seconds=2"))
    time.sleep(0.5)
    server.proc.send_signal(signal.SIGTERM)
    server.wait_for_log("Commencing graceful shutdown")
    assert not port_open(server.port)  # no new connection while it drains
    thread.join(10)
    assert got == [(200, {"slept": 2.0, "version": "1.0.0"})]
    assert server.wait_exit() in (0, 143)
    assert (
        "(1 in flight, at most 20.0s)" in server.log and "Graceful shutdown complete" in server.log
    )

    bounded = start_backend(servers, backend_jar, args=(graceful[0],),
                            SPRING_LIFECYCLE_TIMEOUTPERSHUTDOWNPHASE="1s")  # fmt: skip
    bounded.wait_until_listening()
    thread, got = in_thread("GET", bounded.url("/api/slow?seconds=30"))
    time.sleep(0.5)
    started = time.monotonic()
    bounded.proc.send_signal(signal.SIGTERM)
    assert bounded.wait_exit() in (0, 143) and time.monotonic() - started < 5
    assert "Graceful shutdown aborted with one or more requests still active" in bounded.log
    thread.join(10)
    assert len(got) == 1 and isinstance(got[0], OSError)  # cut off, never answered


@needs_jdk
def test_backend_port_closed_during_startup_delay(backend_jar: Path, servers: list[Server]) -> None:
    server = start_backend(servers, backend_jar, delay="2")
    server.wait_for_log("Initializing application context")
    assert not port_open(server.port)
    server.wait_until_listening()
    assert http("GET", server.url("/api/version"))[0] == 200


@needs_jdk
def test_backend_spring_style_env_fallback(backend_jar: Path, servers: list[Server]) -> None:
    url = f"jdbc:mariadb://127.0.0.1:{free_port()}/springstyle"
    server = start_backend(servers, backend_jar, db_url="", SPRING_DATASOURCE_URL=url)
    server.wait_until_listening()
    assert f"Database unavailable at {url}" in server.log


@needs_jdk
def test_backend_break_health_and_version_are_baked(tmp_path: Path, servers: list[Server]) -> None:
    app, result = build_backend(tmp_path, version="2.3.4", break_mode="health")
    assert result.returncode == 0, result.stdout + result.stderr
    # The artifact carries its version and fault: the source files no longer matter.
    (app / "VERSION").write_text("9.9.9\n")
    (app / "BREAK").unlink()
    server = start_backend(servers, jar_of(app))
    server.wait_until_listening()
    assert http("GET", server.url("/api/version")) == (200, {"version": "2.3.4"})
    for _ in range(3):
        assert http("GET", server.url("/health")) == (503, {"status": "DOWN"})
    assert "BREAK=health" in server.log


@needs_jdk
def test_backend_break_start_exits_1(tmp_path: Path, servers: list[Server]) -> None:
    app, result = build_backend(tmp_path, break_mode="start")
    assert result.returncode == 0, result.stdout + result.stderr
    server = start_backend(servers, jar_of(app))
    assert server.wait_exit() == 1
    assert "BREAK=start" in server.log
    assert not port_open(server.port)


@needs_jdk
def test_backend_break_build_fails_without_jar(tmp_path: Path) -> None:
    app = copy_app("backend", tmp_path)
    (app / "BREAK").write_text("build\n")
    stale = jar_of(app)
    stale.parent.mkdir(parents=True)
    stale.write_text("stale jar from an earlier build")
    result = gradlew(app, "build", "-x", "test")
    assert result.returncode == 1
    assert "BUILD FAILED" in result.stdout
    assert not stale.exists()


def test_gradlew_arguments(tmp_path: Path) -> None:
    app = copy_app("backend", tmp_path)
    assert gradlew(app).returncode != 0
    result = gradlew(app, "bootRun")
    assert result.returncode != 0 and "bootRun" in result.stderr
    assert gradlew(app, "build", "-x").returncode != 0
    (app / "build" / "libs").mkdir(parents=True)
    result = gradlew(app, "clean")
    assert result.returncode == 0 and "> Task :clean" in result.stdout
    assert not (app / "build").exists()


DB_URL = os.environ.get("DOJANGKOK_TEST_DB_URL", "")


@needs_jdk
@pytest.mark.skipif(not DB_URL, reason="DOJANGKOK_TEST_DB_URL not set: no MariaDB to test with")
def test_backend_notes_with_db(backend_jar: Path, servers: list[Server]) -> None:
    server = start_backend(
        servers,
        backend_jar,
        db_url=DB_URL,
        DB_USER=os.environ.get("DOJANGKOK_TEST_DB_USER", "dojangkok"),
        DB_PASSWORD=os.environ.get("DOJANGKOK_TEST_DB_PASSWORD", ""),
    )
    server.wait_until_listening()
    assert http("GET", server.url("/health")) == (200, {"status": "UP"})
    text = f'note "{time.time()}"\n한글'
    status, note = http("POST", server.url("/api/notes"), {"text": text})
    assert status == 201 and note["text"] == text and isinstance(note["id"], int)
    status, notes = http("GET", server.url("/api/notes"))
    assert status == 200 and note in notes


# --------------------------------------------------------------------------- ai


def test_ai_requirements_are_exact_pins() -> None:
    lines = [
        line.strip()
        for line in (APPS / "ai" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = dict(line.split("==") for line in lines)
    assert set(pins) == {"fastapi", "uvicorn"}
    assert all(re.fullmatch(r"\d+(\.\d+)+", version) for version in pins.values())


def start_ai(servers: list[Server], app: Path, delay: str = "0", *args: str) -> Server:
    port = free_port()
    server = Server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *args,
        ],
        app,
        {"STARTUP_DELAY_SECONDS": delay, "PYTHONDONTWRITEBYTECODE": "1"},
        port,
    )
    servers.append(server)
    return server


@needs_fastapi
def test_ai_endpoints(tmp_path: Path, servers: list[Server]) -> None:
    app = copy_app("ai", tmp_path)
    server = start_ai(servers, app, delay="1.5")
    server.wait_for_log("Loading model")
    assert not port_open(server.port)
    server.wait_until_listening()
    assert http("GET", server.url("/health")) == (200, {"status": "ok", "version": "1.0.0"})

    text = "보증금 1억원, 근저당 설정 있음. 특약 사항은 별지 참조."
    status, first = http("POST", server.url("/api/v1/analyze"), {"text": text})
    assert status == 200
    assert first["version"] == "1.0.0"
    assert first["summary"] == "보증금 1억원, 근저당 설정 있음"
    assert [risk["level"] for risk in first["risks"]] == ["high", "medium", "low"]
    assert http("POST", server.url("/api/v1/analyze"), {"text": text}) == (200, first)
    assert http("POST", server.url("/api/v1/analyze"), {"text": ""})[0] == 422
    assert http("POST", server.url("/api/v1/analyze"), {"body": "x"})[0] == 422
    assert http("POST", server.url("/api/v1/analyze"), {"text": 5})[0] == 422

    status, body = http(
        "POST", server.url("/api/checklists/sync"), {"keywords": ["deposit", "Deposit", "pets"]}
    )
    assert status == 200
    assert [item["keyword"] for item in body["items"]] == ["deposit", "pets"]
    assert all(item["item"] and item["checked"] is False for item in body["items"])
    assert http("POST", server.url("/api/checklists/sync"), {"keywords": "x"})[0] == 422

    server.proc.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal (systemd counts that as clean).
    assert server.wait_exit() in (0, -signal.SIGTERM)
    assert "Shutting down dojangkok AI 1.0.0" in server.log


@needs_fastapi
def test_ai_lets_a_slow_request_finish_when_stopped(tmp_path: Path, servers: list[Server]) -> None:
    """uvicorn's --timeout-graceful-shutdown, as the units pass it: the request in flight at
    SIGTERM answers; /slow is bounded."""
    app = copy_app("ai", tmp_path)
    server = start_ai(servers, app, "0", "--timeout-graceful-shutdown", "20")
    server.wait_until_listening()
    assert http("GET", server.url("/slow?seconds=601"))[0] == 422
    thread, got = in_thread("GET", server.url("/slow?seconds=2"))
    time.sleep(0.5)
    server.proc.send_signal(signal.SIGTERM)
    thread.join(10)
    assert got == [(200, {"slept": 2.0, "version": "1.0.0"})]
    assert server.wait_exit() in (0, -signal.SIGTERM)


@needs_fastapi
def test_ai_break_health(tmp_path: Path, servers: list[Server]) -> None:
    app = copy_app("ai", tmp_path)
    (app / "BREAK").write_text("health\n")
    (app / "VERSION").write_text("1.2.0\n")
    server = start_ai(servers, app)
    server.wait_until_listening()
    assert http("GET", server.url("/health")) == (503, {"status": "error"})
    assert http("POST", server.url("/api/v1/analyze"), {"text": "x"})[1]["version"] == "1.2.0"


@needs_fastapi
def test_ai_break_start_exits_1(tmp_path: Path, servers: list[Server]) -> None:
    app = copy_app("ai", tmp_path)
    (app / "BREAK").write_text("start\n")
    server = start_ai(servers, app)
    assert server.wait_exit() == 1
    assert "BREAK=start" in server.log


@needs_fastapi
def test_ai_reads_its_own_env_and_writes_its_files(tmp_path: Path, servers: list[Server]) -> None:
    app = copy_app("ai", tmp_path)
    logs, store = tmp_path / "logs", app / "vector_store"
    logs.mkdir()
    (app / ".env").write_text(f"MODEL_NAME=from-dotenv\nLOG_DIR={logs}\nVECTOR_STORE_DIR={store}\n")
    server = start_ai(servers, app)
    server.wait_until_listening()
    assert "model from-dotenv" in server.log
    assert "Model loaded; dojangkok AI 1.0.0 ready" in (logs / "app.log").read_text()
    assert json.loads((store / "index.json").read_text()) == {"version": "1.0.0"}


@needs_fastapi
def test_ai_stops_when_it_cannot_write_its_log(tmp_path: Path, servers: list[Server]) -> None:
    app = copy_app("ai", tmp_path)
    (app / ".env").write_text(f"LOG_DIR={tmp_path / 'no-such-dir'}\n")
    server = start_ai(servers, app)
    assert server.wait_exit() == 1
    assert "Start-up failed" in server.log and "no-such-dir" in server.log
