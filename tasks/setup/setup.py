"""`fab -H cpu setup` / `fab -H gpu setup`: a bare Debian/Ubuntu host to serving.

The plan (section S, numbered in order): packages, service accounts, directories, swap, the
database and its accounts (cpu), then per component (tasks/setup/setup_apps.py): the
checkout, its .env, the paths the service writes, the first build (or the AI venv), then the
config (push-config: units, nginx site, MySQL config), the services enabled and started, and
a health check. Every step is idempotent and says what it changed (tasks/procedures/
hostfacts.py); a second run changes nothing and says so. Passwords travel on the root
command's own standard input into a directory only root can read (tasks/engine/staging.py),
never on a command line. Settings left empty that depend on the host (database server,
its unit and config file, python, packages) are detected there first (detect.py).
"""

from __future__ import annotations

from tasks.apps import env as appenv
from tasks.apps import registry
from tasks.apps.base import strategy_for
from tasks.apps.common import prepare_step
from tasks.apps.database.backup import option_text
from tasks.engine import safepath, staging
from tasks.engine.steps import Plan, Step, Upload
from tasks.engine.view import RunView
from tasks.hostfacts import ch, tracked
from tasks.hosts import values
from tasks.hosts.inventory import Host
from tasks.hosts.settings import Settings
from tasks.onhost.policy import Policy
from tasks.setup import firewall, privilege, setup_apps, tls
from tasks.shell import q
from tasks.strategies.release import switchtable

#: the deploy login (who runs the deploys: git pull, builds) owns the code and the web root;
#: a shell word: the inventory's ansible_user, else whoever ran sudo (RunView.login)
LOGIN = '"$SUDO_USER"'


def roles(host: Host) -> set[str]:
    return registry.roles(host.groups, host.alias) or set(registry.GROUPS)


def service_users(s: Settings, host_roles: set[str]) -> list[str]:
    return ([s.backend_user] if "cpu" in host_roles else []) + (
        [s.ai_user] if "gpu" in host_roles else []
    )


# --- the system --------------------------------------------------------------------------
def packages_command(packages: list[str]) -> str:
    """Install what is missing (apt-get); "name|command": a present command is enough."""
    names = " ".join(q(p) for p in packages)
    return tracked(
        f"missing=; for p in {names}; do name=${{p%%|*}}; cmd=${{p#*|}}; "
        '[ "$cmd" != "$p" ] && command -v "$cmd" >/dev/null 2>&1 && continue; '
        "[ \"$(dpkg-query -W -f='${Status}' \"$name\" 2>/dev/null)\" = 'install ok installed' ] "
        '|| missing="$missing $name"; done; '
        'if [ -n "$missing" ]; then export DEBIAN_FRONTEND=noninteractive; '
        "apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; "
        'ch "installed$missing"; fi',
        f"{len(packages)} packages installed",
    )


def users_command(users: list[str]) -> str:
    """System accounts without a login shell or home, one group each; existing ones stay."""
    parts = []
    for u in users:
        u = values.user_name(u, "service user")
        parts.append(
            f"id -u {q(u)} >/dev/null 2>&1 || {{ useradd --system --user-group --no-create-home "
            f"--home-dir /nonexistent --shell /usr/sbin/nologin {q(u)}; {ch(f'user {u}')}; }}"
        )
    return tracked("; ".join(parts) or "true", ", ".join(users) or "서비스 사용자 없음")


def directories(
    s: Settings, host_roles: set[str], owner: str = LOGIN
) -> list[tuple[str, str, str]]:
    """(path, mode, owner) for every directory the deploys and services use: the deploy
    login's, so a deploy needs no root to write them (with strategy=release, the release
    roots too)."""
    dirs = [(s.state_dir, "755", owner)]
    if setup_apps.needs_keys_dir(s):
        dirs.append((setup_apps.keys_dir(s), "700", owner))
    if "cpu" in host_roles:
        dirs += [
            (s.frontend_dir, "755", owner),
            (s.backend_dir, "755", owner),
            (s.web_root, "755", owner),
            (s.frontend_backup_dir, "755", owner),
            (s.backup_dir, "700", owner),  # database dumps
        ]
    if "gpu" in host_roles:
        dirs.append((s.ai_dir, "755", owner))
    if strategy_for(s).keeps_releases:
        dirs.append((s.releases_root, "755", owner))
    return dirs


