"""Config as code: the host's nginx site, systemd units and MariaDB config from templates/.

Pure functions render the templates (Jinja2, StrictUndefined: a missing variable is an
error naming it), compare them with what a host has (:class:`Change`) and build the plan
that applies the changes; only the runner touches the host. A push:

  1. uploads the changed files to a staging directory (``state_dir/config-staging``),
  2. validates the staged files as they would take effect (``nginx -t`` against a copy of
     the whole nginx tree with the new site in it, ``systemd-analyze verify``, mariadbd),
  3. backs up the live files, moves the new ones into place (``mv`` in the same
     directory: atomic), then reloads or restarts only what changed and checks it.

A failed validation changes nothing on the host. A failure after step 3 puts every backed-up
file back and reloads/restarts with the old config.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import jinja2

from tasks import shell
from tasks.common import prepare_step
from tasks.context import Run, q
from tasks.errors import ConfigError
from tasks.inventory import Host
from tasks.settings import Settings
from tasks.steps import Kind, Plan, Policy, Step

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
MANAGED = "Managed by dojangkok-deploy from templates/{template}: edit the template, not this file."


@dataclass(frozen=True)
class ConfigFile:
    key: str  # nginx | backend | ai | mysql
    template: str  # relative to templates/
    dest: str  # the live path on the host
    kind: str  # nginx | unit | mysql: how it is validated and applied
    service: str  # what reloads or restarts when the file changes
    mode: str = "644"

    @property
    def staged_name(self) -> str:
        return f"{self.key}/{PurePosixPath(self.dest).name}"


def config_files(host: Host) -> list[ConfigFile]:
    """The files a host gets, by its inventory groups (cpu, gpu), in apply order."""
    s, roles = host.settings, set(host.groups) | {host.alias}
    files = []
    if "cpu" in roles:
        files += [
            ConfigFile("mysql", "mysql/server.cnf.j2", s.mysql_conf, "mysql", s.db_service),
            ConfigFile(
                "backend",
                "systemd/backend.service.j2",
                f"{s.systemd_dir}/{s.backend_service}.service",
                "unit",
                s.backend_service,
            ),
            ConfigFile("nginx", "nginx/site.conf.j2", s.nginx_site, "nginx", "nginx"),
        ]
    if "gpu" in roles:
        files.append(
            ConfigFile(
                "ai",
                "systemd/ai.service.j2",
                f"{s.systemd_dir}/{s.ai_service}.service",
                "unit",
                s.ai_service,
            )
        )
    if not files:
        raise ConfigError(
            f"host {host.alias} is in neither group [cpu] nor [gpu]: no config to push",
            "put it under [cpu] or [gpu] in the inventory",
        )
    return files


# --- rendering (pure) ------------------------------------------------------------------
def _sdq(value: object) -> str:
    """Quote one word for a systemd unit (``%`` is a specifier there)."""
    text = str(value).replace("%", "%%")
    if any(c in text for c in " \t\"'\\"):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def environment(root: Path = TEMPLATES) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["sdq"] = _sdq
    return env


def context(s: Settings) -> dict[str, object]:
    """The templates' variables: every setting, plus paths derived from them."""
    values = dataclasses.asdict(s)
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str) and any(c in item for c in "\n\r\0"):
                raise ConfigError(
                    f"setting {name} contains a line break: {item!r}",
                    "a setting is one line; a line break would inject lines into the config",
                )
    values.update(
        backend_jar=f"{s.backend_dir}/{s.backend_artifact}",
        backend_env_path=f"{s.backend_dir}/{s.backend_env_file}",
        ai_uvicorn=f"{s.ai_dir}/{s.ai_venv}/bin/uvicorn",
        ai_env_path=f"{s.ai_dir}/{s.ai_env_file}",
    )
    return values


