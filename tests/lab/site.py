"""The lab's site as a browser (and every test) asks it: by its name, verified.

``site(lab, "/api/notes")`` → ``Site(url="https://cpu.dojangkok.test/api/notes", ca=...)``:
the name resolves to cpu on this machine (tests/lab/acme.py: a marked /etc/hosts line), and
``ca`` is the bundle of the roots the lab's ACME server (pebble) issued cpu's certificate
under. No test asks the site by address or skips verification: a certificate that does not
name the site fails them all, as it would fail a browser.
"""

from __future__ import annotations

from typing import NamedTuple

from .acme import SITE_NAME, site_ca


class Site(NamedTuple):
    url: str
    ca: str  # requests' verify=, ssl's cafile=


def site(lab, path: str = "/", scheme: str = "https") -> Site:
    """The site's URL for ``path`` and the CA bundle to verify it against."""
    return Site(f"{scheme}://{SITE_NAME}{path if path.startswith('/') else '/' + path}",
                str(site_ca(lab.settings)))  # fmt: skip