def directories_command(s: Settings, host_roles: set[str], owner: str = LOGIN) -> str:
    """As root, never through a link (tasks/engine/safepath.py): each directory made or
    given its owner and mode; a link root made itself (the release strategy's web root) is
    left as it is. Then the env files the units read (:func:`env_files`)."""
    parts = []
    for path, mode, who in directories(s, host_roles, owner):
        p = q(path)
        parts.append(
            f'if [ -L {p} ] && [ "$(stat -c %u -- {p})" = 0 ]; then :; '  # the web root's link
            f"else {safepath.own('dir', path, mode, who)}; fi"
        )
    env = env_files(s, host_roles, owner)
    return tracked(
        f"{safepath.OWN_FN}; " + "; ".join(parts + env),
        f"{len(parts)} directories" + (", the services' env files" if env else ""),
    )


def env_files(s: Settings, host_roles: set[str], owner: str = LOGIN) -> list[str]:
    """The env files the services' units read (EnvironmentFile=), in a directory only root
    writes (tasks/apps/env.py): owned by the deploy login, who writes them (setup's
    .env steps), group the service's, 0640."""
    apps = [appenv.of(c.name, s) for c in registry.ORDER if c.group in host_roles]
    apps = [a for a in apps if a.service]
    if not apps:
        return []
    return [
        safepath.own("dir", s.env_dir, "755", "root"),
        *(safepath.own("file", a.path, appenv.MODE, owner, q(a.group)) for a in apps),
    ]


SWAP_SKIPPED = "swap: 컨테이너에서는 swapon을 쓸 수 없습니다 (swapon not permitted)"


def swap_command(s: Settings) -> str:
    """Create, enable and register the swap file; skip (exit 0) where swapon is not allowed."""
    f, name = q(s.swap_file), s.swap_file
    fstab_line = q(f"{name} none swap sw 0 0")
    register = (
        f'f={f} awk \'$1 == ENVIRON["f"] && $3 == "swap" {{ found = 1 }} END {{ exit !found }}\' '
        f'/etc/fstab || {{ echo {fstab_line} >> /etc/fstab; ch "/etc/fstab"; }}'
    )
    return tracked(
        f"bytes=$(numfmt --from=iec -- {q(s.swap_size)}) || exit 1; "
        f"if swapon --show=NAME --noheadings | grep -qxF -- {f}; then {register}; "
        f"echo {q(f'swap {name}: 이미 켜져 있습니다 (already on)')}; else "
        f'if [ ! -f {f} ] || [ "$(stat -c %s -- {f})" != "$bytes" ]; then rm -f -- {f}; '
        f'fallocate -l "$bytes" -- {f} 2>/dev/null '
        f"|| dd if=/dev/zero of={f} bs=1M count=$((bytes / 1048576)) status=none || exit 1; "
        f"chmod 600 -- {f}; mkswap -- {f} >/dev/null || exit 1; {ch(f'{name} ({s.swap_size})')}; fi; "
        f"chmod 600 -- {f}; "
        f'if out=$(swapon -- {f} 2>&1); then {register}; ch "swap on"; '
        "elif virt=$(systemd-detect-virt --container); then "
        f'echo {q(f"{name}: 준비했지만 켜지 못했습니다:")}" $out"; note "{SWAP_SKIPPED} ($virt): 건너뜀"; '
        'else echo "$out" >&2; exit 1; fi; fi',
        f"swap {name}",
    )


# --- database ----------------------------------------------------------------------------
def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_name(value: str) -> str:
    return "`" + value.replace("`", "``") + "`"


