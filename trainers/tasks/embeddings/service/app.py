"""The word game as an HTTP service (FastAPI): /guess, /explain, rounds for the page, /healthz,
/metrics (Prometheus text), the generated OpenAPI docs at /docs, and the page at /.

Every input is checked before it reaches a model: malformed JSON, wrong types, `n` outside
1..MAX_N, too many or too long hints, a body over MAX_BODY bytes, a word that is not one word
after cleaning, a word the model does not know; each is a 4xx with one readable `error` line,
never a 500. Words go through `clean_text`, as in training.
"""

from __future__ import annotations

import random
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from trainers.shared.cleaning import tokens
from trainers.tasks.embeddings.game import Player, UnknownWord

MAX_N = 50
MAX_HINTS = 20
MAX_WORD = 64  # characters
MAX_BODY = 16 * 1024  # bytes
MAX_ROUNDS = 10_000  # open page rounds kept (oldest dropped)
ROUND_HINTS = 5
PAGE = Path(__file__).resolve().parent / "static" / "index.html"


Word = Annotated[str, Field(min_length=1, max_length=MAX_WORD)]


class GuessRequest(BaseModel):
    hints: list[Word] = Field(min_length=1, max_length=MAX_HINTS, description="hints, best first")
    n: int = Field(5, ge=1, le=MAX_N, description="candidates to return")


class ExplainRequest(BaseModel):
    word: str = Field(min_length=1, max_length=MAX_WORD, description="the word to explain")
    n: int = Field(5, ge=1, le=MAX_N, description="hints to return")


class RoundGuess(BaseModel):
    guess: str = Field(min_length=1, max_length=MAX_WORD)


class Scored(BaseModel):
    word: str
    score: float


class GuessResponse(BaseModel):
    guesses: list[Scored]
    ignored: list[str] = Field(description="hints outside the guesser's vocabulary")


class ExplainResponse(BaseModel):
    word: str
    hints: list[Scored]


class RoundState(BaseModel):
    round: str
    hints: list[str]
    finished: bool
    correct: bool | None = None
    points: int | None = None
    word: str | None = Field(None, description="revealed when the round is over")


class GameError(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message


@dataclass
class Round:
    word: str
    hints: list[str]
    shown: int = 1
    finished: bool = False
    points: int = 0
    created: float = field(default_factory=time.monotonic)


def one_word(text: str, what: str) -> str:
    found = tokens(text)
    if len(found) != 1:
        raise GameError(422, f"{what} {text!r} is {len(found)} words after cleaning; give one word")
    return found[0]


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is a 413, whether or not it says its
    length up front (a chunked body is counted as it arrives)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send):
        response = JSONResponse({"error": f"request body over {self.limit} bytes"}, status_code=413)
        await response({"type": "http"}, None, send)


class _TooLarge(Exception):
    pass


ROUTES = {"/", "/guess", "/explain", "/rounds", "/healthz", "/metrics", "/docs", "/openapi.json"}


def route_label(path: str) -> str:
    """A bounded label set for /metrics: round ids and unknown paths are not labels of their own."""
    if path in ROUTES:
        return path
    if path.startswith("/rounds/") and path.endswith("/guess"):
        return "/rounds/{key}/guess"
    return "other"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        if error.get("type") == "json_invalid":
            parts.append(f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})")
        else:
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def create_app(explainer: Player, guesser: Player, words: list[str], seed: int | None = None) -> BodyLimit:
    """The ASGI application (the FastAPI app inside a body-size limit; `.fastapi` is the app)."""
    app = FastAPI(
        title="textjobs word game",
        description="Guess a word from hints (CBOW) and explain a word without naming it (skip-gram).",
        version="1.0",
    )
    registry = CollectorRegistry()
    requests = Counter("game_requests", "HTTP requests by route and status", ["route", "status"], registry=registry)
    latency = Histogram("game_request_seconds", "request latency by route", ["route"], registry=registry)
    rounds: OrderedDict[str, Round] = OrderedDict()
    rng = random.Random(seed)
    playable = [w for w in words if w in explainer.space] or list(explainer.space.words[:200])

    @app.middleware("http")
    async def measure(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        name = route_label(request.url.path)
        requests.labels(name, str(response.status_code)).inc()
        latency.labels(name).observe(time.perf_counter() - start)
        return response

    @app.exception_handler(GameError)
    async def game_error(request, exc: GameError):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError):
        return JSONResponse({"error": _validation_message(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            message = "the body could not be read as JSON (is it UTF-8 text?)"
        return JSONResponse({"error": message}, status_code=exc.status_code)

    @app.post("/guess", response_model=GuessResponse, summary="the guesser names n candidates for the hints")
    def guess(body: GuessRequest) -> GuessResponse:
        cleaned = []
        for hint in body.hints:
            cleaned += [t for t in tokens(hint) if t not in cleaned]
        if not cleaned:
            raise GameError(422, "hints: no word left after cleaning")
        ignored = [h for h in cleaned if guesser.space.vector(h) is None]
        try:
            found = guesser.guess(cleaned, body.n)
        except UnknownWord as exc:
            raise GameError(404, str(exc)) from None
        return GuessResponse(guesses=[Scored(word=w, score=s) for w, s in found], ignored=ignored)

    @app.post(
        "/explain", response_model=ExplainResponse, summary="the explainer gives n hints, none sharing the word's stem"
    )
    def explain(body: ExplainRequest) -> ExplainResponse:
        word = one_word(body.word, "word")
        try:
            hints = explainer.explain(word, body.n)
        except UnknownWord as exc:
            raise GameError(404, str(exc)) from None
        return ExplainResponse(word=word, hints=[Scored(word=w, score=s) for w, s in hints])

    def state(key: str, item: Round, correct: bool | None = None) -> RoundState:
        return RoundState(
            round=key,
            hints=item.hints[: item.shown],
            finished=item.finished,
            correct=correct,
            points=item.points if item.finished else None,
            word=item.word if item.finished else None,
        )

    @app.post("/rounds", response_model=RoundState, summary="start a round: the model explains a word, you guess")
    def new_round() -> RoundState:
        word = rng.choice(playable)
        hints = [w for w, _ in explainer.explain(word, ROUND_HINTS)]
        key = secrets.token_urlsafe(12)
        rounds[key] = Round(word, hints)
        while len(rounds) > MAX_ROUNDS:
            rounds.popitem(last=False)
        return state(key, rounds[key])

    @app.post("/rounds/{key}/guess", response_model=RoundState, summary="guess; a wrong guess shows the next hint")
    def round_guess(key: str, body: RoundGuess) -> RoundState:
        item = rounds.get(key)
        if item is None:
            raise GameError(404, f"no round {key!r} (finished long ago, or never started)")
        if item.finished:
            raise GameError(409, "this round is over; start a new one")
        correct = tokens(body.guess) == [item.word]
        if correct:
            item.points = len(item.hints) - item.shown + 1  # the game's rule: H - i + 1
            item.finished = True
        elif item.shown >= len(item.hints):
            item.finished = True
        else:
            item.shown += 1
        return state(key, item, correct)

    @app.get("/healthz", summary="ready when both models are loaded")
    def healthz() -> dict:
        return {"status": "ok", "explainer": explainer.name, "guesser": guesser.name, "words": len(playable)}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    wrapped = BodyLimit(app, MAX_BODY)
    wrapped.fastapi = app
    return wrapped
