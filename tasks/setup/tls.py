"""Setup's TLS step on the CPU host: the site's certificate, by the setting ``tls``.

- ``acme`` (the default when ``server_name`` is a DNS name): certbot obtains the certificate
  with HTTP-01 through nginx's port 80 (``certbot certonly --webroot``). The webroot
  (``acme_webroot``) is root's: certbot writes there as root, so nothing the deploy login
  can change is in its way. Before any certificate exists nginx cannot load the HTTPS site,
  so the first issue goes through a bootstrap server (``conf.d/dojangkok-acme-bootstrap.conf``:
  port 80, the challenge path only), removed again at the end of the step; the site itself
  serves the same path on port 80 for every renewal (templates/nginx/site.conf.j2). The
  renewal is certbot's own timer (``certbot.timer``), with a deploy hook that reloads nginx.
  A private ACME server (the lab's pebble) is trusted through ``acme_ca_bundle``: installed
  root-owned and given to certbot (the step's run and the timer's unit, by a drop-in) as
  ``REQUESTS_CA_BUNDLE``. A second run obtains nothing while the certificate has 30 days or
  more left, covers server_name and came from ``acme_server``.
- ``provided``: ``tls_cert`` and ``tls_key`` on the host, checked: both exist, the key is the
  certificate's, its names cover server_name (a mismatch names both), the days left.
- ``off``: plain HTTP; the step says loudly that it is for testing only.

Either way the step ends by showing the certificate's names and expiry (fewer than 21 days
left: a note). Pure builders: nothing here touches a host.
"""

from __future__ import annotations

from pathlib import Path

from tasks.engine import staging
from tasks.engine.steps import Step, Upload
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hostfacts import ch, tracked
from tasks.hosts import site
from tasks.hosts.settings import Settings
from tasks.onhost.policy import Policy
from tasks.shell import q

CONF_DIR = "/etc/dojangkok-deploy"
ACME_CA = f"{CONF_DIR}/acme-ca.pem"
CERTBOT_DROPIN = "/etc/systemd/system/certbot.service.d/dojangkok-acme-ca.conf"
BOOTSTRAP = "/etc/nginx/conf.d/dojangkok-acme-bootstrap.conf"
#: what certbot runs after each renewal (kept in its renewal config)
DEPLOY_HOOK = "systemctl reload nginx"
#: setup obtains a new certificate when fewer days are left (certbot's own renewal margin)
RENEW_DAYS = 30
#: fewer days left than this: setup and `fab health` warn
WARN_DAYS = 21
OFF_NOTE = (
    "tls=off: 평문 HTTP로 제공합니다. 시험용으로만 쓰십시오 (브라우저와 API 호출이 암호화되지 않음)"
)


def template_vars(s: Settings) -> dict[str, str]:
    """The site template's TLS variables: the mode and the files nginx reads."""
    cert, key = site.cert_paths(s)
    return {"tls": site.tls_mode(s), "tls_cert": cert, "tls_key": key}


def live_dir(s: Settings) -> str:
    return f"/etc/letsencrypt/live/{s.acme_cert_name}"


# --- shell pieces ----------------------------------------------------------------------------
def cert_report(cert: str, names: list[str], what: str) -> str:
    """Fails unless ``cert`` is valid now and covers every name (the error names both);
    prints its names, expiry and days left; a note under WARN_DAYS."""
    c = q(cert)
    wanted = " ".join(names)
    mismatch = q(f"{what}의 이름이 server_name을 포함하지 않습니다: server_name {wanted}, 인증서 ")
    fix = q("(이 이름들의 인증서를 쓰거나, server_name을 인증서의 이름으로 고치십시오)")
    checks = " ".join(
        f"openssl x509 -in {c} -noout -checkhost {q(n)} | grep -q ' does match' || miss=1;"
        for n in names
    )
    return (
        f"sans=$(openssl x509 -in {c} -noout -ext subjectAltName 2>/dev/null | tail -n +2 "
        "| tr -d ' \\n'); "
        f"subj=$(openssl x509 -in {c} -noout -subject -nameopt RFC2253 | sed 's/^subject=//'); "
        f"miss=; {checks} "
        f'if [ -n "$miss" ]; then echo {mismatch}"${{sans:-$subj}}" {fix} >&2; exit 1; fi; '
        f"end=$(openssl x509 -in {c} -noout -enddate | cut -d= -f2); "
        'days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 )); '
        f"if ! openssl x509 -in {c} -noout -checkend 0 >/dev/null; then "
        f'echo {q(f"{what}가 만료되었습니다:")}" $end" >&2; exit 1; fi; '
        f'echo "{what}: ${{sans:-$subj}}; 만료 $end (${{days}}일 남음)"; '
        f'if [ "$days" -lt {WARN_DAYS} ]; then note "인증서 만료까지 ${{days}}일"; fi'
    )