def database_sql(db: str, user: str, password: str) -> str:
    """The database and its app account (the password is kept in step with .env)."""
    account = f"{_sql_string(user)}@'localhost'"
    return (
        f"CREATE DATABASE IF NOT EXISTS {_sql_name(db)} "
        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n"
        f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {_sql_string(password)};\n"
        f"ALTER USER {account} IDENTIFIED BY {_sql_string(password)};\n"
        f"GRANT ALL PRIVILEGES ON {_sql_name(db)}.* TO {account};\n"
        "FLUSH PRIVILEGES;\n"
    )


#: what mysqldump needs (--single-transaction --routines --triggers --no-tablespaces) on one
#: database: its tables and views, their triggers, LOCK TABLES for non-transactional tables
_DUMP_RIGHTS = "SELECT, SHOW VIEW, TRIGGER, LOCK TABLES"


def backup_account_sql(server: str, db: str, user: str, password: str) -> str:
    """The backup account with exactly the rights a dump needs (any other it had is taken
    back), its password kept in step with .env. Routines' bodies: MySQL 8 grants
    SHOW_ROUTINE; MariaDB shows them to whoever may read mysql.proc."""
    account = f"{_sql_string(user)}@'localhost'"
    routines = (
        f"GRANT SELECT ON `mysql`.`proc` TO {account};\n"
        if server == "mariadb"
        else f"GRANT SHOW_ROUTINE ON *.* TO {account};\n"
    )
    return (
        f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {_sql_string(password)};\n"
        f"ALTER USER {account} IDENTIFIED BY {_sql_string(password)};\n"
        f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account};\n"
        f"GRANT {_DUMP_RIGHTS} ON {_sql_name(db)}.* TO {account};\n"
        f"{routines}FLUSH PRIVILEGES;\n"
    )


def admin_password_sql(server: str, user: str, password: str) -> str:
    """The admin account (db_user) gets the .env password, keeping root's socket login where
    the server can have both (MariaDB); MySQL's root then logs in with the password."""
    account = f"{_sql_string(user)}@'localhost'"
    if server == "mariadb":
        how = f"VIA unix_socket OR mysql_native_password USING PASSWORD({_sql_string(password)})"
    else:
        how = f"WITH caching_sha2_password BY {_sql_string(password)}"
    return f"ALTER USER {account} IDENTIFIED {how};\nFLUSH PRIVILEGES;\n"


def _file(v: RunView, what: str) -> str:
    """Where a database upload lands: the step's root-only directory (tasks/engine/staging.py)."""
    return staging.path(f"db.{what}")


def database_uploads(v: RunView) -> tuple[Upload, ...]:
    """The SQL (with the passwords) and the option files, all 0600."""
    s = v.s

    def sql(secrets) -> str:
        password = secrets.require(s.db_app_password_env, "앱의 DB 계정")
        return database_sql(s.db_name, s.db_app_user, password)

    def admin_sql(secrets) -> str:
        password = secrets.get(s.db_password_env)
        return admin_password_sql(s.db_server, s.db_user, password) if password else ""

    def app_opt(secrets) -> str:
        return option_text(s.db_app_user, secrets.require(s.db_app_password_env, "앱의 DB 계정"))

    def backup_password(secrets) -> str:
        return secrets.require(s.db_backup_password_env, "백업용 DB 계정")

    return (
        Upload(_file(v, "sql"), "600", f"DB와 앱 계정 SQL (.env의 {s.db_app_password_env})", sql),
        Upload(_file(v, "admin.sql"), "600", f"{s.db_user} 비밀번호 SQL (.env의 {s.db_password_env})",
               admin_sql),
        Upload(_file(v, "cnf"), "600", f"MySQL 접속 정보 ({s.db_user}, .env의 {s.db_password_env})",
               lambda secrets: option_text(s.db_user, secrets.get(s.db_password_env))),
        Upload(_file(v, "app.cnf"), "600", f"MySQL 접속 정보 ({s.db_app_user})", app_opt),
        Upload(_file(v, "backup.sql"), "600", f"백업 계정 SQL (.env의 {s.db_backup_password_env})",
               lambda secrets: backup_account_sql(s.db_server, s.db_name, s.db_backup_user,
                                                  backup_password(secrets))),
        Upload(_file(v, "backup.cnf"), "600", f"MySQL 접속 정보 ({s.db_backup_user})",
               lambda secrets: option_text(s.db_backup_user, backup_password(secrets))),
    )  # fmt: skip


