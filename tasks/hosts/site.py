"""The site's names and how it is asked: which TLS mode, which URL, resolved to which address.

Pure facts derived from the settings (nothing here touches a host):

- :func:`names`: the DNS names of ``server_name`` (space-separated; ``_`` means any name);
- :func:`tls_mode`: ``tls``, or, left empty, ``acme`` when ``server_name`` is a DNS name;
  :func:`require_tls` refuses what cannot work (acme without a DNS name, provided without the
  files, a name nginx matches by pattern);
- :func:`page_url`: what a check on the host asks: ``https://<name>/`` (``http://`` with
  tls=off), and :func:`resolve_for`: curl's ``--resolve <name>:<port>:127.0.0.1`` for a
  URL on one of the site's names, so the check asks nginx on this very host by the name its
  certificate carries, verifying it (no certificate lists localhost).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from tasks.errors import ConfigError

#: a fully qualified DNS name: labels of letters, digits and -, a dot, a top-level name
_DNS = re.compile(
    r"(?=.{4,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,61}"
)
#: what server_name may hold besides DNS names: host names, IP addresses, a leading wildcard
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})")
_WILDCARD = re.compile(r"\*\.(?:[A-Za-z0-9-]+\.)*[A-Za-z0-9-]+")
LOOPBACK = "127.0.0.1"
MODES = ("acme", "provided", "off")


def is_dns_name(name: str) -> bool:
    return bool(_DNS.fullmatch(name)) and not _is_ip(name)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def server_name_problem(value: str) -> str | None:
    """Why ``value`` is no server_name this tool can use (None: it is): ``_``, or DNS names,
    IP addresses and ``*.`` wildcards separated by spaces (nginx's regex names are refused:
    no check or certificate could follow them)."""
    parts = str(value).split()
    if parts == ["_"]:
        return None
    if not parts:
        return "비어 있습니다"
    for part in parts:
        if not (_HOST.fullmatch(part) or _is_ip(part) or _WILDCARD.fullmatch(part)):
            return f"{part!r}는 호스트 이름, IP 주소, *. 와일드카드 어느 것도 아닙니다"
    return None


def names(s) -> list[str]:
    """The site's names (``_``: none); a value that is no list of names is refused here too
    (the builders use each name as a word)."""
    problem = server_name_problem(s.server_name)
    if problem:
        raise ConfigError(f"설정 server_name: {problem}: {s.server_name!r}",
                          "사이트의 DNS 이름을 공백으로 구분해 쓰십시오")  # fmt: skip
    return [n for n in str(s.server_name).split() if n != "_"]


def main_name(s) -> str:
    """The name the checks ask (the first one), or localhost when there is none (tls=off)."""
    found = names(s)
    return found[0] if found else "localhost"


def tls_mode(s) -> str:
    """acme | provided | off; ``""`` when ``tls`` is empty and server_name is no DNS name."""
    if s.tls:
        return s.tls
    found = names(s)
    return "acme" if found and all(is_dns_name(n) for n in found) else ""


def require_tls(s, where: str = "") -> str:
    """The TLS mode, or a ConfigError naming the settings to write (before any host)."""
    mode, found = tls_mode(s), names(s)
    at = f" ({where})" if where else ""
    if mode and mode not in MODES:
        raise ConfigError(
            f"tls={mode!r}{at}: 알 수 없는 TLS 방식입니다",
            f"다음 중 하나를 쓰십시오: {', '.join(MODES)}",
        )
    if not mode:
        raise ConfigError(
            f"server_name={s.server_name!r}{at}: DNS 이름이 아니어서 인증서를 받을 수 없습니다 "
            "(tls가 비어 있으면 server_name이 DNS 이름일 때 acme로 정합니다)",
            "server_name에 사이트의 DNS 이름을 적거나(예: server_name=dojangkok.example.com), "
            "tls=provided와 tls_cert, tls_key를 적거나, tls=off(평문 HTTP, 테스트 전용)로 "
            "설정하십시오",
        )
    if mode == "acme":
        bad = [n for n in found if not is_dns_name(n)] or ([] if found else ["_"])
        if bad:
            raise ConfigError(
                f"tls=acme{at}: server_name의 {', '.join(bad)}는 HTTP-01로 증명할 수 없습니다 "
                "(이 호스트를 가리키는 DNS 이름만 됩니다. IP 주소와 와일드카드는 안 됩니다)",
                "server_name에 사이트의 DNS 이름을 적거나 tls=provided를 쓰십시오",
            )
    if mode == "provided":
        missing = [k for k in ("tls_cert", "tls_key") if not getattr(s, k)]
        if missing:
            raise ConfigError(
                f"tls=provided{at}에는 {', '.join(missing)}가 필요합니다: 호스트에 있는 "
                "인증서와 키의 경로입니다",
                "예: tls_cert=/etc/ssl/dojangkok/fullchain.pem "
                "tls_key=/etc/ssl/dojangkok/privkey.pem",
            )
        if not found:
            raise ConfigError(
                f"tls=provided{at}: server_name이 _(모든 이름)여서 인증서가 사이트 이름에 맞는지 "
                "확인할 수 없습니다",
                "server_name에 인증서에 적힌 이름을 적으십시오",
            )
    return mode


def cert_paths(s) -> tuple[str, str]:
    """(certificate, key) nginx reads: certbot's live files, the operator's, or none."""
    mode = tls_mode(s)
    if mode == "acme":
        live = f"/etc/letsencrypt/live/{s.acme_cert_name}"
        return f"{live}/fullchain.pem", f"{live}/privkey.pem"
    if mode == "provided":
        return s.tls_cert, s.tls_key
    return "", ""


def site_url(s) -> str:
    """The site as a browser asks it: its main name over HTTPS (HTTP with tls=off)."""
    scheme = "http" if tls_mode(s) == "off" else "https"
    return f"{scheme}://{main_name(s)}/"


def page_url(s) -> str:
    """The page check's URL: ``frontend_url``, else :func:`site_url`."""
    return s.frontend_url or site_url(s)


def resolve_for(url: str, site_names: Sequence[str]) -> str:
    """curl's ``--resolve`` value ``<name>:<port>:127.0.0.1`` when ``url`` asks one of the
    site's DNS names (so curl asks this host's nginx by that name and checks the certificate
    against it); ``""`` otherwise (localhost, an address, another host)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ""
    if not host or host not in {n.lower() for n in site_names} or not is_dns_name(host):
        return ""
    port = port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}:{LOOPBACK}"
