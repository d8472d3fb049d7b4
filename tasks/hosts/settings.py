"""Every path, service name, URL and command the manual hard-codes, as a setting.

The default of each setting is the manual's value (design-step1.md, section 3). The field
notes (field-notes.md) list where the real services drifted; those are overridden per host
or per group in the inventory (``hosts.ini``), for example::

    [gpu:vars]
    ai_service=ai-server
    ai_venv=.venv

An unknown key in the inventory is an error (a typo would otherwise silently deploy with
the manual's default), and so is a dangerous value (tasks/hosts/validate.py: an empty or
relative path, a system directory as a root, a keep count that deletes what a rollback needs,
a branch git would read as an option, ...). Every value a command uses is shell-quoted or
checked against a strict pattern there, except the ``*_cmd`` settings: they are RAW SHELL on
purpose (an operator's command line, run as written on the host; ``fab settings`` marks
them). Values are parsed like Ansible does: numbers become numbers and JSON lists become
lists; everything else stays a string.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields

from tasks.errors import ConfigError
from tasks.hosts import validate

#: settings that were replaced, and what to write instead
RENAMED = {
    "backend_health_url": "write backend_port (e.g. 8080) and backend_health_path "
    "(e.g. /actuator/health) instead: health checks follow the port",
    "ai_health_url": "write ai_listen_port and ai_health_path (e.g. /health) instead",
    "backend_upstream": "nginx's upstream follows backend_port now; set that instead",
}


def _smoke(method: str, url: str, body: dict | None = None, expect: str = "", status: int = 200):
    return {"method": method, "url": url, "body": body, "expect": expect, "status": status}


@dataclass(frozen=True)
class Settings:
    # --- shared -------------------------------------------------------------------------
    git_remote: str = "origin"
    git_branch: str = "main"
    #: where the tool keeps its records and release artifacts on the host
    state_dir: str = "/var/lib/dojangkok-deploy"
    #: ssh known_hosts file checked for every host (empty: ~/.ssh/known_hosts)
    known_hosts_file: str = ""
    #: the SSH config read for each host (Host aliases, HostName, User, Port, IdentityFile,
    #: ProxyJump, ProxyCommand); empty: ~/.ssh/config and /etc/ssh/ssh_config, as ssh reads
    #: them. The inventory's ansible_* values win where both give one (tasks/hosts/connect.py)
    ssh_config_file: str = ""
    #: the account `fab setup` and `push-config` log in as for their root steps (full sudo,
    #: like `ubuntu`); setup gives the deploy login (ansible_user) only the fixed root helper.
    #: Empty: those steps run as the deploy login, which then needs full sudo
    admin_user: str = ""
    #: name of the .env key that holds the sudo password of the account that runs the root
    #: steps (admin_user, else the deploy login; empty: sudo needs none)
    sudo_password_env: str = ""
    #: seconds after which a held deploy lock is reported as stale (never broken silently)
    lock_stale_after: int = 3600

    # --- A. frontend ---------------------------------------------------------------------
    frontend_dir: str = "/app/frontend"
    #: RAW SHELL (run as written in frontend_dir, never quoted): step A2
    frontend_install_cmd: str = "npm ci"
    #: RAW SHELL (run as written in frontend_dir, never quoted): step A3
    frontend_build_cmd: str = "npm run build"
    #: build output directory, relative to frontend_dir
    frontend_build_dir: str = "build"
    web_root: str = "/var/www/dojangkok"
    #: where step 4 writes, and rollback-frontend reads, backups of the web root
    frontend_backup_dir: str = "/var/www/backup"
    frontend_backup_keep: int = 5
    #: the page check's URL, asked on the host itself (empty: https://<server_name>/, or
    #: http:// with tls=off, resolved to 127.0.0.1 with curl --resolve, the certificate verified)
    frontend_url: str = ""
    #: text the main page must contain (empty: HTTP 200 is enough)
    frontend_expect: str = ""
    frontend_page_tries: int = 3
    frontend_page_interval: int = 2
    #: RAW SHELL (run as written, as root, never quoted): A5 and push-config
    nginx_test_cmd: str = "nginx -t"
    #: RAW SHELL (run as written, as root, never quoted): A5 and push-config
    nginx_reload_cmd: str = "nginx -s reload"

    # --- B. backend ----------------------------------------------------------------------
    backend_dir: str = "/app/backend"
    backend_service: str = "dojangkok"
    #: RAW SHELL (run as written in backend_dir, never quoted): step B8
    backend_build_cmd: str = "./gradlew clean build -x test"
    #: the jar the service runs, relative to backend_dir (kept per revision for rollback)
    backend_artifact: str = "build/libs/dojangkok.jar"
    #: the backend's .env in its checkout (and shared/): a link to <env_dir>/backend.env,
    #: the file its unit reads (EnvironmentFile=)
    backend_env_file: str = ".env"
    backend_env_example: str = ".env.example"
    #: the port the backend listens on (health checks, nginx's upstream)
    backend_port: int = 8080
    #: health check: GET http://localhost:<backend_port><backend_health_path>
    backend_health_path: str = "/health"
    backend_health_expect: str = "UP"
    #: the health window is tries × interval: 2 minutes, for a slow start (the manual: 12 × 5 s);
    #: the release strategy polls every health_poll_interval within it, so a fast start costs
    #: nothing more; the step's result says how long the start took against it
    backend_health_tries: int = 24
    backend_health_interval: int = 5
    #: step 11 requests ({"method", "url" or "path", "body", "expect", "status"}; a "path" is
    #: asked of http://localhost:<backend_port>); empty: the operator is asked to test by hand
    backend_smoke: list = field(default_factory=list)
    #: RAW SHELL (run as written, never quoted): the 배포 후 error log check
    backend_log_cmd: str = "tail -100 /var/log/dojangkok/error.log"
    backend_expected_total: str = "12분"

    # --- B. MySQL backup -----------------------------------------------------------------
    db_name: str = "dojangkok"
    db_user: str = "root"
    #: name of the .env key holding the DB password (never put the value here)
    db_password_env: str = "MYSQL_ROOT_PASSWORD"
    backup_dir: str = "/app/backups"
    backup_keep: int = 10

    # --- C. AI server --------------------------------------------------------------------
    ai_dir: str = "/app/ai-server"
    ai_venv: str = "venv"
    ai_service: str = "fastapi"
    ai_requirements: str = "requirements.txt"
    #: health check: GET http://localhost:<ai_listen_port><ai_health_path>
    ai_health_path: str = "/health"
    ai_health_expect: str = "ok"
    #: 3 minutes (36 × 5 s; the manual: 6 × 5 s): a model takes its time to load (~45 s)
    ai_health_tries: int = 36
    ai_health_interval: int = 5
    ai_smoke: list = field(
        default_factory=lambda: [
            _smoke("POST", "http://localhost:8000/api/v1/analyze", {"text": "테스트 계약서 내용"})
        ]
    )

    # --- config as code (templates/) ---
    #: nginx server_name of the site: its DNS name(s), space-separated, the first one the main
    #: name ("_": any name; then tls must be off)
    server_name: str = "_"
    # --- TLS (tasks/setup/tls.py; setup's TLS step) ---
    #: "acme": certbot obtains the certificate (HTTP-01 through nginx's port 80) and its timer
    #: renews it; "provided": tls_cert and tls_key, files on the host; "off": plain HTTP, for
    #: testing only. Empty: acme when server_name is a DNS name
    tls: str = ""
    #: tls=provided: the certificate (full chain) and its key, paths on the host
    tls_cert: str = ""
    tls_key: str = ""
    #: tls=acme: the ACME directory URL (Let's Encrypt's; its staging one for trials)
    acme_server: str = "https://acme-v02.api.letsencrypt.org/directory"
    #: tls=acme: the account's e-mail (empty: registered without one)
    acme_email: str = ""
    #: tls=acme: a CA bundle on this machine that certbot trusts for acme_server (a private
    #: ACME server, e.g. the lab's); empty: the host's trust store
    acme_ca_bundle: str = ""
    #: tls=acme: certbot's name for the certificate (/etc/letsencrypt/live/<name>/)
    acme_cert_name: str = "dojangkok"
    #: tls=acme: the challenge webroot nginx serves on port 80 (root-owned)
    acme_webroot: str = "/var/lib/dojangkok-acme"
    #: request size limit: multi-page contract scans are uploaded through /api/
    client_max_body_size: str = "50m"
    hsts_max_age: int = 63072000
    #: empty: no Content-Security-Policy header (this one cannot break the SPA's scripts)
    content_security_policy: str = "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    #: the frontend build's content-hashed assets (cached for a year)
    hashed_assets_path: str = "/static/"
    proxy_read_timeout: str = "120s"
    #: the site file push-config writes; it is linked into sites-enabled
    nginx_site: str = "/etc/nginx/sites-available/dojangkok"
    #: sites-enabled entries push-config removes (the distribution's default site)
    nginx_sites_disabled: list = field(default_factory=lambda: ["default"])
    systemd_dir: str = "/etc/systemd/system"
    #: the service accounts (system users without a login) the apps run as
    backend_user: str = "dojangkok"
    ai_user: str = "dojangkok-ai"
    backend_java: str = "/usr/bin/java"
    backend_java_opts: str = "-Xms256m -Xmx512m"
    #: who may reach the backend's port (nginx and MariaDB are on the same host)
    backend_ip_allow: str = "localhost"
    ai_app: str = "app.main:app"
    ai_listen_host: str = "0.0.0.0"
    ai_listen_port: int = 8000
    #: the AI server's .env in its checkout (and shared/), where the app reads it: a link
    #: to <env_dir>/ai.env, the file its unit reads (EnvironmentFile=, optional)
    ai_env_file: str = ".env"
    #: who may reach the AI server (empty: anyone); the default is private networks
    ai_ip_allow: str = "localhost 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16"
    #: "no" if the model runtime needs writable+executable memory (a JIT)
    ai_memory_deny_write_execute: str = "yes"
    #: the GPU's device nodes the AI server may open (empty: no devices at all)
    ai_device_allow: list = field(
        default_factory=lambda: ["char-nvidia-frontend rw", "char-nvidia-uvm rw"]
    )
    #: the database's systemd unit; empty: detected on the host (mariadb or mysql)
    db_service: str = ""
    #: the config file push-config writes; empty: detected (the server's conf.d directory)
    mysql_conf: str = ""
    innodb_buffer_pool_size: str = "1G"
    db_max_connections: int = 100
    db_bind_address: str = "127.0.0.1"
    #: the application's own database account; its password is the .env key named here
    db_app_user: str = "dojangkok"
    db_app_password_env: str = "DB_PASSWORD"
    #: the services' .env files (<env_dir>/backend.env, ai.env: each unit's EnvironmentFile=):
    #: a directory only root writes, so the deploy login, who writes the files, cannot point
    #: one at another file (tasks/apps/env.py); the checkouts' .env link to them
    env_dir: str = "/etc/dojangkok/env"
    #: the backups' own database account: setup makes it with only the rights mysqldump
    #: needs on db_name; its password is the .env key named here (db_user's never reaches
    #: the deploy login: restore-db runs its one root step over admin_user's login)
    db_backup_user: str = "dojangkok_backup"
    db_backup_password_env: str = "DB_BACKUP_PASSWORD"
    #: empty swap_size: no swap file
    swap_size: str = "4G"
    swap_file: str = "/swapfile"

    # --- zero to serving (tasks/procedures/setup*.py, detect.py, preconditions.py, drift.py) ---
    # `fab setup` takes a bare host to serving; deploys check what they rely on first.
    #: each component's git origin: setup clones it, every deploy checks the checkout's origin
    #: (empty: setup cannot clone; deploys only check that the checkout is a git repository;
    #: a local build is refused: build_on=local fetches from here and nowhere else)
    frontend_repo: str = ""
    backend_repo: str = ""
    ai_repo: str = ""
    #: a deploy key for the repo over ssh: a private key file on this machine, uploaded 0600
    #: to the host and used by git there (empty: none; the host's own keys or a public repo)
    frontend_deploy_key: str = ""
    backend_deploy_key: str = ""
    ai_deploy_key: str = ""
    #: the git host's keys, a known_hosts file on this machine (e.g. from `ssh-keyscan
    #: github.com`, fingerprints checked); empty: the host's own known_hosts. Always checked.
    git_known_hosts: str = ""
    #: the app's .env, written by setup with exactly the keys of its .env.example: the values
    #: that are no secret here ({"KEY": "value"}); "${NAME}" takes NAME from the operator's
    #: .env (secrets never go in the inventory). A key with no value is named, nothing written.
    frontend_env: dict = field(default_factory=dict)
    backend_env: dict = field(default_factory=lambda: {"DB_PASSWORD": "${DB_PASSWORD}"})
    ai_env: dict = field(default_factory=dict)
    #: where a component tells the version it serves (empty: not checked), asked on its host;
    #: *_version_match: "json:<field>" (a JSON answer) or "regex:<pattern with one group>"
    frontend_version_url: str = ""
    frontend_version_match: str = "json:version"
    backend_version_url: str = ""
    backend_version_match: str = "json:version"
    ai_version_url: str = ""
    ai_version_match: str = "json:version"
    #: systemd LogsDirectory= / StateDirectory= (a name under /var/log, /var/lib; empty: none):
    #: made by systemd, owned by the service user, writable despite ProtectSystem=strict
    backend_logs_directory: str = "dojangkok"
    backend_state_directory: str = ""
    ai_logs_directory: str = ""
    ai_state_directory: str = ""
    #: other paths the service writes (ReadWritePaths=; relative: inside its checkout, e.g. a
    #: local vector store, strategy=manual only); setup makes them, owned by the service user
    backend_writable_paths: list = field(default_factory=list)
    ai_writable_paths: list = field(default_factory=list)
    #: ProcSubset=pid hides /proc/cpuinfo, /proc/meminfo, ...: ML runtimes (torch, numpy's
    #: BLAS, onnxruntime) read them, so the AI server gets "all"; "pid" is the stricter one
    backend_proc_subset: str = "pid"
    ai_proc_subset: str = "all"
    #: the database server (empty: detected on the host: "mariadb" or "mysql")
    db_server: str = ""
    #: the python that makes the AI venv (empty: detected, the host's python3)
    ai_python: str = ""
    #: how the nginx site turns HTTP/2 on: "directive" (`http2 on;`, nginx ≥ 1.25.1) or
    #: "listen" (`listen 443 ssl http2`, older nginx); empty: detected from the host's nginx
    nginx_http2: str = ""
    #: packages setup makes sure of (empty: detected from the distribution and the host's role)
    host_packages: list = field(default_factory=list)

    # --- the firewall (tasks/setup/firewall.py; setup's last step) ------------------
    #: "on": setup applies the tool's own nftables table (inet dojangkok): only SSH in, and on
    #: cpu 80/443; on gpu the AI ports only from ai_allow_from; "off": setup removes that table
    firewall: str = "on"
    #: who may open SSH connections (IP addresses or networks, e.g. ["203.0.113.0/24"]);
    #: empty: anyone. setup refuses a list that leaves out its own connection
    ssh_allow_from: list = field(default_factory=list)
    #: who may reach the AI server's ports on the GPU host (ai_listen_port, ai_ports);
    #: empty: the address of the inventory's [cpu] host (an IP address there)
    ai_allow_from: list = field(default_factory=list)

    # --- the release strategy (tasks/procedures/release*.py) ----------------------------
    #: how deploy and rollback tasks work unless --strategy says otherwise:
    #: "release" (build beside the running version, switch when healthy) or "manual"
    strategy: str = "release"
    #: <releases_root>/<component>/{releases/<run id>-<sha>, shared, current}
    releases_root: str = "/app/releases"
    #: releases kept per component (never the current one or the one before it)
    releases_keep: int = 5
    #: the backend's blue/green ports behind nginx's upstream (one instance each)
    backend_ports: list = field(default_factory=lambda: [8081, 8082])
    #: seconds the old backend instance stays running after a switch: a rollback within
    #: this window is a switch back, with no start-up
    backend_keep_warm: int = 600
    #: seconds a stopping backend lets its requests in flight finish (Spring Boot's
    #: server.shutdown=graceful and spring.lifecycle.timeout-per-shutdown-phase, passed by
    #: the units; their TimeoutStopSec follows): a switch's old instance, a restart, a stop.
    #: 120 s: nginx's proxy_read_timeout ends a request through it by then anyway
    backend_drain_timeout: int = 120
    #: the upstream nginx proxies /api/ to (included by the site): the switch port below
    nginx_upstream_file: str = "/etc/nginx/dojangkok-upstream.conf"
    #: the local port nginx's upstream names; a switch sends new connections to it to the
    #: live instance (an nftables table: no nginx reload). Nothing may listen on it
    backend_switch_port: int = 8090
    #: health checks poll this often (seconds); the manual's tries × interval stay the limit
    health_poll_interval: float = 0.2
    #: AI server: "auto" (blue-green when the host can hold two instances: no GPU, or
    #: nvidia-smi shows more free memory than ai_gpu_memory_mb; else a restart that drains
    #: first; each deploy and rollback says which and why), "restart" (build the new venv
    #: beside the old one, then a health-gated restart) or "blue-green" (two instances behind
    #: nginx on the GPU host; the GPU must hold two copies of the model: ai_gpu_memory_mb)
    ai_switch: str = "auto"
    ai_ports: list = field(default_factory=lambda: [8001, 8002])
    #: blue/green: the upstream nginx on the GPU host proxies ai_listen_port to
    ai_upstream_file: str = "/etc/nginx/dojangkok-ai-upstream.conf"
    #: blue/green: the local port that upstream names (as backend_switch_port)
    ai_switch_port: int = 8003
    #: blue/green: the proxy's own config (conf.d is included by the distribution's nginx)
    ai_proxy_conf: str = "/etc/nginx/conf.d/dojangkok-ai.conf"
    #: blue/green: seconds the old AI instance stays running after a switch (GPU memory)
    ai_keep_warm: int = 60
    #: seconds a stopping AI server lets its requests in flight finish (uvicorn's
    #: --timeout-graceful-shutdown; the units' TimeoutStopSec follows): the manual's SLA
    #: for an AI request, 5 minutes
    ai_drain_timeout: int = 300
    #: the GPU memory (MiB) one AI instance needs; blue/green is refused when nvidia-smi
    #: reports less free memory than that (0: no check)
    ai_gpu_memory_mb: int = 0

    # --- where builds run: the manual's two methods (§1 배포 방식; tasks/localbuild/) ---------
    #: "host" (1: build on the target server) or "local" (2: build here, send the files);
    #: per component with the three settings below (empty: this one); --build-on wins
    build_on: str = "host"
    frontend_build_on: str = ""
    backend_build_on: str = ""
    ai_build_on: str = ""
    #: build_on=local: the tool's own clean checkouts and builds (never your working tree)
    build_work_dir: str = "~/.cache/dojangkok-deploy"
    # (build_on=local fetches from <component>_repo alone, which the host's checkout must
    # name exactly: tasks/localbuild/origin.py)

    # ---------------------------------------------------------------------------------
    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def from_vars(cls, values: dict[str, object], where: str = "inventory") -> Settings:
        """Build settings from inventory variables, checking names and types."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, object] = {}
        for key, raw in values.items():
            if key.startswith("ansible_"):
                continue
            if key in RENAMED:
                raise ConfigError(f"setting {key!r} in {where} is gone", RENAMED[key])
            if key not in known:
                raise ConfigError(
                    f"unknown setting {key!r} in {where}",
                    "check the spelling; `fab settings` lists every setting and its default",
                )
            kwargs[key] = _coerce(known[key], raw, where)
        settings = cls(**kwargs)
        # each value's own rules here (naming the inventory line); the rules about settings
        # together run in every task's preflight (validate.settings)
        validate.fields(settings, kwargs, where)
        return settings

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(f: dataclasses.Field, raw: object, where: str) -> object:
    default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
    if isinstance(default, dict):
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"setting {f.name} in {where} must be a JSON object: {exc}",
                'e.g. {"SERVER_PORT": "8080"}',
            ) from None
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(
                f"setting {f.name} in {where} must be a JSON object", "wrap it in { }"
            )
        return {k: str(v) for k, v in value.items()}
    if isinstance(default, bool) or isinstance(raw, type(default)):
        return raw
    if isinstance(default, float):
        try:
            return float(str(raw))
        except ValueError:
            raise ConfigError(
                f"setting {f.name} in {where} must be a number, got {raw!r}",
                "write it without quotes or units, e.g. 0.5",
            ) from None
    if isinstance(default, int):
        try:
            return int(str(raw))
        except ValueError:
            raise ConfigError(
                f"setting {f.name} in {where} must be a whole number, got {raw!r}",
                "write it without quotes or units, e.g. 12",
            ) from None
    if isinstance(default, list):
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"setting {f.name} in {where} must be a JSON list: {exc}",
                'e.g. [{"method": "GET", "url": "http://localhost:8080/api/notes"}]',
            ) from None
        if not isinstance(value, list):
            raise ConfigError(f"setting {f.name} in {where} must be a JSON list", "wrap it in [ ]")
        return value
    return str(raw)
