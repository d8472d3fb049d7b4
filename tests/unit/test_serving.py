"""What serves an app now (App.serving) and the one health check every caller builds on."""

from __future__ import annotations

import pytest

from tasks.apps.base import HostReading, Serving
from tasks.apps.registry import AI, BACKEND, FRONTEND
from tasks.hosts.settings import Settings
from tasks.strategies.release.bluegreen import Pair

S = Settings(backend_service="api", ai_service="infer", backend_port=8080, ai_listen_port=8000,
             backend_ports=[8081, 8082], ai_ports=[8001, 8002])  # fmt: skip


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (FRONTEND, Serving(("nginx",), None, "")),
        (BACKEND, Serving(("api",), 8080, "")),
        (AI, Serving(("infer",), 8000, "")),
    ],  # fmt: skip
)
def test_the_manual_strategy_serves_the_checkout_by_its_one_unit(app, expected):
    assert app.serving(S, HostReading()) == expected


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (FRONTEND, Serving(("nginx",), None, "r2")),
        (BACKEND, Serving(("api",), 8080, "r2")),
        (AI, Serving(("infer",), 8000, "r2")),
    ],  # fmt: skip
)
def test_a_release_without_a_pair_serves_current_by_its_one_unit(app, expected):
    # the frontend (nginx serves `current`), the AI server with ai_switch=restart
    assert app.serving(S, HostReading(current="r2")) == expected


@pytest.mark.parametrize(("app", "unit", "ports"), [(BACKEND, "api", (8081, 8082)),
                                                     (AI, "infer", (8001, 8002))])  # fmt: skip
def test_blue_green_serves_the_live_port_and_names_the_warm_instance(app, unit, ports):
    live, other = ports[1], ports[0]
    warm = HostReading("r1", live, {live: ("active", "r3"), other: ("active", "r2")})
    assert app.serving(S, warm) == Serving(
        (f"{unit}@{live}",), live, "r3", f"{unit}@{other}", other, "r2"
    )
    retired = HostReading("r1", live, {live: ("active", "r3"), other: ("inactive", "r2")})
    assert app.serving(S, retired) == Serving((f"{unit}@{live}",), live, "r3")
    # no slot read yet (a pair before its first instance): `current` names the release
    assert app.serving(S, HostReading("r1", other)) == Serving((f"{unit}@{other}",), other, "r1")


def test_a_services_health_check_asks_the_port_the_host_prints():
    check = BACKEND.health(S).at_port("echo 8082")
    assert check.startswith('p=$(echo 8082) && [ -n "$p" ] && curl -fsS --max-time 10 -- ')
    assert '-- http://localhost:"$p"/health |' in check
    assert check.endswith(f"| grep -qF -- {S.backend_health_expect}")
    with pytest.raises(ValueError):
        FRONTEND.health(S).at_port("echo 443")  # a page: no port of its own


def test_a_pairs_live_check_is_the_apps_own_check():
    pair = Pair(AI, service=lambda s: s.ai_service, ports=lambda s: s.ai_ports,
                upstream_file=lambda s: s.ai_upstream_file, upstream="u",
                switch_port=lambda s: 8009, keep_warm=lambda s: 0, smoke=lambda s: [],
                numbers=("1", "2", "3", "4", "5", "6"))  # fmt: skip
    s = Settings(ai_health_path="/ready", ai_health_expect="yes")
    assert pair.live_health(s) == AI.health(s).at_port(pair.live_port_command(s))
    assert '"$p"/ready' in pair.live_health(s) and pair.live_health(s).endswith("-- yes")