def database_command(v: RunView) -> str:
    """Log in as the admin (its .env password over TCP, else root by the socket on a fresh
    server, which then gets the password); create what the app's login shows is missing."""
    s = v.s
    tcp = "--protocol=tcp -h 127.0.0.1"
    return tracked(
        f'sql="{_file(v, "sql")}"; asql="{_file(v, "admin.sql")}"; opt="{_file(v, "cnf")}"; '
        f'aopt="{_file(v, "app.cnf")}"; bsql="{_file(v, "backup.sql")}"; bopt="{_file(v, "backup.cnf")}"; '
        f'if mysql --defaults-extra-file="$opt" {tcp} -e "SELECT 1" >/dev/null 2>&1; then '
        f'admin=(--defaults-extra-file="$opt" {tcp}); '
        'elif mysql --protocol=socket -uroot -e "SELECT 1" >/dev/null 2>&1; then '
        'admin=(--protocol=socket -uroot); if [ -s "$asql" ]; then mysql "${admin[@]}" < "$asql"; '
        f"{ch(f'{s.db_user} password')}; fi; "
        f"else echo {q(f'{s.db_server}에 {s.db_user}로 로그인하지 못했습니다 (cannot log in to {s.db_server} as {s.db_user}): .env의 {s.db_password_env}로도(TCP), unix 소켓의 root로도 안 됩니다')} >&2; "
        f"echo {q(f'{s.db_service}가 실행 중인지, .env의 {s.db_password_env}가 호스트의 비밀번호와 같은지 확인하십시오')} >&2; exit 1; fi; "
        f'mysql --defaults-extra-file="$aopt" {tcp} -e "SELECT 1" {q(values.db_name(s.db_name, "db_name"))} >/dev/null 2>&1 '
        f'|| {{ mysql "${{admin[@]}}" < "$sql"; {ch(f"database {s.db_name}, account {s.db_app_user}")}; }}; '
        f'mysql --defaults-extra-file="$bopt" {tcp} -e "SELECT 1" {q(s.db_name)} >/dev/null 2>&1 '
        f'|| {{ mysql "${{admin[@]}}" < "$bsql"; {ch(f"backup account {s.db_backup_user}")}; }}',
        f"{s.db_name}, {s.db_app_user}@localhost, {s.db_backup_user}@localhost",
    )


