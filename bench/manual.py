"""The manual's own scripts (design-step1.md, section 3 A–D), kept verbatim in
bench/manual_scripts/ so the `script` method runs exactly what the manual says.

A script is a ```bash block of the manual whose header comment names its path,
``# /app/scripts/<name>.sh``. `check()` compares the stored copies with the manual;
`python -m bench.manual --write` refreshes them from it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS_DIR = ROOT / "bench" / "manual_scripts"
REMOTE_DIR = "/app/scripts"  # where the manual keeps them (its header comments)
NAMES = (
    "deploy_frontend.sh",
    "rollback_frontend.sh",
    "deploy_backend.sh",
    "rollback.sh",
    "deploy_ai_server.sh",
    "rollback_ai.sh",
    "deploy_all.sh",
)
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
_HEADER = re.compile(r"^# /app/scripts/(\S+\.sh)", re.M)


def find_manual() -> Path | None:
    """design-step1.md: $DOJANGKOK_MANUAL, else shared/manual/ beside the checkout."""
    env = os.environ.get("DOJANGKOK_MANUAL")
    candidates = [Path(env)] if env else []
    candidates += [d / "shared" / "manual" / "design-step1.md" for d in ROOT.parents]
    return next((p for p in candidates if p.is_file()), None)


def extract(text: str) -> dict[str, str]:
    """{name: script text} for every ```bash block headed ``# /app/scripts/<name>.sh``."""
    out = {}
    for block in _BLOCK.findall(text):
        header = _HEADER.search("\n".join(block.splitlines()[:3]))
        if header:
            out[header.group(1)] = block
    return out


def stored() -> dict[str, str]:
    return {name: (SCRIPTS_DIR / name).read_text() for name in NAMES}


def check(manual: Path) -> list[str]:
    """Names whose stored copy differs from (or is missing in) the manual; [] = verbatim."""
    scripts = extract(manual.read_text())
    mine = stored()
    return [n for n in NAMES if scripts.get(n) != mine[n]]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="refresh the copies from the manual")
    args = p.parse_args()
    manual = find_manual()
    if manual is None:
        print("design-step1.md not found (set DOJANGKOK_MANUAL)", file=sys.stderr)
        return 1
    if args.write:
        scripts = extract(manual.read_text())
        SCRIPTS_DIR.mkdir(exist_ok=True)
        for name in NAMES:
            (SCRIPTS_DIR / name).write_text(scripts[name])
    diff = check(manual)
    print("differ from the manual: " + ", ".join(diff) if diff else "verbatim: " + ", ".join(NAMES))
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