def render_file(f: ConfigFile, s: Settings, env: jinja2.Environment | None = None) -> str:
    env = env or environment()
    try:
        template = env.get_template(f.template)
        return template.render(context(s), managed=MANAGED.format(template=f.template))
    except jinja2.UndefinedError as exc:
        raise ConfigError(
            f"template {f.template}: {exc.message}",
            "add the setting to tasks/settings.py (or fix the name in the template)",
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(
            f"template {exc.filename or f.template}:{exc.lineno}: {exc.message}",
            "fix the template's syntax",
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"template {exc.name} not found under {TEMPLATES}", "") from None


def render(host: Host) -> dict[ConfigFile, str]:
    env = environment()
    return {f: render_file(f, host.settings, env) for f in config_files(host)}


def write_rendered(rendered: dict[ConfigFile, str], out: Path) -> list[Path]:
    """``render-config --out DIR``: DIR/<live path>, for review."""
    written = []
    for f, text in rendered.items():
        path = out / f.dest.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# --- nginx: the site link and the sites it disables --------------------------------------
def nginx_dir(s: Settings) -> str:
    parent = PurePosixPath(s.nginx_site).parent
    return str(parent.parent) if parent.name in ("sites-available", "conf.d") else "/etc/nginx"


def nginx_links(s: Settings) -> tuple[str | None, list[str]]:
    """(the sites-enabled link to the site or None, the sites-enabled entries to remove)."""
    site = PurePosixPath(s.nginx_site)
    enabled = f"{nginx_dir(s)}/sites-enabled"
    link = f"{enabled}/{site.name}" if site.parent.name == "sites-available" else None
    return link, [f"{enabled}/{name}" for name in s.nginx_sites_disabled]


def touched_paths(f: ConfigFile, s: Settings) -> list[str]:
    """Every path a push of ``f`` may change (backed up before, restored on failure)."""
    if f.kind != "nginx":
        return [f.dest]
    link, disabled = nginx_links(s)
    return [f.dest, *([link] if link else []), *disabled]


# --- what the host has -------------------------------------------------------------------
STATE_MARK = "@@dojangkok-config@@"


def state_command(files: list[ConfigFile], s: Settings) -> str:
    """Prints, per file: mode, sha256 and content (or "absent"); then the nginx links."""
    parts = []
    for f in files:
        d = q(f.dest)
        parts.append(
            f"echo {q(STATE_MARK + ' ' + f.key)}; "
            f"if [ -f {d} ]; then stat -c %a {d}; cat {d}; echo; else echo absent; fi"
        )
        if f.kind == "nginx":
            link, disabled = nginx_links(s)
            if link:
                parts.append(
                    f"echo {q(STATE_MARK + ' link')}; readlink {q(link)} || true; "
                    f"echo {q(STATE_MARK + ' disabled')}; "
                    + "; ".join(
                        f"if [ -e {q(p)} ] || [ -L {q(p)} ]; then echo {q(p)}; fi" for p in disabled
                    )
                )
    parts.append(f"echo {q(STATE_MARK + ' end')}")
    return "; ".join(parts)


def parse_state(stdout: str) -> dict[str, str | None]:
    """``state_command`` output → {key: "mode\\ncontent" or "absent", "link": ..., ...}.

    ``cat FILE; echo`` ends every file with one extra line break: the line split drops it.
    """
    out: dict[str, str | None] = {}
    key, lines = None, []
    for line in stdout.split("\n"):
        if line.startswith(STATE_MARK + " "):
            if key is not None:
                out[key] = "\n".join(lines)
            key, lines = line[len(STATE_MARK) + 1 :], []
        elif key is not None:
            lines.append(line)
    if key is not None:
        out[key] = "\n".join(lines)
    return out


@dataclass
class Change:
    file: ConfigFile
    new: str
    old: str | None  # None: the file does not exist on the host
    old_mode: str | None = None
    #: link/disable actions still needed (nginx), shown with the diff
    actions: list[str] = field(default_factory=list)

    @property
    def content_changed(self) -> bool:
        return self.old != self.new

    @property
    def changed(self) -> bool:
        return self.content_changed or self.old_mode != self.file.mode or bool(self.actions)

    def diff(self, host: str) -> str:
        old = (self.old or "").splitlines(keepends=True)
        new = self.new.splitlines(keepends=True)
        text = "".join(
            difflib.unified_diff(
                old,
                new,
                f"{self.file.dest} ({host}{'' if self.old is not None else ', absent'})",
                f"{self.file.dest} (rendered from templates/{self.file.template})",
            )
        )
        if self.old is not None and self.old_mode != self.file.mode:
            text += f"mode {self.old_mode} → {self.file.mode}\n"
        return text + "".join(f"{a}\n" for a in self.actions)


def changes(
    rendered: dict[ConfigFile, str], state: dict[str, str | None], s: Settings
) -> list[Change]:
    """Compare the rendered files with the host's state (``parse_state``)."""
    result = []
    for f, text in rendered.items():
        raw = state.get(f.key)
        if raw is None:
            raise ConfigError(f"no state read for {f.dest}", "this is a bug in tasks/config.py")
        old, mode = None, None
        if raw.strip() != "absent":
            mode, _, old = raw.partition("\n")
        change = Change(f, text, old, mode)
        if f.kind == "nginx":
            link, disabled = nginx_links(s)
            if link and (state.get("link") or "").strip() != f.dest:
                change.actions.append(f"link {link} → {f.dest}")
            for p in (state.get("disabled") or "").split():
                change.actions.append(f"remove {p}")
        if change.changed:
            result.append(change)
    return result


# --- the push plan (pure) ----------------------------------------------------------------
def staging_dir(s: Settings) -> str:
    return f"{s.state_dir}/config-staging"


def backup_dir(run: Run) -> str:
    return f"{run.s.state_dir}/config-backup/{run.stamp}"


def staged(f: ConfigFile, s: Settings) -> str:
    return f"{staging_dir(s)}/{f.staged_name}"


def validate_nginx(f: ConfigFile, s: Settings) -> str:
    """``nginx -t`` of a copy of the whole nginx tree with the staged site in place."""
    root = nginx_dir(s)
    tree = f"{staging_dir(s)}/nginx-tree"
    site = PurePosixPath(f.dest)
    link, disabled = nginx_links(s)
    rel = site.relative_to(root) if site.is_relative_to(root) else PurePosixPath(site.name)
    enabled = f"{tree}/{PurePosixPath(link).relative_to(root)}" if link else ""
    removals = " ".join(q(f"{tree}/{PurePosixPath(p).relative_to(root)}") for p in disabled)
    return (
        f"command -v nginx >/dev/null || {{ echo 'nginx is not installed' >&2; exit 1; }}; "
        f'T={q(tree)}; rm -rf "$T"; trap \'rm -rf "$T"\' EXIT; cp -a {q(root)} "$T" && '
        f'install -m 644 {q(staged(f, s))} "$T"/{q(str(rel))} && '
        + (f'rm -f {q(enabled)} && cp "$T"/{q(str(rel))} {q(enabled)} && ' if link else "")
        + (f"rm -f {removals} && " if removals else "")
        + f'find "$T" -type f -exec sed -i "s#{root}/#$T/#g" {{}} + && '
        'nginx -t -c "$T/nginx.conf" 2>&1 | sed "s#$T/#' + root + '/#g"'
    )


def validate_unit(f: ConfigFile, s: Settings) -> str:
    """``systemd-analyze verify``; any message about the unit itself is a failure."""
    path = q(staged(f, s))
    name = PurePosixPath(f.dest).name
    return (
        f"out=$(systemd-analyze verify {path} 2>&1); rc=$?; "
        f'msg=$(printf "%s\\n" "$out" | grep -F -- {q(name)}); '
        f'if [ $rc -ne 0 ] || [ -n "$msg" ]; then echo "systemd-analyze verify {name}:" >&2; '
        f'printf "%s\\n" "$out" >&2; exit 1; fi; echo "{name}: ok"'
    )


def validate_mysql(f: ConfigFile, s: Settings) -> str:
    """mariadbd/mysqld parses the distribution's config plus the staged file."""
    return (
        "d=$(command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd /usr/sbin/mysqld "
        "2>/dev/null | head -1); "
        '[ -n "$d" ] || { echo "no mariadbd/mysqld on this host" >&2; exit 1; }; '
        f'out=$("$d" --defaults-extra-file={q(staged(f, s))} --user=mysql --help --verbose 2>&1 >/dev/null); '
        'if printf "%s\\n" "$out" | grep -qiE "\\[ERROR\\]|unknown (variable|option)|Error while setting value"; '
        f'then printf "%s\\n" "$out" >&2; exit 1; fi; echo {q(PurePosixPath(f.dest).name + ": ok")}'
    )


VALIDATORS = {"nginx": validate_nginx, "unit": validate_unit, "mysql": validate_mysql}


def validate_command(changes_: list[Change], s: Settings) -> str:
    return (
        " && ".join(
            f"( {VALIDATORS[c.file.kind](c.file, s)} )" for c in changes_ if c.content_changed
        )
        or "true"
    )


def backup_command(run: Run, changes_: list[Change]) -> str:
    """Copy every path a push may change to the backup dir (``N.absent`` if it is absent)."""
    b = backup_dir(run)
    parts = [f"install -d -m 700 {q(b)}"]
    for i, path in enumerate(_all_paths(changes_, run.s)):
        p = q(path)
        parts.append(
            f"if [ -e {p} ] || [ -L {p} ]; then cp -a {p} {q(f'{b}/{i}')}; "
            f"else touch {q(f'{b}/{i}.absent')}; fi"
        )
    return "; ".join(parts[:1]) + " && { " + "; ".join(parts[1:]) + "; }"


def restore_command(run: Run, changes_: list[Change]) -> str:
    b = backup_dir(run)
    parts = []
    for i, path in enumerate(_all_paths(changes_, run.s)):
        p, saved = q(path), q(f"{b}/{i}")
        parts.append(
            f"if [ -e {q(f'{b}/{i}.absent')} ]; then rm -f {p}; "
            f"elif [ -e {saved} ] || [ -L {saved} ]; then cp -a {saved} {p}.dojangkok-old "
            f"&& mv -fT {p}.dojangkok-old {p}; fi"
        )
    return "; ".join(parts) + f"; echo restored from {q(b)}"


def install_command(changes_: list[Change], s: Settings) -> str:
    parts = []
    for c in changes_:
        f, d = c.file, q(c.file.dest)
        parts.append(
            f"install -m {f.mode} -o root -g root {q(staged(f, s))} {d}.dojangkok-new "
            f"&& mv -fT {d}.dojangkok-new {d}"
        )
        if f.kind == "nginx":
            link, disabled = nginx_links(s)
            if link:
                parts.append(
                    f"ln -sfn {d} {q(link)}.dojangkok-new && mv -fT {q(link)}.dojangkok-new {q(link)}"
                )
            if disabled:
                parts.append("rm -f " + " ".join(q(p) for p in disabled))
    return " && ".join(parts)


def _all_paths(changes_: list[Change], s: Settings) -> list[str]:
    return [p for c in changes_ for p in touched_paths(c.file, s)]


def apply_actions(changes_: list[Change]) -> list[tuple[str, ConfigFile]]:
    """What makes each changed file take effect, in apply order: (action, file)."""
    out: list[tuple[str, ConfigFile]] = []
    units = [c for c in changes_ if c.file.kind == "unit" and c.content_changed]
    if units:
        out.append(("daemon-reload", units[0].file))
    for c in changes_:
        if c.file.kind == "nginx":
            out.append(("reload", c.file))
        elif c.content_changed:  # a mode-only change needs no restart
            out.append(("restart", c.file))
    return out


def action_command(action: str, f: ConfigFile, s: Settings) -> str:
    if action == "daemon-reload":
        return "systemctl daemon-reload"
    if action == "reload":
        return f"{s.nginx_test_cmd} && {s.nginx_reload_cmd}"
    svc = q(f.service)
    enable = f"systemctl enable -q {svc} && " if f.kind == "unit" else ""
    return f"{enable}systemctl restart {svc}"


def check_command(f: ConfigFile, s: Settings) -> str:
    """After a reload/restart: is the service serving?"""
    if f.kind == "nginx":
        return shell.page(s.frontend_url, s.frontend_expect)
    if f.key == "backend":
        return shell.health(s.backend_health_url, s.backend_health_expect)
    if f.key == "ai":
        return shell.health(s.ai_health_url, s.ai_health_expect)
    return f"systemctl is-active --quiet {q(f.service)}"


def _schedule(f: ConfigFile):
    def schedule(run: Run) -> tuple[int, int]:
        s = run.s
        if f.key == "backend":
            return s.backend_health_tries, s.backend_health_interval
        if f.key == "ai":
            return s.ai_health_tries, s.ai_health_interval
        return 10, 2

    return schedule


ACTION_TITLES = {"daemon-reload": "systemd 설정 다시 읽기", "reload": "{svc} 설정 다시 읽기",
                 "restart": "{svc} 재시작"}  # fmt: skip


def _command(fn, *args):
    return lambda run: fn(*args, run.s)


def push_plan(changes_: list[Change], upload) -> tuple[Plan, object]:
    """The steps that apply ``changes_``, and the rollback that undoes them.

    ``upload(run)`` is the LOCAL action that puts the rendered files into staging.
    """
    names = ", ".join(PurePosixPath(c.file.dest).name for c in changes_)
    steps = [
        prepare_step(lambda run: [run.s.state_dir]),
        Step("1", "설정 파일 업로드 (스테이징)", "5초", "업로드 실패 시 중단", Policy.ABORT,
             kind=Kind.LOCAL, action=upload,
             command=lambda run: f"SFTP → {staging_dir(run.s)}/: {names}"),
        Step("2", "설정 검증 (적용 전)", "10초", "검증 실패 시 중단: 서버 설정은 그대로", Policy.ABORT,
             command=lambda run: validate_command(changes_, run.s), sudo=True),
        Step("3", "현재 설정 백업", "1초", "백업 실패 시 중단", Policy.ABORT,
             command=lambda run: backup_command(run, changes_), sudo=True),
        Step("4", "새 설정 적용", "1초", "실패 시 이전 설정 복원", Policy.ROLLBACK,
             command=lambda run: install_command(changes_, run.s), sudo=True),
    ]  # fmt: skip
    for action, f in apply_actions(changes_):
        title = ACTION_TITLES[action].format(svc=f.service)
        steps.append(Step(str(len(steps)), title, "10초", "실패 시 이전 설정 복원", Policy.ROLLBACK,
                          command=_command(action_command, action, f), sudo=True))  # fmt: skip
        if action != "daemon-reload":
            steps.append(Step(str(len(steps)), f"{f.service} 동작 확인", "30초",
                              "실패 시 이전 설정 복원", Policy.ROLLBACK, kind=Kind.POLL,
                              command=_command(check_command, f), schedule=_schedule(f)))  # fmt: skip

    def rollback(run: Run, reason: str = "") -> Plan:
        back = [
            Step("R1", "이전 설정 복원", "1초", "수동 복구", Policy.ABORT,
                 command=lambda run: restore_command(run, changes_), sudo=True),
        ]  # fmt: skip
        for action, f in apply_actions(changes_):
            title = ACTION_TITLES[action].format(svc=f.service) + " (이전 설정)"
            back.append(Step(f"R{len(back) + 1}", title, "10초", "수동 복구", Policy.ABORT,
                             command=_command(action_command, action, f), sudo=True))  # fmt: skip
            if action != "daemon-reload":
                back.append(Step(f"R{len(back) + 1}", f"{f.service} 동작 확인 (이전 설정)", "30초",
                                 "수동 복구", Policy.ABORT, kind=Kind.POLL,
                                 command=_command(check_command, f), schedule=_schedule(f)))  # fmt: skip
        return Plan("config", "CFG", "설정 복원", run.host.alias, "1분", "-", tuple(back))

    plan = Plan("config", "CFG", "설정 적용 (push-config)", "", "1분", "변경된 서비스의 재시작 시간",
                tuple(steps))  # fmt: skip
    return plan, rollback


# --- the push (the only part that talks to the host, through the runner) -----------------
def read_state(runner, files: list[ConfigFile], s: Settings) -> dict[str, str | None]:
    res = runner.sh(state_command(files, s), sudo=True)
    if not res.ok:
        raise ConfigError(
            f"cannot read the current config on the host: {res.tail(3)}",
            "check the ssh login and sudo for this host",
        )
    return parse_state(res.stdout)


def upload_action(changes_: list[Change]):
    def upload(run: Run) -> str:
        assert run.runner is not None
        st = staging_dir(run.s)
        dirs = " ".join(sorted({q(f"{st}/{c.file.key}") for c in changes_}))
        run.runner.sh(f"rm -rf {q(st)}", sudo=True)
        res = run.runner.sh(f"install -d -m 700 {q(st)} {dirs}")
        if not res.ok:
            raise RuntimeError(res.tail())
        for c in changes_:
            run.runner.put_text(c.new, staged(c.file, run.s), mode="644")
        return f"{len(changes_)}개 파일"

    return upload


def push_host(
    host: Host, secrets, runner, dry_run: bool = False, yes: bool = False
) -> list[Change]:
    """Render, diff, ask, then stage → validate → back up → install → reload/restart → check.

    Returns the changes (applied, or only shown with ``dry_run``). Raises StepFailed when a
    step failed: before step 4 nothing on the host changed; after it, the old config is back.
    """
    from tasks.checklist import ask
    from tasks.errors import StepFailed

    rendered = render(host)  # every template error is raised before the host is touched
    s = host.settings
    runner.out(f"=== 도장콕 설정 (push-config): {host.alias} ({host.address})"
               f"{' — DRY RUN' if dry_run else ''} ===")  # fmt: skip
    found = changes(rendered, read_state(runner, list(rendered), s), s)
    if not found:
        runner.out(f"no changes: {host.alias} already has the rendered config")
        return []
    for c in found:
        runner.out(c.diff(host.alias).rstrip("\n"))
    if dry_run:
        runner.out(f"dry run: {len(found)} file(s) would change; nothing was changed")
        return found
    run = Run("config", host, secrets, runner, yes=yes, kind="config")
    ok, _ = ask(f"{host.alias}에 위 설정 변경을 적용할까요?", run)
    if not ok:
        raise StepFailed("설정 적용을 취소했습니다", "서버의 설정은 그대로입니다")
    plan, rollback = push_plan(found, upload_action(found))
    report = runner.execute(plan, run, rollback=rollback)
    runner.summary(report)
    return found