def bootstrap_conf(s: Settings) -> str:
    """Port 80, the challenge path only: nginx answers HTTP-01 before any certificate exists."""
    return (
        "# Managed by dojangkok-deploy (setup's TLS step, removed when it ends): HTTP-01 before\n"
        "# the site has a certificate.\n"
        "server {\n    listen 80;\n    listen [::]:80;\n"
        f"    server_name {' '.join(site.names(s))};\n"
        "    location ^~ /.well-known/acme-challenge/ {\n"
        f"        root {s.acme_webroot};\n        default_type text/plain;\n"
        "        try_files $uri =404;\n    }\n"
        "    location / {\n        return 404;\n    }\n}"
    )


def staged_ca(v: RunView) -> str:
    """Where the CA bundle lands: the root step's own root-only directory (staging.py)."""
    return staging.path("acme-ca.pem")


def _ca_bytes(s: Settings) -> bytes:
    path = Path(s.acme_ca_bundle)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"acme_ca_bundle {path}: 이 컴퓨터에서 읽지 못했습니다 ({exc.strerror})",
            "acme_ca_bundle에 ACME 서버의 인증서를 서명한 CA 번들(PEM)을 지정하거나, 공개 ACME "
            "서버라면 비워 두십시오",
        ) from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ConfigError(f"acme_ca_bundle {path}에 PEM 인증서가 없습니다",
                          "PEM 파일(-----BEGIN CERTIFICATE-----)을 지정하십시오")  # fmt: skip
    return data


def uploads(v: RunView) -> tuple[Upload, ...]:
    s = v.s
    if site.tls_mode(s) != "acme" or not s.acme_ca_bundle:
        return ()
    return (Upload(staged_ca(v), "644", f"ACME 서버의 CA ({s.acme_ca_bundle})",
                   lambda secrets: _ca_bytes(s).decode()),)  # fmt: skip


def _ca_trust(v: RunView) -> str:
    """acme_ca_bundle installed root-owned (the upload arrives on the root command's own
    standard input in its root-only directory, tasks/engine/staging.py) and given to certbot,
    here and in its timer's unit; empty: both removed."""
    s, ca, dropin = v.s, q(ACME_CA), q(CERTBOT_DROPIN)
    if not s.acme_ca_bundle:
        return (
            f"if [ -e {dropin} ]; then rm -f -- {dropin}; systemctl daemon-reload; "
            f"{ch(CERTBOT_DROPIN)}; fi; if [ -e {ca} ]; then rm -f -- {ca}; {ch(ACME_CA)}; fi"
        )
    _ca_bytes(s)  # an unreadable or non-PEM bundle is refused here, before any host is touched
    unit = f"[Service]\nEnvironment=REQUESTS_CA_BUNDLE={ACME_CA}\n"
    return (
        f'cp -- "{staged_ca(v)}" "$tmp/ca.pem"; '
        f"install -d -m 755 -- {q(CONF_DIR)}; "
        f'cmp -s -- "$tmp/ca.pem" {ca} || {{ install -m 644 -- "$tmp/ca.pem" {ca}; {ch(ACME_CA)}; }}; '
        f'printf %s {q(unit)} > "$tmp/dropin"; '
        f'cmp -s -- "$tmp/dropin" {dropin} || {{ install -d -m 755 -- {q(str(Path(CERTBOT_DROPIN).parent))}; '
        f'install -m 644 -- "$tmp/dropin" {dropin}; systemctl daemon-reload; {ch(CERTBOT_DROPIN)}; }}; '
        f"export REQUESTS_CA_BUNDLE={ca}"
    )


