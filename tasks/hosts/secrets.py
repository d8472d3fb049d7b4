"""Secrets from ``.env`` (or the file ``DOJANGKOK_ENV`` names), read with python-dotenv.

Values never go into os.environ, command lines or logs: the runner masks every value
read from the file, and commands receive secrets through files or stdin.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

from tasks.errors import ConfigError

MASK = "******"


class Secrets:
    def __init__(self, values: dict[str, str], path: Path | None = None):
        self._values = {k: v for k, v in values.items() if v is not None}
        self.path = path

    @classmethod
    def load(cls, path: Path | None = None) -> Secrets:
        path = path or Path(os.environ.get("DOJANGKOK_ENV", ".env"))
        if not path.is_file():
            return cls({}, path)
        return cls(dict(dotenv_values(path)), path)

    def get(self, key: str) -> str | None:
        return self._values.get(key) or None

    def require(self, key: str, why: str) -> str:
        value = self.get(key)
        if not value:
            where = self.path or ".env"
            raise ConfigError(
                f"{key} is not set in {where} ({why})",
                f"add a line {key}=... to {where} (or point DOJANGKOK_ENV at the right file)",
            )
        return value

    def values(self) -> list[str]:
        """Every value worth masking (short values would mask ordinary words)."""
        return sorted((v for v in self._values.values() if len(v) >= 4), key=len, reverse=True)

    def mask(self, text: str) -> str:
        for value in self.values():
            text = text.replace(value, MASK)
        return text