# --- the plan ----------------------------------------------------------------------------
def plan(view: RunView, push=None) -> Plan:
    """The whole setup of ``view.host``. ``push``: the push-config action (the flow's);
    without it (dry run, runbook) the step only describes it."""
    r = roles(view.host)
    s = view.s
    n = iter(range(1, 100))

    def nr() -> str:
        return str(next(n))

    steps = [
        prepare_step(lambda v: [v.s.state_dir], root=True),
        Step(nr(), "패키지 확인 (없으면 설치)", "1초", "apt 저장소·네트워크 확인", Policy.ABORT,
             command=lambda v: packages_command(v.s.host_packages), sudo=True,
             added="배포판에 맞는 패키지 이름 (fab settings -H 호스트로 확인)"),
        *([tls.step("1a")] if "cpu" in r else []),  # a provided certificate: checked early
        Step(nr(), "서비스 계정 생성", "1초", "계정 생성 실패 시 중단", Policy.ABORT,
             command=lambda v: users_command(service_users(v.s, r)), sudo=True),
        Step(nr(), "디렉터리와 서비스의 .env 파일 (소유자·권한)", "1초",
             "심볼릭 링크면 지우고 다시 실행, 권한 확인", Policy.ABORT,
             command=lambda v: directories_command(v.s, r, v.login), sudo=True,
             added="root는 링크를 따라가지 않는다 (배포 계정이 심어 둔 링크는 이름을 대고 거부); "
                   f"유닛이 읽는 .env는 root만 쓰는 {s.env_dir}에"),
        Step(nr(), "스왑 파일", "30초", "디스크 공간 확인", Policy.ABORT,
             command=lambda v: swap_command(v.s), sudo=True,
             skip_if=lambda v: None if v.s.swap_size else "swap_size가 비어 있음"),
    ]  # fmt: skip
    if "cpu" in r:
        steps.append(
            Step(nr(), "데이터베이스와 계정", "5초", f"{s.db_service or 'DB'} 상태 확인", Policy.ABORT,
                 uploads=database_uploads, command=database_command, sudo=True,
                 added="비밀번호는 명령줄이 아닌 0600 파일(SQL, --defaults-extra-file)로 전달; "
                       "관리자(db_user)도 .env의 비밀번호로 로그인하게 한다 (복원); 백업 전용 계정 "
                       "(db_backup_user)은 덤프에 필요한 권한만 (B3 백업)")
        )  # fmt: skip
    comps = [c for c in registry.ORDER if c.group in r]
    steps += setup_apps.app_steps(view, comps, nr)
    steps += setup_apps.final_steps(view, comps, nr, push)
    if switchtable.converted_pairs(view):
        steps.append(
            Step(nr(), "blue/green 전환 테이블 (nftables, nginx 리로드 없는 전환)", "1초",
                 "nft·nginx -t 출력 확인", Policy.ABORT, uploads=switchtable.uploads,
                 command=switchtable.setup_command, sudo=True,
                 added="release 방식으로 전환된 blue/green 쌍마다: nginx upstream은 고정된 전환 포트를 "
                       "가리키고, 도구의 nftables 테이블(방화벽과 별개)이 그 포트로 오는 새 연결을 서빙 "
                       "중인 인스턴스로 보낸다; 부팅 때는 dojangkok-switch@ 유닛이 테이블을 다시 올린다. "
                       "전환 테이블 전에 설정된 호스트는 지금 포트로 테이블을 만들고 upstream을 바꿔 "
                       "nginx를 한 번 리로드한다")
        )  # fmt: skip
    steps.append(
        Step(nr(), "방화벽 (nftables)", "1초", "nft -c 출력 확인, SSH 접속 확인", Policy.ABORT,
             uploads=firewall.uploads, command=firewall.command, sudo=True,
             added="매뉴얼의 '최소 포트만 개방, SSH는 출발지 IP 제한': 도구의 테이블(inet "
                   "dojangkok)만 nft -c로 검사한 뒤 한 번에 교체하고 현재 SSH 세션은 유지; CPU는 "
                   "SSH·80·443, GPU는 SSH와 CPU 호스트에서 오는 AI 포트만; firewall=off면 그 "
                   "테이블을 지운다")
    )  # fmt: skip
    steps.append(
        Step(nr(), "최소 권한 sudo (배포 계정)", "1초", "visudo 출력 확인", Policy.ABORT,
             uploads=privilege.uploads, command=privilege.command, sudo=True,
             added="배포 계정은 root 헬퍼(/usr/local/sbin/dojangkok-root)만 sudo로 실행한다: 앱 "
                   "유닛의 systemctl, nginx -t와 리로드, blue/green 전환; sudoers 조각은 visudo -cf로 "
                   "검사한 뒤 설치; 저널·앱 그룹에 넣어 로그는 root 없이 읽는다")
    )  # fmt: skip
    where = " + ".join(f"{'CPU' if g == 'cpu' else 'GPU'} Instance" for g in sorted(r))
    return Plan("setup", "S", "서버 준비 (setup)", where, "약 3분 (처음), 10초 (다시)", "0분",
                tuple(steps))  # fmt: skip