def certbot_command(s: Settings) -> str:
    """certonly with HTTP-01 through the webroot: the renewal config keeps the webroot, the
    server and the deploy hook, so certbot's timer renews the same way."""
    domains = " ".join(f"-d {q(n)}" for n in site.names(s))
    email = f"--email {q(s.acme_email)} --no-eff-email" if s.acme_email else (
        "--register-unsafely-without-email")  # fmt: skip
    return (
        f"certbot certonly --non-interactive --agree-tos {email} --server {q(s.acme_server)} "
        f"--webroot -w {q(s.acme_webroot)} --cert-name {q(s.acme_cert_name)} {domains} "
        f"--force-renewal --deploy-hook {q(DEPLOY_HOOK)}"
    )


def acme_command(v: RunView) -> str:
    s = v.s
    names = site.names(s)
    wr, cert = q(s.acme_webroot), q(f"{live_dir(s)}/fullchain.pem")
    renewal = q(f"/etc/letsencrypt/renewal/{s.acme_cert_name}.conf")
    boot, main = q(BOOTSTRAP), names[0]
    probe = f"{s.acme_webroot}/.well-known/acme-challenge/dojangkok-probe"
    covers = " ".join(
        f"openssl x509 -in {cert} -noout -checkhost {q(n)} | grep -q ' does match' "
        f"|| need={q(f'인증서에 {n} 없음')};"
        for n in names
    )
    return tracked(
        "tmp=$(mktemp -d); boot=; "
        'trap \'rm -rf -- "$tmp"; if [ -n "$boot" ]; then rm -f -- "$boot"; '
        "nginx -t -q 2>/dev/null && systemctl reload nginx; fi; true' EXIT; "
        # the webroot: root's alone (certbot writes there as root)
        f"if [ -L {wr} ] || {{ [ -e {wr} ] && [ ! -d {wr} ]; }}; then echo "
        + q(
            f"acme_webroot {s.acme_webroot}가 디렉터리가 아닙니다 (링크?): 지우고 다시 실행하십시오"
        )
        + " >&2; exit 1; fi; "
        f"if [ ! -d {wr} ]; then install -d -m 755 -o root -g root -- {wr}; {ch(s.acme_webroot)}; "
        f'elif [ "$(stat -c "%u:%g %a" -- {wr})" != "0:0 755" ]; then chown root:root -- {wr}; '
        f"chmod 755 -- {wr}; {ch(f'{s.acme_webroot} (root, 755)')}; fi; "
        f"{_ca_trust(v)}; "
        "command -v certbot >/dev/null 2>&1 || { echo "
        + q("certbot이 설치되어 있지 않습니다: host_packages에 certbot을 넣거나 비워 두십시오")
        + " >&2; exit 1; }; "
        # a new certificate only when there is none, it expires soon, its names or server
        # changed, or its renewal would not go through the webroot and reload nginx
        f"need=; if [ ! -s {cert} ]; then need='인증서 없음'; "
        f"elif ! openssl x509 -in {cert} -noout -checkend {RENEW_DAYS * 86400} >/dev/null; then "
        f"need='만료까지 {RENEW_DAYS}일 미만'; else {covers} "
        f"grep -qxF {q(f'server = {s.acme_server}')} {renewal} 2>/dev/null || need='acme_server 바뀜'; "
        f"grep -qx 'authenticator = webroot' {renewal} 2>/dev/null "
        f"&& grep -qxF {q(f'renew_hook = {DEPLOY_HOOK}')} {renewal} || need='갱신 설정이 다름'; fi; "
        'if [ -n "$need" ]; then '
        # nginx answers the challenge on port 80 before any certificate exists
        f"boot={boot}; printf '%s\\n' {q(bootstrap_conf(s))} > \"$boot\"; "
        "systemctl is-active -q nginx || systemctl start nginx; "
        "nginx -t -q || { echo "
        + q("HTTP-01용 임시 서버를 넣은 nginx 설정이 nginx -t를 통과하지 못합니다 (위 출력)")
        + " >&2; exit 1; }; systemctl reload nginx; "
        f"install -d -m 755 -- {q(str(Path(probe).parent))}; "
        f'token=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d " \\n"); echo "$token" > {q(probe)}; '
        "served=; for _ in $(seq 25); do "
        f'if [ "$(curl -fsS --max-time 2 --resolve {q(f"{main}:80:127.0.0.1")} '
        f'{q(f"http://{main}/.well-known/acme-challenge/dojangkok-probe")} 2>/dev/null)" = "$token" ]; '
        f"then served=1; break; fi; sleep 0.2; done; rm -f -- {q(probe)}; "
        '[ -n "$served" ] || { echo '
        + q(
            f"nginx가 포트 80에서 {main}의 {s.acme_webroot}를 제공하지 않습니다: HTTP-01이 통과할 수 없습니다"
        )
        + " >&2; exit 1; }; "
        f"{certbot_command(s)} || {{ echo "
        + q(
            f"certbot이 {s.acme_server}에서 인증서를 받지 못했습니다 (위 출력): {main}의 포트 80이 "
            f"인터넷에 열려 있는지, {main}이 이 서버를 가리키는지 확인하십시오"
        )
        + ' >&2; exit 1; }; ch "certificate ($need)"; fi; '
        # the renewal: certbot's timer
        "systemctl is-enabled -q certbot.timer || { systemctl enable -q certbot.timer; "
        'ch "enabled certbot.timer"; }; '
        'systemctl is-active -q certbot.timer || { systemctl start certbot.timer; ch "started certbot.timer"; }; '
        + cert_report(f"{live_dir(s)}/fullchain.pem", names, "인증서"),
        f"certificate {s.acme_cert_name} ({', '.join(names)})",
    )


