"""Stand-in for the dojangkok AI service (FastAPI).

Run from the app root: ``uvicorn app.main:app --host 0.0.0.0 --port 8000``.
VERSION and BREAK are read from the app root at start-up; STARTUP_DELAY_SECONDS (default 3;
its .env or the environment) is spent in the lifespan start-up, standing in for model loading
(the team's server takes ~45 s). ``GET /slow?seconds=N`` answers after N seconds (at most 600),
standing in for a long analysis.

Like the real service it stands in for, it reads its own ``.env`` (python-dotenv style: the
environment wins), logs to ``$LOG_DIR/app.log`` when LOG_DIR is set, keeps a local vector
store in ``$VECTOR_STORE_DIR`` when that is set, and reads /proc/cpuinfo at start (as ML
runtimes do). Any of these failing (an unreadable .env, a read-only directory, a hidden
/proc/cpuinfo) stops the start-up, as it would stop the real service.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

APP_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("uvicorn.error")
#: the longest /slow may take (the manual's SLA for an AI request is 5 minutes)
MAX_SLOW_SECONDS = 600

# Deterministic "model": clause keywords (Korean lease contracts and English) and their risk.
RISK_RULES: tuple[tuple[str, str, str], ...] = (
    ("근저당", "high", "A mortgage is registered on the property; check the deposit's priority."),
    ("mortgage", "high", "A mortgage is registered on the property; check the deposit's priority."),
    ("가압류", "high", "The property is under provisional seizure."),
    ("seizure", "high", "The property is under provisional seizure."),
    ("전대", "medium", "Subleasing is mentioned; confirm the owner's consent."),
    ("sublease", "medium", "Subleasing is mentioned; confirm the owner's consent."),
    ("보증금", "medium", "Check how and when the deposit is returned."),
    ("deposit", "medium", "Check how and when the deposit is returned."),
    ("특약", "low", "Special terms are present; read each one."),
    ("special terms", "low", "Special terms are present; read each one."),
)

CHECKLIST: dict[str, str] = {
    "보증금": "Confirm the deposit amount and the return date in the contract.",
    "deposit": "Confirm the deposit amount and the return date in the contract.",
    "등기부": "Read the registry certificate (등기부등본) issued today.",
    "registry": "Read the registry certificate (등기부등본) issued today.",
    "근저당": "Compare the registered mortgage with the property's market price.",
    "mortgage": "Compare the registered mortgage with the property's market price.",
    "전입신고": "File the move-in report and get a fixed date (확정일자).",
    "move-in": "File the move-in report and get a fixed date (확정일자).",
    "특약": "Write every special term into the contract itself.",
}


def load_dotenv(path: Path) -> None:
    """python-dotenv's load_dotenv(): KEY=value lines, the environment wins. An unreadable
    file raises (PermissionError), as it does in python-dotenv."""
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key and not key.startswith("#"):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            os.environ.setdefault(key.strip(), value)


def start_files(settings: Settings) -> None:
    """The files the real service touches at start: its log, its vector store, the CPU."""
    cpus = [
        ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("processor")
    ]
    log.info("CPU: %d processors (/proc/cpuinfo)", len(cpus))
    if settings.log_dir:
        handler = logging.FileHandler(Path(settings.log_dir) / "app.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.info("logging to %s/app.log", settings.log_dir)
    if settings.vector_store:
        store = Path(settings.vector_store)
        store.mkdir(parents=True, exist_ok=True)
        (store / "index.json").write_text(f'{{"version": "{settings.version}"}}\n')
        log.info("vector store at %s", store)


class Settings:
    """What the service reads at start-up."""

    def __init__(self) -> None:
        self.version = self._read("VERSION") or "0.0.0-unknown"
        self.break_mode = self._read("BREAK")
        self.model_name = os.environ.get("MODEL_NAME", "") or "dojangkok-rules-v1"
        self.log_dir = os.environ.get("LOG_DIR", "")
        self.vector_store = os.environ.get("VECTOR_STORE_DIR", "")
        raw_delay = os.environ.get("STARTUP_DELAY_SECONDS", "3") or "3"
        try:
            self.startup_delay = max(0.0, float(raw_delay))
        except ValueError as exc:
            raise ValueError(f"STARTUP_DELAY_SECONDS is not a number: {raw_delay!r}") from exc

    @staticmethod
    def _read(name: str) -> str:
        path = APP_ROOT / name
        return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


settings = Settings()


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Read again at each start, so a BREAK or VERSION written before a restart takes effect.
    global settings
    load_dotenv(APP_ROOT / ".env")
    settings = Settings()
    log.info("Starting dojangkok AI %s (model %s)", settings.version, settings.model_name)
    try:
        start_files(settings)
    except OSError as exc:
        log.error("Start-up failed: %s", exc)
        for handler in logging.getLogger().handlers + log.handlers:
            handler.flush()
        os._exit(1)
    if settings.break_mode:
        log.warning("fault injection active: BREAK=%s", settings.break_mode)
    if settings.break_mode == "start":
        log.error("Simulated start-up failure (BREAK=start): model could not be loaded")
        for handler in logging.getLogger().handlers + log.handlers:
            handler.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        # uvicorn turns a failed lifespan into exit status 3; the brief is status 1.
        os._exit(1)
    if settings.startup_delay > 0:
        log.info("Loading model (%.1fs)", settings.startup_delay)
        await asyncio.sleep(settings.startup_delay)
    log.info("Model loaded; dojangkok AI %s ready", settings.version)
    yield
    log.info("Shutting down dojangkok AI %s", settings.version)


app = FastAPI(title="dojangkok-ai", lifespan=lifespan)


class AnalyzeRequest(BaseModel):
    text: str = Field(min_length=1, max_length=20000)


class Risk(BaseModel):
    keyword: str
    level: str
    message: str


class AnalyzeResponse(BaseModel):
    version: str
    summary: str
    risks: list[Risk]


class ChecklistRequest(BaseModel):
    keywords: list[str] = Field(max_length=100)


class ChecklistItem(BaseModel):
    id: str
    keyword: str
    item: str
    checked: bool = False


class ChecklistResponse(BaseModel):
    items: list[ChecklistItem]


@app.get("/health")
async def health() -> JSONResponse:
    if settings.break_mode == "health":
        return JSONResponse({"status": "error"}, status_code=503)
    return JSONResponse({"status": "ok", "version": settings.version})


@app.get("/slow")
async def slow(seconds: float = Query(ge=0, le=MAX_SLOW_SECONDS)) -> JSONResponse:
    """Answers after ``seconds`` (0 to 600): a long analysis, in flight across a restart or
    a switch (uvicorn's graceful shutdown lets it finish)."""
    await asyncio.sleep(seconds)
    return JSONResponse({"slept": seconds, "version": settings.version})


def summarize(text: str, limit: int = 80) -> str:
    first = " ".join(text.split())
    for stop in (". ", "。", "? ", "! ", "\n"):
        if stop in first:
            first = first.split(stop, 1)[0]
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


@app.post("/api/v1/analyze", response_model=AnalyzeResponse)
async def analyze(request: AnalyzeRequest) -> AnalyzeResponse:
    lowered = request.text.lower()
    risks: list[Risk] = []
    seen: set[str] = set()
    for keyword, level, message in RISK_RULES:
        if keyword in lowered and message not in seen:
            seen.add(message)
            risks.append(Risk(keyword=keyword, level=level, message=message))
    return AnalyzeResponse(version=settings.version, summary=summarize(request.text), risks=risks)


@app.post("/api/checklists/sync", response_model=ChecklistResponse)
async def sync_checklist(request: ChecklistRequest) -> ChecklistResponse:
    items: list[ChecklistItem] = []
    seen: set[str] = set()
    for raw in request.keywords:
        keyword = raw.strip()
        if not keyword or keyword.lower() in seen:
            continue
        seen.add(keyword.lower())
        text = CHECKLIST.get(keyword.lower(), f"Check the clause about '{keyword}'.")
        item_id = hashlib.sha256(keyword.lower().encode()).hexdigest()[:8]
        items.append(ChecklistItem(id=item_id, keyword=keyword, item=text))
    return ChecklistResponse(items=items)
