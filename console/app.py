"""`create_app()`: the console's FastAPI application — middleware, error pages, routers, start-up.

Start-up creates the bootstrap admin (`auth.bootstrap_admin`) and refuses to start in production
with example secrets (`Settings.check_secrets`). No API documentation routes are served: every
route is a page or a fragment of one, and each declares its role (see `auth.require`).
"""
from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from console import dashboard, inbox, inbox_routes, model_routes, texts, users
from console.auth import SessionStore, bootstrap_admin, wants_html
from console.web import STATIC_DIR, render
from hamdel.settings import get_settings

log = logging.getLogger("console")

# `connect-src 'self'` lets htmx talk to us only; no inline script or style anywhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    settings.check_secrets()
    bootstrap_admin(settings)
    # Read the tracker store into the inbox's index now, so the first person to open the inbox does not wait.
    threading.Thread(target=_warm_inbox, name="inbox-warm", daemon=True).start()
    # A training job a stopped console left RUNNING is marked failed (and its rasa stopped) at once.
    model_routes.get_runner()
    yield


def _warm_inbox() -> None:
    try:
        groups = inbox.warm_index()
        log.info("inbox index ready: %d distinct messages", groups)
    except Exception as exc:  # the page reads the store again when opened; nothing is lost
        log.warning("inbox index not warmed at start (%s)", type(exc).__name__)


def _error_response(request: Request, status_code: int, message: str,
                    headers: Mapping[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if 300 <= status_code < 400 and "Location" in headers:
        return RedirectResponse(headers["Location"], status_code=status_code)
    if not request.headers.get("HX-Request"):
        headers.pop("HX-Redirect", None)  # only htmx follows it; a plain 401 stays a plain 401
    if wants_html(request):
        return render(request, "error.html", {"message": message}, status_code=status_code, headers=headers)
    return JSONResponse({"detail": message}, status_code=status_code, headers=headers)


def _unexpected(request: Request, exc: Exception) -> Response:
    """A Persian 500 page. The log names the error's kind and the line that raised it, not its
    message or traceback text: those can quote a customer's words (uvicorn would print them if the
    exception went further)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    log.error("unexpected %s at %s on %s %s", type(exc).__name__, where, request.method, request.url.path)
    return _error_response(request, 500, texts.SERVER_ERROR)


def create_app() -> FastAPI:
    app = FastAPI(title="Hamdel console", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_lifespan)
    app.state.sessions = SessionStore()

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        try:
            response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: a page, and a log line without data
            response = _unexpected(request, exc)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) and exc.status_code not in (404, 405) else (
            texts.NOT_FOUND if exc.status_code in (404, 405) else texts.SERVER_ERROR)
        return _error_response(request, exc.status_code, message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's default echoes the submitted values (possibly a password): say only what is wrong.
        fields = sorted({str(error.get("loc", ("", ""))[-1]) for error in exc.errors()})
        if wants_html(request):
            return _error_response(request, 422, texts.INVALID_INPUT)
        return JSONResponse({"detail": texts.INVALID_INPUT, "fields": fields}, status_code=422)

    @app.get("/health", include_in_schema=False)
    def health() -> PlainTextResponse:
        """For Docker's health check: the process answers. Nothing about data or people."""
        return PlainTextResponse("ok")

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    app.include_router(users.router)
    app.include_router(dashboard.router)
    app.include_router(inbox_routes.router)
    app.include_router(model_routes.router)
    return app
