"""Every setting, declared once: its default, its rule, its description, its group.

Every path, service name, URL and command the manual hard-codes is a setting; its default is
the manual's value (design-step1.md, section 3). The field notes (field-notes.md) list where
the real services drifted; those are overridden per host or per group in the inventory
(``hosts.ini``), for example::

    [gpu:vars]
    ai_service=ai-server
    ai_venv=.venv

Each field below is one call of its group: ``BACKEND("/app/backend", root_dir, "...")`` is the
default, the check of its value (tasks/hosts/values.py) and a one-line Korean description
(what ``fab settings`` prints). Three kinds take no check beyond "one line of text":
``SHELL``, the ``*_cmd`` settings, RAW SHELL on purpose (an operator's command line, run as
written on the host, never quoted; ``fab settings`` marks them); ``TEXT``, shell-quoted
wherever a command uses it (or read by the tool only); ``TEMPLATE``, rendered into a config
file (templates/), never into a command. Every other value a command uses is shell-quoted or
checked against a strict pattern by its rule.

Groups: the settings of one app (``frontend``, ``backend``, ``ai``), of the database (``db``)
and of where builds run (``build``) are read through a view: ``s.backend.dir`` is
``s.backend_dir`` (the same object), ``s.app(name)`` the view of a group named in a variable.
A view also reaches the few fields of its group without the prefix (``s.frontend.web_root``,
``s.db.backup_dir``). The other groups (common, site, host, release) are read flat.

An unknown name in the inventory is an error (a typo would otherwise silently deploy with the
manual's default): :func:`check_name` is that one check, and says what replaced a renamed
setting. A dangerous value is an error too (an empty or relative path, a system directory as
a root, a keep count that deletes what a rollback needs, a branch git would read as an
option, ...); the rules about settings together (a web root holding the checkouts, ...) are in
tasks/hosts/validate.py. Values are parsed like Ansible does: numbers become numbers and JSON
lists become lists; everything else stays a string.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from tasks.errors import ConfigError
from tasks.hosts import values as checks
from tasks.hosts.values import (
    Rule,
    _texts,
    absolute_path,
    branch,
    cert_name,
    choice,
    each,
    email,
    env_key,
    env_values,
    file_name,
    git_origin,
    https_url,
    keep,
    local_dir,
    networks,
    one_line,
    optional,
    package,
    port,
    port_pair,
    positive,
    python_command,
    relative_path,
    root_dir,
    smoke_requests,
    subdir,
    systemd_dir_name,
    unit_name,
    url,
    url_path,
    user_name,
    version_match,
    writable_path,
)

__all__ = [
    "FREE_TEXT", "GROUPS", "LOGIN", "LOGIN_DIRS", "RAW_SHELL", "RENAMED", "ROOT", "ROOT_PATHS",
    "RULES", "SPECS", "TEMPLATE_ONLY", "VIEWS", "Group", "Renamed", "Settings", "Spec", "View",
    "check_fields", "check_name", "python_command",
]  # fmt: skip


# --- how a field is declared -----------------------------------------------------------------
#: kinds of setting that take no rule beyond "one line of text"
SHELL = "raw shell"  # run as written on the host, never quoted (the *_cmd settings)
TEXT = "text"  # shell-quoted wherever a command uses it, or read by the tool only
TEMPLATE = "template"  # rendered into a config file (templates/), never into a command
_KINDS = (SHELL, TEXT, TEMPLATE)
#: who writes where a path setting points (``owner``)
LOGIN = "the deploy login"  # its directory: it writes, empties or rotates it
ROOT = "root"  # root writes or reads it (a config file, a root-only directory)


@dataclass(frozen=True)
class Group:
    """A block of settings. ``view``: the group is read as ``s.<name>.<field>`` too (its fields
    named ``<name>_*``, and any other field declared in it)."""

    name: str
    title: str  # Korean, as `fab settings` heads the block
    view: bool = False

    def __call__(self, default: Any, rule: Rule | str, about: str, owner: str = "") -> Any:
        """One setting: its default, its rule (or SHELL, TEXT, TEMPLATE), one line in Korean;
        for a path, who writes there (``owner``): LOGIN, a directory the deploy login owns
        (it writes, empties or rotates it), or ROOT, a path root writes or reads (setup's,
        push-config's files, nginx and systemd reading them). tasks/hosts/validate.py keeps
        every ROOT path out of every LOGIN directory."""
        kind = rule if isinstance(rule, str) else "checked"
        if kind not in (*_KINDS, "checked") or not (isinstance(rule, str) or callable(rule)):
            # e.g. a field's name given as its rule: in the class body it is the field above
            raise TypeError(f"no rule or kind of setting: {rule!r}")
        if owner not in ("", LOGIN, ROOT):
            raise TypeError(f"no owner of a path: {owner!r}")
        meta = {"group": self.name, "rule": None if isinstance(rule, str) else rule,
                "kind": kind, "about": about, "owner": owner}  # fmt: skip
        if isinstance(default, list | dict):
            return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
        return dataclasses.field(default=default, metadata=meta)


COMMON = Group("common", "공통 (git, 상태, SSH, sudo, 잠금)")
RELEASE = Group("release", "배포 방식 (release 전략)")
SITE = Group("site", "사이트 (nginx, TLS)")
HOST = Group("host", "호스트 (디렉터리, 스왑, 패키지, 방화벽)")
FRONTEND = Group("frontend", "A. 프론트엔드", view=True)
BACKEND = Group("backend", "B. 백엔드", view=True)
DB = Group("db", "B. 데이터베이스 (MySQL/MariaDB, 백업)", view=True)
AI = Group("ai", "C. AI 서버", view=True)
BUILD = Group("build", "빌드 위치 (build_on)", view=True)
GROUPS = (COMMON, RELEASE, SITE, HOST, FRONTEND, BACKEND, DB, AI, BUILD)


def _smoke(method: str, url: str, body: dict | None = None, expect: str = "", status: int = 200):
    return {"method": method, "url": url, "body": body, "expect": expect, "status": status}


_HOST_OR_LOCAL = choice("host", "local")


@dataclass(frozen=True)
class Settings:
    # --- common ----------------------------------------------------------------------------
    git_remote: str = COMMON("origin", branch, "배포할 git 원격 이름")
    git_branch: str = COMMON("main", branch, "배포할 git 브랜치")
    #: where the tool keeps its records and release artifacts on the host
    state_dir: str = COMMON("/var/lib/dojangkok-deploy", root_dir,
                            "호스트에서 도구의 기록과 release 산출물을 두는 디렉터리", owner=LOGIN)  # fmt: skip
    #: ssh known_hosts file checked for every host (empty: ~/.ssh/known_hosts)
    known_hosts_file: str = COMMON(
        "", TEXT, "호스트 키를 확인하는 known_hosts 파일 (비면 ~/.ssh/known_hosts)"
    )
    #: the SSH config read for each host (Host aliases, HostName, User, Port, IdentityFile,
    #: ProxyJump, ProxyCommand); empty: ~/.ssh/config and /etc/ssh/ssh_config, as ssh reads
    #: them. The inventory's ansible_* values win where both give one (tasks/hosts/connect.py)
    ssh_config_file: str = COMMON("", TEXT, "호스트마다 읽는 SSH 설정 파일 (비면 ssh 기본값)")
    #: the account `fab setup` and `push-config` log in as for their root steps (full sudo,
    #: like `ubuntu`); setup gives the deploy login (ansible_user) only the fixed root helper.
    #: Empty: those steps run as the deploy login, which then needs full sudo
    admin_user: str = COMMON("", optional(user_name),
                             "setup·push-config의 root 단계에 쓰는 관리자 계정 (전체 sudo)")  # fmt: skip
    #: name of the .env key that holds the sudo password of the account that runs the root
    #: steps (admin_user, else the deploy login; empty: sudo needs none)
    sudo_password_env: str = COMMON("", optional(env_key), "sudo 비밀번호를 담은 .env 키 이름")
    #: seconds after which a held deploy lock is reported as stale (never broken silently)
    lock_stale_after: int = COMMON(
        3600, keep(1, "초"), "배포 잠금을 오래된 것으로 알리는 시간 (초)"
    )
    #: "yes": deploys and rollbacks ask the operator to type the environment's name first
    #: (tasks/strategies/confirm.py; e.g. in hosts.prod.ini)
    confirm_deploy: str = COMMON("no", choice("no", "yes", "false", "true"),
                                 "yes면 배포·롤백 전에 환경 이름을 직접 입력해 확인받습니다 "
                                 "(터미널이 아닐 때는 --yes로 대신)")  # fmt: skip
    #: the git host's keys, a known_hosts file on this machine (e.g. from `ssh-keyscan
    #: github.com`, fingerprints checked); empty: the host's own known_hosts. Always checked.
    git_known_hosts: str = COMMON("", TEXT, "git 서버의 호스트 키 파일 (이 컴퓨터의 known_hosts)")

    # --- the release strategy (tasks/strategies/release/) -------------------------------
    #: how deploy and rollback tasks work unless --strategy says otherwise:
    #: "release" (build beside the running version, switch when healthy) or "manual"
    strategy: str = RELEASE(
        "release", choice("release", "manual"), "배포 방식 (release 또는 manual)"
    )
    #: <releases_root>/<component>/{releases/<run id>-<sha>, shared, current}
    releases_root: str = RELEASE(
        "/app/releases", root_dir, "release들을 두는 루트 디렉터리", owner=LOGIN
    )
    #: releases kept per component (never the current one or the one before it)
    releases_keep: int = RELEASE(5, keep(2, "현재 release와 롤백할 release"),
                                 "구성 요소마다 남기는 release 수")  # fmt: skip
    #: health checks poll this often (seconds); the manual's tries × interval stay the limit
    health_poll_interval: float = RELEASE(0.2, positive, "헬스 체크를 묻는 간격 (초)")

    # --- the site: nginx and TLS (templates/, tasks/setup/tls.py) -----------------------
    #: nginx server_name of the site: its DNS name(s), space-separated, the first one the main
    #: name ("_": any name; then tls must be off)
    server_name: str = SITE(
        "_", checks.server_name, "사이트의 DNS 이름 (nginx server_name, 공백으로 구분)"
    )
    #: "acme": certbot obtains the certificate (HTTP-01 through nginx's port 80) and its timer
    #: renews it; "provided": tls_cert and tls_key, files on the host; "off": plain HTTP, for
    #: testing only. Empty: acme when server_name is a DNS name
    tls: str = SITE("", optional(choice("acme", "provided", "off")),
                    "TLS 방식 (acme, provided, off; 비면 DNS 이름일 때 acme)")  # fmt: skip
    #: tls=provided: the certificate (full chain) and its key, paths on the host
    tls_cert: str = SITE(
        "", optional(absolute_path), "tls=provided의 인증서(전체 체인) 경로", owner=ROOT
    )
    tls_key: str = SITE("", optional(absolute_path), "tls=provided의 개인 키 경로", owner=ROOT)
    #: tls=acme: the ACME directory URL (Let's Encrypt's; its staging one for trials)
    acme_server: str = SITE("https://acme-v02.api.letsencrypt.org/directory", https_url,
                            "tls=acme의 ACME 디렉터리 URL")  # fmt: skip
    #: tls=acme: the account's e-mail (empty: registered without one)
    acme_email: str = SITE("", optional(email), "tls=acme 계정의 이메일 (비면 없이 등록)")
    #: tls=acme: a CA bundle on this machine that certbot trusts for acme_server (a private
    #: ACME server, e.g. the lab's); empty: the host's trust store
    acme_ca_bundle: str = SITE("", TEXT, "acme_server를 믿을 CA 묶음 파일 (비면 호스트 기본값)")
    #: tls=acme: certbot's name for the certificate (/etc/letsencrypt/live/<name>/)
    acme_cert_name: str = SITE("dojangkok", cert_name, "certbot의 인증서 이름")
    #: tls=acme: the challenge webroot nginx serves on port 80 (root-owned)
    acme_webroot: str = SITE(
        "/var/lib/dojangkok-acme", root_dir, "ACME 챌린지 웹 루트 (root 소유)", owner=ROOT
    )
    #: request size limit: multi-page contract scans are uploaded through /api/
    client_max_body_size: str = SITE("50m", TEMPLATE, "요청 크기 한도 (nginx client_max_body_size)")
    hsts_max_age: int = SITE(63072000, keep(0, "초"), "HSTS max-age (초)")
    #: empty: no Content-Security-Policy header (this one cannot break the SPA's scripts)
    content_security_policy: str = SITE(
        "frame-ancestors 'none'; base-uri 'self'; object-src 'none'", TEMPLATE,
        "Content-Security-Policy 헤더 (비면 보내지 않음)",
    )  # fmt: skip
    #: the frontend build's content-hashed assets (cached for a year)
    hashed_assets_path: str = SITE("/static/", TEMPLATE, "1년 캐시하는 해시된 정적 파일 경로")
    proxy_read_timeout: str = SITE(
        "120s", TEMPLATE, "프록시 응답을 기다리는 시간 (nginx proxy_read_timeout)"
    )
    #: RAW SHELL (run as written, as root, never quoted): A5 and push-config
    nginx_test_cmd: str = SITE("nginx -t", SHELL, "nginx 설정 검사 명령 (A5, push-config)")
    #: RAW SHELL (run as written, as root, never quoted): A5 and push-config
    nginx_reload_cmd: str = SITE("nginx -s reload", SHELL, "nginx 다시 읽기 명령 (A5, push-config)")
    #: the site file push-config writes; it is linked into sites-enabled
    nginx_site: str = SITE("/etc/nginx/sites-available/dojangkok", checks.nginx_site,
                           "push-config가 쓰는 nginx 사이트 파일", owner=ROOT)  # fmt: skip
    #: sites-enabled entries push-config removes (the distribution's default site)
    nginx_sites_disabled: list = SITE(["default"], each(file_name),
                                      "push-config가 sites-enabled에서 지우는 항목")  # fmt: skip
    #: the upstream nginx proxies /api/ to (included by the site): the switch port below
    nginx_upstream_file: str = SITE("/etc/nginx/dojangkok-upstream.conf", absolute_path,
                                    "/api/의 upstream 파일 (백엔드 전환 포트를 가리킴)", owner=ROOT)  # fmt: skip
    #: how the nginx site turns HTTP/2 on: "directive" (`http2 on;`, nginx ≥ 1.25.1) or
    #: "listen" (`listen 443 ssl http2`, older nginx); empty: detected from the host's nginx
    nginx_http2: str = SITE("", optional(choice("directive", "listen")),
                            "HTTP/2를 켜는 방법 (directive, listen; 비면 감지)")  # fmt: skip

    # --- the host: directories, swap, packages, firewall ------------------------------------
    systemd_dir: str = HOST(
        "/etc/systemd/system", absolute_path, "systemd 유닛 파일 디렉터리", owner=ROOT
    )
    #: the services' .env files (<env_dir>/backend.env, ai.env: each unit's EnvironmentFile=):
    #: a directory only root writes, so the deploy login, who writes the files, cannot point
    #: one at another file (tasks/apps/env.py); the checkouts' .env link to them
    env_dir: str = HOST(
        "/etc/dojangkok/env", root_dir, "서비스 .env 파일 디렉터리 (root만 씀)", owner=ROOT
    )
    #: empty swap_size: no swap file
    swap_size: str = HOST("4G", checks.swap_size, "스왑 파일 크기 (비면 스왑 없음)")
    swap_file: str = HOST("/swapfile", checks.swap_file, "스왑 파일 경로", owner=ROOT)
    #: packages setup makes sure of (empty: detected from the distribution and the host's role)
    host_packages: list = HOST([], each(package), "setup이 설치하는 패키지 (비면 감지)")
    #: "on": setup applies the tool's own nftables table (inet dojangkok): only SSH in, and on
    #: cpu 80/443; on gpu the AI ports only from ai_allow_from; "off": setup removes that table
    firewall: str = HOST("on", choice("on", "off"), "도구의 nftables 방화벽 (on, off)")
    #: who may open SSH connections (IP addresses or networks, e.g. ["203.0.113.0/24"]);
    #: empty: anyone. setup refuses a list that leaves out its own connection
    ssh_allow_from: list = HOST([], networks, "SSH 접속을 허용할 주소·네트워크 (비면 모두)")

    # --- A. frontend -------------------------------------------------------------------------
    frontend_dir: str = FRONTEND("/app/frontend", root_dir, "프론트엔드 체크아웃 경로", owner=LOGIN)
    #: RAW SHELL (run as written in frontend_dir, never quoted): step A2
    frontend_install_cmd: str = FRONTEND("npm ci", SHELL, "프론트엔드 의존성 설치 명령 (A2)")
    #: RAW SHELL (run as written in frontend_dir, never quoted): step A3
    frontend_build_cmd: str = FRONTEND("npm run build", SHELL, "프론트엔드 빌드 명령 (A3)")
    #: build output directory, relative to frontend_dir
    frontend_build_dir: str = FRONTEND("build", subdir, "빌드 결과 디렉터리 (frontend_dir 기준)")
    web_root: str = FRONTEND(
        "/var/www/dojangkok", root_dir, "nginx가 서빙하는 웹 루트", owner=LOGIN
    )
    #: where step 4 writes, and rollback-frontend reads, backups of the web root
    frontend_backup_dir: str = FRONTEND(
        "/var/www/backup", root_dir, "웹 루트 백업 디렉터리", owner=LOGIN
    )
    frontend_backup_keep: int = FRONTEND(
        5, keep(2, "3a 단계의 백업과 그 전 백업"), "남기는 웹 루트 백업 수"
    )
    #: the page check's URL, asked on the host itself (empty: https://<server_name>/, or
    #: http:// with tls=off, resolved to 127.0.0.1 with curl --resolve, the certificate verified)
    frontend_url: str = FRONTEND("", optional(url), "페이지 확인 URL (비면 사이트 주소)")
    #: text the main page must contain (empty: HTTP 200 is enough)
    frontend_expect: str = FRONTEND(
        "", TEXT, "메인 페이지에 있어야 하는 글 (비면 HTTP 200이면 충분)"
    )
    frontend_page_tries: int = FRONTEND(3, keep(1, "횟수"), "페이지 확인 시도 횟수")
    frontend_page_interval: int = FRONTEND(2, keep(1, "시도 간격, 초"),
                                           "페이지 확인 간격 (초)")  # fmt: skip
    #: each component's git origin: setup clones it, every deploy checks the checkout's origin
    #: (empty: setup cannot clone; deploys only check that the checkout is a git repository;
    #: a local build is refused: build_on=local fetches from here and nowhere else)
    frontend_repo: str = FRONTEND("", optional(git_origin), "프론트엔드 git 저장소 (origin)")
    #: a deploy key for the repo over ssh: a private key file on this machine, uploaded 0600
    #: to the host and used by git there (empty: none; the host's own keys or a public repo)
    frontend_deploy_key: str = FRONTEND(
        "", TEXT, "프론트엔드 저장소의 배포 키 (이 컴퓨터의 개인 키 파일)"
    )
    #: the app's .env, written by setup with exactly the keys of its .env.example: the values
    #: that are no secret here ({"KEY": "value"}); "${NAME}" takes NAME from the operator's
    #: .env (secrets never go in the inventory). A key with no value is named, nothing written.
    frontend_env: dict = FRONTEND({}, env_values, "프론트엔드 .env의 비밀 아닌 값 (JSON 객체)")
    #: where a component tells the version it serves (empty: not checked), asked on its host;
    #: *_version_match: "json:<field>" (a JSON answer) or "regex:<pattern with one group>"
    frontend_version_url: str = FRONTEND(
        "", optional(url), "서빙 중인 버전을 묻는 URL (비면 확인 안 함)"
    )
    frontend_version_match: str = FRONTEND("json:version", version_match,
                                           "버전을 읽는 방법 (json:필드 또는 regex:패턴)")  # fmt: skip
    frontend_build_on: str = FRONTEND("", optional(_HOST_OR_LOCAL),
                                      "프론트엔드 빌드 위치 (host, local; 비면 build_on)")  # fmt: skip
    #: RAW SHELL hooks (run as written by `bash -c`, as the deploy login in the new release,
    #: with DOJANGKOK_* set; empty: none): tasks/strategies/hooks.py
    frontend_before_switch: str = FRONTEND("", SHELL, "전환 전 훅 (실패하면 전환하지 않고 중단)")
    frontend_after_switch: str = FRONTEND("", SHELL, "전환 후 훅 (실패하면 경고, 새 버전은 그대로)")
    frontend_on_failure: str = FRONTEND("", SHELL, "배포 실패·롤백 때 실행할 훅")
    #: "static": the manual's React build, files nginx serves (tasks/apps/frontend/);
    #: "node": a Node server (Next.js `output: 'standalone'`: `node server.js`) nginx proxies
    #: to, run blue/green as the backend is (tasks/apps/frontend_node/; release strategy only)
    frontend_kind: str = FRONTEND("static", choice("static", "node"),
                                  "프론트엔드 종류 (static: 정적 빌드, node: Next.js standalone 서버)")  # fmt: skip
    #: frontend_kind=node: the template unit, one instance a port (<service>@<port>)
    frontend_service: str = FRONTEND("dojangkok-frontend", unit_name,
                                     "Node 프론트엔드 systemd 서비스 이름 (frontend_kind=node)")  # fmt: skip
    #: frontend_kind=node: the build's server directory in the release (server.js in it;
    #: the build's .next/static and public are copied into it, as Next's docs say)
    frontend_standalone_dir: str = FRONTEND(".next/standalone", subdir,
                                            "standalone 서버 디렉터리 (server.js가 있는 곳)")  # fmt: skip
    frontend_node: str = FRONTEND(
        "/usr/bin/node", absolute_path, "Node 프론트엔드를 실행하는 node 경로"
    )
    frontend_health_path: str = FRONTEND("/healthz", url_path, "Node 프론트엔드 헬스 체크 경로")
    frontend_health_expect: str = FRONTEND("ok", TEXT, "헬스 체크 응답에 있어야 하는 글")
    frontend_health_tries: int = FRONTEND(
        24, keep(1, "tries"), "Node 프론트엔드 헬스 체크 시도 횟수"
    )
    frontend_health_interval: int = FRONTEND(5, keep(1, "seconds between tries"),
                                             "Node 프론트엔드 헬스 체크 간격 (초)")  # fmt: skip
    #: frontend_kind=node: the two instances' ports behind nginx's upstream
    frontend_ports: list = FRONTEND(
        [3001, 3002], port_pair, "Node 프론트엔드 blue/green 포트 두 개"
    )
    #: frontend_kind=node: the local port nginx's upstream names (the switch table's)
    frontend_switch_port: int = FRONTEND(3090, port, "Node 프론트엔드 upstream의 전환 포트")
    frontend_upstream_file: str = FRONTEND("/etc/nginx/dojangkok-frontend-upstream.conf",
                                           absolute_path, "Node 프론트엔드 upstream 파일", owner=ROOT)  # fmt: skip
    frontend_keep_warm: int = FRONTEND(600, keep(0, "seconds"),
                                       "전환 뒤 이전 Node 인스턴스를 켜 두는 시간 (초)")  # fmt: skip
    #: seconds a stopping Node instance lets its requests in flight finish (SIGTERM, then
    #: TimeoutStopSec: the server closes its listener and ends when they are done)
    frontend_drain_timeout: int = FRONTEND(30, keep(0, "seconds"),
                                           "멈출 때 처리 중인 요청을 기다리는 시간 (초)")  # fmt: skip
    frontend_smoke: list = FRONTEND([], smoke_requests, "Node 프론트엔드 스모크 테스트 요청")
    #: frontend_kind=node: the addresses the Node server may exchange packets with besides
    #: this host (IPAddressAllow=, both ways: server-side fetches to the site's public URL or
    #: an OAuth provider are connections out); empty: no filter (it listens on 127.0.0.1)
    frontend_ip_allow: str = FRONTEND("", TEMPLATE,
                                      "Node 프론트엔드가 주고받을 수 있는 주소 (나가는 연결 포함; 비면 제한 없음)")  # fmt: skip

    # --- B. backend --------------------------------------------------------------------------
    backend_dir: str = BACKEND("/app/backend", root_dir, "백엔드 체크아웃 경로", owner=LOGIN)
    backend_service: str = BACKEND("dojangkok", unit_name, "백엔드 systemd 서비스 이름")
    #: RAW SHELL (run as written in backend_dir, never quoted): step B8
    backend_build_cmd: str = BACKEND(
        "./gradlew clean build -x test", SHELL, "백엔드 빌드 명령 (B8)"
    )
    #: the jar the service runs, relative to backend_dir (kept per revision for rollback)
    backend_artifact: str = BACKEND("build/libs/dojangkok.jar", relative_path,
                                    "서비스가 실행하는 jar (backend_dir 기준)")  # fmt: skip
    #: the backend's .env in its checkout (and shared/): a link to <env_dir>/backend.env,
    #: the file its unit reads (EnvironmentFile=)
    backend_env_file: str = BACKEND(".env", relative_path, "체크아웃 안의 백엔드 .env 경로")
    backend_env_example: str = BACKEND(
        ".env.example", relative_path, "체크아웃 안의 .env.example 경로"
    )
    #: the port the backend listens on (health checks, nginx's upstream)
    backend_port: int = BACKEND(8080, port, "백엔드가 듣는 포트 (manual 전략)")
    #: health check: GET http://localhost:<backend_port><backend_health_path>
    backend_health_path: str = BACKEND("/health", url_path, "헬스 체크 경로")
    backend_health_expect: str = BACKEND("UP", TEXT, "헬스 체크 응답에 있어야 하는 글")
    #: the health window is tries × interval: 2 minutes, for a slow start (the manual: 12 × 5 s);
    #: the release strategy polls every health_poll_interval within it, so a fast start costs
    #: nothing more; the step's result says how long the start took against it
    backend_health_tries: int = BACKEND(24, keep(1, "횟수"), "헬스 체크 시도 횟수")
    backend_health_interval: int = BACKEND(5, keep(1, "시도 간격, 초"), "헬스 체크 간격 (초)")
    #: step 11 requests ({"method", "url" or "path", "body", "expect", "status"}; a "path" is
    #: asked of http://localhost:<backend_port>); empty: the operator is asked to test by hand
    backend_smoke: list = BACKEND([], smoke_requests, "스모크 테스트 요청 (비면 직접 확인)")
    #: RAW SHELL (run as written, never quoted): the 배포 후 error log check
    backend_log_cmd: str = BACKEND("tail -100 /var/log/dojangkok/error.log", SHELL,
                                   "배포 후 오류 로그 확인 명령")  # fmt: skip
    backend_expected_total: str = BACKEND("12분", TEXT, "공지에 적는 예상 소요 시간")
    #: the service account (a system user without a login) the backend runs as
    backend_user: str = BACKEND("dojangkok", user_name, "백엔드 서비스 계정")
    backend_java: str = BACKEND("/usr/bin/java", absolute_path, "백엔드를 실행하는 java 경로")
    backend_java_opts: str = BACKEND("-Xms256m -Xmx512m", TEMPLATE, "java 옵션")
    #: the addresses the backend may exchange packets with (systemd's IPAddressAllow=, which
    #: filters both ways: who reaches it AND where it connects: OAuth providers, the AI host,
    #: external APIs); empty: no filter. Who reaches its port is the firewall's (setup: SSH,
    #: 80 and 443 only) either way.
    backend_ip_allow: str = BACKEND("", TEMPLATE,
                                    "백엔드가 주고받을 수 있는 주소 (나가는 연결 포함; 비면 제한 없음)")  # fmt: skip
    backend_repo: str = BACKEND("", optional(git_origin), "백엔드 git 저장소 (origin)")
    backend_deploy_key: str = BACKEND(
        "", TEXT, "백엔드 저장소의 배포 키 (이 컴퓨터의 개인 키 파일)"
    )
    backend_env: dict = BACKEND({"DB_PASSWORD": "${DB_PASSWORD}"}, env_values,
                                "백엔드 .env의 비밀 아닌 값 (JSON 객체)")  # fmt: skip
    backend_version_url: str = BACKEND(
        "", optional(url), "서빙 중인 버전을 묻는 URL (비면 확인 안 함)"
    )
    backend_version_match: str = BACKEND("json:version", version_match,
                                         "버전을 읽는 방법 (json:필드 또는 regex:패턴)")  # fmt: skip
    #: systemd LogsDirectory= / StateDirectory= (a name under /var/log, /var/lib; empty: none):
    #: made by systemd, owned by the service user, writable despite ProtectSystem=strict
    backend_logs_directory: str = BACKEND("dojangkok", optional(systemd_dir_name),
                                          "systemd LogsDirectory= (/var/log 아래 이름)")  # fmt: skip
    backend_state_directory: str = BACKEND("", optional(systemd_dir_name),
                                           "systemd StateDirectory= (/var/lib 아래 이름)")  # fmt: skip
    #: other paths the service writes (ReadWritePaths=; relative: inside its checkout, e.g. a
    #: local vector store, strategy=manual only); setup makes them, owned by the service user
    backend_writable_paths: list = BACKEND([], each(writable_path), "서비스가 쓰는 그 밖의 경로")
    #: ProcSubset=pid hides /proc/cpuinfo, /proc/meminfo, ...: ML runtimes (torch, numpy's
    #: BLAS, onnxruntime) read them, so the AI server gets "all"; "pid" is the stricter one
    backend_proc_subset: str = BACKEND(
        "pid", choice("pid", "all"), "/proc에서 보이는 범위 (systemd ProcSubset=: pid, all)"
    )
    #: the backend's blue/green ports behind nginx's upstream (one instance each)
    backend_ports: list = BACKEND([8081, 8082], port_pair, "blue/green 인스턴스의 두 포트")
    #: seconds the old backend instance stays running after a switch: a rollback within
    #: this window is a switch back, with no start-up
    backend_keep_warm: int = BACKEND(
        600, keep(0, "초"), "전환 뒤 이전 인스턴스를 켜 두는 시간 (초)"
    )
    #: seconds a stopping backend lets its requests in flight finish (Spring Boot's
    #: server.shutdown=graceful and spring.lifecycle.timeout-per-shutdown-phase, passed by
    #: the units; their TimeoutStopSec follows): a switch's old instance, a restart, a stop.
    #: 120 s: nginx's proxy_read_timeout ends a request through it by then anyway
    backend_drain_timeout: int = BACKEND(
        120, keep(0, "초"), "멈출 때 처리 중인 요청을 기다리는 시간 (초)"
    )
    #: the local port nginx's upstream names; a switch sends new connections to it to the
    #: live instance (an nftables table: no nginx reload). Nothing may listen on it
    backend_switch_port: int = BACKEND(8090, port, "nginx upstream이 가리키는 전환 포트")
    backend_build_on: str = BACKEND("", optional(_HOST_OR_LOCAL),
                                    "백엔드 빌드 위치 (host, local; 비면 build_on)")  # fmt: skip
    #: RAW SHELL hooks (run as written by `bash -c`, as the deploy login in the new release,
    #: with DOJANGKOK_* set; empty: none): tasks/strategies/hooks.py
    backend_before_switch: str = BACKEND("", SHELL, "전환 전 훅 (실패하면 전환하지 않고 중단)")
    backend_after_switch: str = BACKEND("", SHELL, "전환 후 훅 (실패하면 경고, 새 버전은 그대로)")
    backend_on_failure: str = BACKEND("", SHELL, "배포 실패·롤백 때 실행할 훅")

    # --- B. the database and its backups ---------------------------------------------------
    db_name: str = DB("dojangkok", checks.db_name, "데이터베이스 이름")
    db_user: str = DB("root", checks.db_user, "데이터베이스 관리자 계정")
    #: name of the .env key holding the DB password (never put the value here)
    db_password_env: str = DB("MYSQL_ROOT_PASSWORD", env_key, "관리자 비밀번호를 담은 .env 키 이름")
    backup_dir: str = DB("/app/backups", root_dir, "데이터베이스 백업 디렉터리", owner=LOGIN)
    backup_keep: int = DB(10, keep(1, "방금 검증한 덤프"), "남기는 데이터베이스 백업 수")
    #: the database's systemd unit; empty: detected on the host (mariadb or mysql)
    db_service: str = DB("", optional(unit_name), "데이터베이스 systemd 서비스 (비면 감지)")
    #: the config file push-config writes; empty: detected (the server's conf.d directory)
    mysql_conf: str = DB(
        "", optional(absolute_path), "push-config가 쓰는 DB 설정 파일 (비면 감지)", owner=ROOT
    )
    innodb_buffer_pool_size: str = DB(
        "1G", TEMPLATE, "InnoDB 버퍼 풀 크기 (innodb_buffer_pool_size)"
    )
    db_max_connections: int = DB(100, keep(1, "연결 수"), "최대 연결 수")
    db_bind_address: str = DB("127.0.0.1", TEMPLATE, "데이터베이스가 듣는 주소")
    #: the application's own database account; its password is the .env key named here
    db_app_user: str = DB("dojangkok", checks.db_user, "앱의 데이터베이스 계정")
    db_app_password_env: str = DB("DB_PASSWORD", env_key, "앱 계정 비밀번호를 담은 .env 키 이름")
    #: the backups' own database account: setup makes it with only the rights mysqldump
    #: needs on db_name; its password is the .env key named here (db_user's never reaches
    #: the deploy login: restore-db runs its one root step over admin_user's login)
    db_backup_user: str = DB("dojangkok_backup", checks.db_user, "백업 전용 데이터베이스 계정")
    db_backup_password_env: str = DB("DB_BACKUP_PASSWORD", env_key,
                                     "백업 계정 비밀번호를 담은 .env 키 이름")  # fmt: skip
    #: the database server (empty: detected on the host: "mariadb" or "mysql")
    db_server: str = DB("", optional(choice("mariadb", "mysql")),
                        "데이터베이스 서버 종류 (mariadb, mysql; 비면 감지)")  # fmt: skip

    # --- C. AI server ------------------------------------------------------------------------
    ai_dir: str = AI("/app/ai-server", root_dir, "AI 서버 체크아웃 경로", owner=LOGIN)
    ai_venv: str = AI("venv", relative_path, "파이썬 가상환경 경로 (ai_dir 기준)")
    ai_service: str = AI("fastapi", unit_name, "AI 서버 systemd 서비스 이름")
    ai_requirements: str = AI("requirements.txt", relative_path, "requirements 파일 (ai_dir 기준)")
    #: health check: GET http://localhost:<ai_listen_port><ai_health_path>
    ai_health_path: str = AI("/health", url_path, "헬스 체크 경로")
    ai_health_expect: str = AI("ok", TEXT, "헬스 체크 응답에 있어야 하는 글")
    #: 3 minutes (36 × 5 s; the manual: 6 × 5 s): a model takes its time to load (~45 s)
    ai_health_tries: int = AI(36, keep(1, "횟수"), "헬스 체크 시도 횟수")
    ai_health_interval: int = AI(5, keep(1, "시도 간격, 초"), "헬스 체크 간격 (초)")
    ai_smoke: list = AI(
        [_smoke("POST", "http://localhost:8000/api/v1/analyze", {"text": "테스트 계약서 내용"})],
        smoke_requests, "스모크 테스트 요청",
    )  # fmt: skip
    #: the service account (a system user without a login) the AI server runs as
    ai_user: str = AI("dojangkok-ai", user_name, "AI 서버 서비스 계정")
    ai_app: str = AI("app.main:app", TEMPLATE, "uvicorn이 실행하는 앱 (모듈:객체)")
    ai_listen_host: str = AI("0.0.0.0", TEMPLATE, "AI 서버가 듣는 주소")
    ai_listen_port: int = AI(8000, port, "AI 서버가 듣는 포트")
    #: the AI server's .env in its checkout (and shared/), where the app reads it: a link
    #: to <env_dir>/ai.env, the file its unit reads (EnvironmentFile=, optional)
    ai_env_file: str = AI(".env", relative_path, "체크아웃 안의 AI 서버 .env 경로")
    #: the addresses the AI server may exchange packets with (its unit's IPAddressAllow=,
    #: both ways: an LLM API or a model download is a connection out; nginx's allow list in
    #: front of the blue/green pair); empty: no filter. Who reaches its port is the
    #: firewall's either way (setup: the [cpu] host or ai_allow_from only).
    ai_ip_allow: str = AI("", TEMPLATE,
                          "AI 서버가 주고받을 수 있는 주소 (나가는 연결 포함; 비면 제한 없음)")  # fmt: skip
    #: "no" if the model runtime needs writable+executable memory (a JIT)
    ai_memory_deny_write_execute: str = AI("yes", choice("yes", "no"),
                                           "쓰기·실행 메모리 금지 (systemd MemoryDenyWriteExecute=: yes, no)")  # fmt: skip
    #: the GPU's device nodes the AI server may open (empty: no devices at all)
    ai_device_allow: list = AI(["char-nvidia-frontend rw", "char-nvidia-uvm rw"], TEMPLATE,
                               "AI 서버가 열 수 있는 GPU 장치 (systemd DeviceAllow=)")  # fmt: skip
    ai_repo: str = AI("", optional(git_origin), "AI 서버 git 저장소 (origin)")
    ai_deploy_key: str = AI("", TEXT, "AI 서버 저장소의 배포 키 (이 컴퓨터의 개인 키 파일)")
    ai_env: dict = AI({}, env_values, "AI 서버 .env의 비밀 아닌 값 (JSON 객체)")
    ai_version_url: str = AI("", optional(url), "서빙 중인 버전을 묻는 URL (비면 확인 안 함)")
    ai_version_match: str = AI("json:version", version_match,
                               "버전을 읽는 방법 (json:필드 또는 regex:패턴)")  # fmt: skip
    ai_logs_directory: str = AI("", optional(systemd_dir_name),
                                "systemd LogsDirectory= (/var/log 아래 이름)")  # fmt: skip
    ai_state_directory: str = AI("", optional(systemd_dir_name),
                                 "systemd StateDirectory= (/var/lib 아래 이름)")  # fmt: skip
    ai_writable_paths: list = AI([], each(writable_path), "서비스가 쓰는 그 밖의 경로")
    ai_proc_subset: str = AI(
        "all", choice("pid", "all"), "/proc에서 보이는 범위 (systemd ProcSubset=: pid, all)"
    )
    #: the python that makes the AI venv (empty: detected, the host's python3)
    ai_python: str = AI("", optional(python_command), "가상환경을 만드는 python (비면 python3)")
    #: who may reach the AI server's ports on the GPU host (ai_listen_port, ai_ports);
    #: empty: the address of the inventory's [cpu] host (an IP address there)
    ai_allow_from: list = AI([], networks, "방화벽이 AI 포트를 열어 줄 주소 (비면 [cpu] 호스트)")
    #: AI server: "auto" (blue-green when the host can hold two instances: no GPU, or
    #: nvidia-smi shows more free memory than ai_gpu_memory_mb; else a restart that drains
    #: first; each deploy and rollback says which and why), "restart" (build the new venv
    #: beside the old one, then a health-gated restart) or "blue-green" (two instances behind
    #: nginx on the GPU host; the GPU must hold two copies of the model: ai_gpu_memory_mb)
    ai_switch: str = AI("auto", choice("auto", "restart", "blue-green"),
                        "AI 서버 교체 방식 (auto, restart, blue-green)")  # fmt: skip
    ai_ports: list = AI([8001, 8002], port_pair, "blue/green 인스턴스의 두 포트")
    #: blue/green: the upstream nginx on the GPU host proxies ai_listen_port to
    ai_upstream_file: str = AI("/etc/nginx/dojangkok-ai-upstream.conf", absolute_path,
                               "GPU 호스트 nginx의 upstream 파일 (blue/green)", owner=ROOT)  # fmt: skip
    #: blue/green: the local port that upstream names (as backend_switch_port)
    ai_switch_port: int = AI(8003, port, "upstream이 가리키는 전환 포트 (blue/green)")
    #: blue/green: the proxy's own config (conf.d is included by the distribution's nginx)
    ai_proxy_conf: str = AI("/etc/nginx/conf.d/dojangkok-ai.conf", absolute_path,
                            "AI 서버 프록시의 nginx 설정 파일 (blue/green)", owner=ROOT)  # fmt: skip
    #: blue/green: seconds the old AI instance stays running after a switch (GPU memory)
    ai_keep_warm: int = AI(60, keep(0, "초"), "전환 뒤 이전 인스턴스를 켜 두는 시간 (초)")
    #: seconds a stopping AI server lets its requests in flight finish (uvicorn's
    #: --timeout-graceful-shutdown; the units' TimeoutStopSec follows): the manual's SLA
    #: for an AI request, 5 minutes
    ai_drain_timeout: int = AI(300, keep(0, "초"), "멈출 때 처리 중인 요청을 기다리는 시간 (초)")
    #: the GPU memory (MiB) one AI instance needs; blue/green is refused when nvidia-smi
    #: reports less free memory than that (0: no check)
    ai_gpu_memory_mb: int = AI(
        0, keep(0, "MiB"), "인스턴스 하나가 쓰는 GPU 메모리 (MiB, 0이면 확인 안 함)"
    )
    ai_build_on: str = AI(
        "", optional(_HOST_OR_LOCAL), "AI 서버 빌드 위치 (host, local; 비면 build_on)"
    )
    #: RAW SHELL hooks (run as written by `bash -c`, as the deploy login in the new release,
    #: with DOJANGKOK_* set; empty: none): tasks/strategies/hooks.py
    ai_before_switch: str = AI("", SHELL, "전환 전 훅 (실패하면 전환하지 않고 중단)")
    ai_after_switch: str = AI("", SHELL, "전환 후 훅 (실패하면 경고, 새 버전은 그대로)")
    ai_on_failure: str = AI("", SHELL, "배포 실패·롤백 때 실행할 훅")

    # --- where builds run: the manual's two methods (§1 배포 방식; tasks/localbuild/) -------
    #: "host" (1: build on the target server) or "local" (2: build here, send the files);
    #: per component with <component>_build_on (empty: this one); --build-on wins
    build_on: str = BUILD(
        "host", _HOST_OR_LOCAL, "빌드 위치 (host: 서버에서, local: 여기서 빌드해 전송)"
    )
    #: build_on=local: the tool's own clean checkouts and builds (never your working tree)
    #: (build_on=local fetches from <component>_repo alone, which the host's checkout must
    #: name exactly: tasks/localbuild/origin.py)
    build_work_dir: str = BUILD("~/.cache/dojangkok-deploy", local_dir,
                                "local 빌드의 작업 디렉터리 (이 컴퓨터)")  # fmt: skip

    # --- the views ---------------------------------------------------------------------------
    @property
    def frontend(self) -> View:
        return View(self, "frontend")

    @property
    def backend(self) -> View:
        return View(self, "backend")

    @property
    def db(self) -> View:
        return View(self, "db")

    @property
    def ai(self) -> View:
        return View(self, "ai")

    @property
    def build(self) -> View:
        return View(self, "build")

    def app(self, name: str) -> View:
        """The view of the group ``name`` (an app's name held in a variable)."""
        if name not in VIEWS:
            raise ValueError(f"no settings group {name!r}; groups: {', '.join(VIEWS)}")
        return View(self, name)

    # -----------------------------------------------------------------------------------------
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
            check_name(key, where)
            kwargs[key] = _coerce(known[key], raw, where)
        settings = cls(**kwargs)
        # each value's own rules here (naming the inventory line); the rules about settings
        # together run in every task's preflight (validate.settings)
        check_fields(settings, kwargs, where)
        return settings

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)


# --- the views ------------------------------------------------------------------------------
#: view group -> {name in the view: the flat field}
VIEWS: dict[str, dict[str, str]] = {g.name: {} for g in GROUPS if g.view}
for _f in fields(Settings):
    _group = _f.metadata["group"]
    if _group in VIEWS:
        _short = _f.name.removeprefix(f"{_group}_")
        VIEWS[_group][_short] = _f.name
del _f, _group, _short


class View:
    """One group's settings without their prefix: ``s.backend.dir`` is ``s.backend_dir``."""

    __slots__ = ("_group", "_settings")

    def __init__(self, settings: Settings, group: str):
        object.__setattr__(self, "_settings", settings)
        object.__setattr__(self, "_group", group)

    def __getattr__(self, name: str) -> Any:
        flat = VIEWS[self._group].get(name)
        if flat is None:
            raise AttributeError(f"settings group {self._group!r} has no setting {name!r}")
        return getattr(self._settings, flat)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("settings are read-only: use Settings.replace")

    def __dir__(self) -> list[str]:
        return sorted(VIEWS[self._group])

    def __repr__(self) -> str:
        return f"<settings {self._group}>"  # no attribute but the settings: s.db.name is db_name


# --- what each setting is (for `fab settings` and the checks) ---------------------------------
@dataclass(frozen=True)
class Spec:
    """One setting as declared: for listing it (``fab settings``) and checking it."""

    name: str
    group: Group
    kind: str  # "checked", or SHELL, TEXT, TEMPLATE
    rule: Rule | None
    about: str  # one line in Korean
    default: object
    owner: str  # a path's: LOGIN, ROOT or ""


_GROUP = {g.name: g for g in GROUPS}
#: every setting in declaration order, its group's block after block
SPECS: tuple[Spec, ...] = tuple(
    Spec(f.name, _GROUP[f.metadata["group"]], f.metadata["kind"], f.metadata["rule"],
         f.metadata["about"], f.default_factory() if callable(f.default_factory) else f.default,
         f.metadata["owner"])
    for f in fields(Settings)
)  # fmt: skip

#: setting -> the check of its value (the settings of kind SHELL, TEXT, TEMPLATE have none)
RULES: dict[str, Rule] = {s.name: s.rule for s in SPECS if s.rule is not None}
#: the settings that are raw shell on purpose (run as written on the host, never quoted)
RAW_SHELL = tuple(s.name for s in SPECS if s.kind == SHELL)
#: any one line of text: shell-quoted wherever a command uses it (or used by no command)
FREE_TEXT = tuple(s.name for s in SPECS if s.kind == TEXT)
#: rendered into config files (templates/), never into a command: one line each
TEMPLATE_ONLY = tuple(s.name for s in SPECS if s.kind == TEMPLATE)
#: the directories the deploy login owns (it writes, empties or rotates them)
LOGIN_DIRS = tuple(s.name for s in SPECS if s.owner == LOGIN)
#: what root writes or reads by these settings' paths
ROOT_PATHS = tuple(s.name for s in SPECS if s.owner == ROOT)


def check_fields(s: Settings, names: Iterable[str] | None = None, where: str = "") -> None:
    """The rules about each setting's own value (``names``: only these settings)."""
    values = vars(s)
    for name in values if names is None else names:
        value = values[name]
        for text in _texts(value):  # every setting is one line, *_cmd included
            one_line(text, name, where)
        rule = RULES.get(name)
        if rule is not None:
            rule(value, name, where)


# --- names: the one check of a setting's name -------------------------------------------------
@dataclass(frozen=True)
class Renamed:
    """A setting that was replaced: the settings to write instead, and how (Korean)."""

    new: tuple[str, ...]
    how: str


#: settings that were replaced, and what to write instead
RENAMED = {
    "backend_health_url": Renamed(
        ("backend_port", "backend_health_path"),
        "backend_port(예: 8080)와 backend_health_path(예: /actuator/health)를 적으십시오 "
        "(헬스 체크는 포트를 따라갑니다)",
    ),
    "ai_health_url": Renamed(
        ("ai_listen_port", "ai_health_path"),
        "ai_listen_port(예: 8000)와 ai_health_path(예: /health)를 적으십시오",
    ),
    "backend_upstream": Renamed(
        ("backend_port",),
        "backend_port를 적으십시오 (nginx의 upstream은 이제 backend_port를 따라갑니다)",
    ),
}


def check_name(key: str, where: str, *, secrets: bool = False) -> None:
    """The one check of a name read from hosts.ini, or with ``secrets`` from .env (``where``:
    the file and line it is on).

    In hosts.ini a name must be a setting. .env holds secrets under names of the operator's
    choosing, so any name is fine there but a setting's: settings are read from hosts.ini
    alone, and one written in .env would silently not apply. In both files a renamed setting
    names what replaced it; in hosts.ini an unknown name names the closest setting."""
    if key in _NAMES and not secrets:
        return
    renamed = RENAMED.get(key)
    if renamed is not None:
        raise ConfigError(
            f"설정 {key}({where})는 더 이상 없습니다: {', '.join(renamed.new)}(으)로 바뀌었습니다 "
            f"(setting {key!r} in {where} was replaced by {', '.join(renamed.new)})",
            f"{key} 줄을 지우고 " + ("hosts.ini에 " if secrets else "") + renamed.how,
        )
    if secrets:
        if key in _NAMES:
            raise ConfigError(
                f"{where}의 {key}는 설정입니다: 설정은 hosts.ini에서만 읽으므로 .env에 적은 값은 "
                f"적용되지 않습니다 (setting {key!r} in the secrets file {where})",
                f"{where}에서 {key} 줄을 지우고 hosts.ini(호스트 줄 또는 [그룹:vars])에 "
                f"{key}=...를 적으십시오; .env에는 비밀값만 둡니다",
            )
        return
    close = difflib.get_close_matches(key, sorted(_NAMES), n=1, cutoff=0.8)
    hint = (
        f"{close[0]}을(를) 뜻했다면 그 이름으로 고치십시오. "
        if close
        else "이름의 철자를 확인하십시오. "
    )
    raise ConfigError(
        f"{where}의 {key!r}는 이 도구가 읽는 설정이 아닙니다 (unknown setting {key!r} in {where})",
        hint + "모든 설정과 기본값은 `fab settings`가 보여 줍니다",
    )


_NAMES = frozenset(Settings.names())
assert not _NAMES & set(RENAMED), "a renamed setting is still a setting"


# --- values as Ansible reads them ---------------------------------------------------------------
def _coerce(f: dataclasses.Field, raw: object, where: str) -> object:
    default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
    if isinstance(default, dict):
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{where}의 설정 {f.name}: JSON 객체여야 합니다 ({exc})",
                'e.g. {"SERVER_PORT": "8080"}',
            ) from None
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(
                f"{where}의 설정 {f.name}: JSON 객체여야 합니다", "값을 { }로 감싸십시오"
            )
        return {k: str(v) for k, v in value.items()}
    if isinstance(default, bool) or isinstance(raw, type(default)):
        return raw
    if isinstance(default, float):
        try:
            return float(str(raw))
        except ValueError:
            raise ConfigError(
                f"{where}의 설정 {f.name}: 숫자여야 합니다: {raw!r}",
                "따옴표나 단위 없이 숫자만 쓰십시오 (예: 0.5)",
            ) from None
    if isinstance(default, int):
        try:
            return int(str(raw))
        except ValueError:
            raise ConfigError(
                f"{where}의 설정 {f.name}: 정수여야 합니다: {raw!r}",
                "따옴표나 단위 없이 정수만 쓰십시오 (예: 12)",
            ) from None
    if isinstance(default, list):
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{where}의 설정 {f.name}: JSON 목록이어야 합니다 ({exc})",
                'e.g. [{"method": "GET", "url": "http://localhost:8080/api/notes"}]',
            ) from None
        if not isinstance(value, list):
            raise ConfigError(
                f"{where}의 설정 {f.name}: JSON 목록이어야 합니다", "값을 [ ]로 감싸십시오"
            )
        return value
    return str(raw)