def provided_command(v: RunView) -> str:
    s = v.s
    c, k = q(s.tls_cert), q(s.tls_key)
    return tracked(
        f"[ -f {c} ] || {{ echo {q(f'tls_cert {s.tls_cert}: 이 서버에 없는 파일입니다')} >&2; exit 1; }}; "
        f"[ -f {k} ] || {{ echo {q(f'tls_key {s.tls_key}: 이 서버에 없는 파일입니다')} >&2; exit 1; }}; "
        f"a=$(openssl x509 -in {c} -noout -pubkey | sha256sum) && b=$(openssl pkey -in {k} -pubout | sha256sum) "
        f'&& [ "$a" = "$b" ] || {{ echo '
        + q(f"tls_key {s.tls_key}는 tls_cert {s.tls_cert}의 키가 아닙니다 (공개 키가 다름)")
        + " >&2; exit 1; }; "
        + cert_report(s.tls_cert, site.names(s), "제공된 인증서"),
        f"tls_cert {s.tls_cert}",
    )


def off_command(v: RunView) -> str:
    return tracked(f"echo {q('!!! ' + OFF_NOTE)}; note {q(OFF_NOTE)}", "tls=off")


def command(v: RunView) -> str:
    mode = site.require_tls(v.s, f"호스트 {v.host.alias}")
    return {"acme": acme_command, "provided": provided_command, "off": off_command}[mode](v)


def step(number: str) -> Step:
    return Step(
        number, "TLS 인증서", "30초", "인증서·포트 80 확인", Policy.ABORT,
        uploads=uploads, command=command, sudo=True,
        added="tls=acme: certbot이 포트 80(HTTP-01, root 소유 webroot)으로 인증서를 받고 "
              "certbot.timer가 갱신한다 (갱신 후 nginx reload); 인증서가 아직 없으면 포트 80의 "
              "임시 서버로 먼저 받는다. tls=provided: 운영자의 인증서·키가 있고 짝이 맞고 "
              "server_name을 포함하는지 확인. tls=off: 평문 HTTP (시험용). 이름과 남은 날을 보인다",
    )  # fmt: skip
