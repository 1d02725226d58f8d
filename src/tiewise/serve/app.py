"""The web explorer: a small read-only FastAPI application over one workspace.

Security model
--------------
* **Read-only.** The workspace is opened read-only (DuckDB refuses any write); every route is a
  query.  The only POSTs are the search form (so a raw identifier never appears in a URL or an
  access log) and the login form.
* **Local by default.** It listens on 127.0.0.1.  Bound to any other address it requires a token
  on every request (``Authorization: Bearer <token>`` or the cookie the login page sets), taken
  from ``$TIEWISE_SERVE_TOKEN`` or generated and printed at start; a token set in the environment
  is required on localhost too.  On a loopback address the ``Host`` header must name localhost,
  which stops DNS-rebinding pages from reading it.
* **Escaped.** Pages are Jinja2 templates with autoescape; the network page's script builds the
  drawing from JSON and writes text with ``textContent`` only.  A strict Content-Security-Policy
  allows scripts, styles and requests to this server alone (no inline script, no external fetch);
  the JavaScript library (Cytoscape) is vendored in the package.
* **Raw identifiers.** The key holder may look a customer up by raw identifier: it is hashed with
  the pseudonymisation key (loaded like the pipeline does) inside the request and never stored,
  echoed or logged.
"""

from __future__ import annotations

import hmac
import io
import ipaddress
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from tiewise.campaigns.files import write_xlsx
from tiewise.config import Config
from tiewise.ingest.pseudonym import load_key, pseudonymise
from tiewise.serve.explorer import Explorer
from tiewise.serve.selection import RANGE_COLUMNS, SelectionError, parse_selection

__all__ = ["ServeSettings", "create_app", "is_loopback", "settings_from_config"]

COOKIE = "tiewise_token"
_STATIC = resources.files("tiewise.serve").joinpath("static")
_LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
#: Bounds of numeric parameters (beyond them: 400, never a database error).
MAX_PAGE = 1_000_000_000
INT64 = 2**63 - 1
RANGE_SORTS = ("customer_id", *RANGE_COLUMNS)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("tiewise.serve", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _number(value: Any) -> str:
    """Numbers for people: thousands separators, at most 4 significant decimals."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)


_ENV.filters["num"] = _number


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost`` (the explorer's safe default)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeSettings:
    """How one explorer runs.

    ``token`` None means no token is asked for (only allowed on a loopback address);
    ``key`` None means raw-identifier search is off.
    """

    workspace: Path
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    token_generated: bool = False
    key: bytes | None = None
    key_note: str = ""
    network_contacts: int = 60
    page_size: int = 50
    memory_limit: str | None = None


def settings_from_config(
    config: Config,
    *,
    workspace: Path | None = None,
    host: str | None = None,
    port: int | None = None,
    environ: dict[str, str] | None = None,
) -> ServeSettings:
    """The explorer's settings from the configuration, the environment and overrides.

    The token comes from the environment variable ``serve.token_env``; without it a token is
    generated when the host is not a loopback address.  The pseudonymisation key is loaded as
    the pipeline loads it (``TIEWISE_KEY`` or the key file) but never created: without one,
    raw-identifier search is off and the page says why.
    """
    import os

    env = os.environ if environ is None else environ
    chosen_host = host or config.serve.host
    token = env.get(config.serve.token_env) or None
    generated = False
    if token is None and not is_loopback(chosen_host):
        token, generated = secrets.token_urlsafe(32), True
    key: bytes | None = None
    note = ""
    key_file = config.resolve(config.privacy.key_file)
    if not config.privacy.pseudonymise:
        note = "the workspace stores raw identifiers (privacy.pseudonymise = false)"
    elif env.get(config.privacy.key_env) or key_file.exists():
        key = load_key(key_file, config.privacy.key_env)
    else:
        note = (
            f"no key: set {config.privacy.key_env} or put the key file at {key_file} "
            "to look customers up by raw identifier"
        )
    return ServeSettings(
        workspace=workspace or config.workspace_path,
        host=chosen_host,
        port=port or config.serve.port,
        token=token,
        token_generated=generated,
        key=key,
        key_note=note,
        network_contacts=config.serve.network_contacts,
        page_size=config.serve.page_size,
        memory_limit=config.engine.memory_limit,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


#: The customer list's download formats and their media types.
DOWNLOADS = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _encode(table: Any, fmt: str) -> bytes:
    """An Arrow table as a CSV, Parquet or Excel file's bytes."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    if fmt == "csv":
        pacsv.write_csv(table, sink)
    elif fmt == "parquet":
        pq.write_table(table, sink)
    else:
        try:
            write_xlsx(table, sink, "customers")
        except ValueError as exc:
            raise ValueError(f"{exc}: download CSV or Parquet, or narrow the selection.") from None
    return sink.getvalue()


def _token_ok(request: Request, token: str) -> bool:
    supplied = request.cookies.get(COOKIE, "")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        supplied = auth[7:].strip()
    return bool(supplied) and hmac.compare_digest(supplied.encode(), token.encode())


def _safe_next(target: str | None) -> str:
    """Only a path on this server (never ``//host`` or a scheme) may follow the login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form body (the only kind the pages send), first value per field."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def create_app(settings: ServeSettings, *, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The explorer application over ``settings.workspace`` (opened read-only).

    Parameters
    ----------
    settings
        Where the workspace is, the token, the key, page sizes.
    allowed_hosts
        ``Host`` header values to accept; by default localhost names when bound to a loopback
        address, any host otherwise (the token protects it then).
    """
    if settings.token is None and not is_loopback(settings.host):
        raise ValueError(f"a token is required to listen on {settings.host}")
    explorer = Explorer.open(settings.workspace, memory_limit=settings.memory_limit)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            explorer.close()

    app = FastAPI(
        title="tiewise explorer",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.explorer = explorer
    app.state.settings = settings
    local = [*_LOCAL_HOSTS, settings.host]
    hosts = allowed_hosts or (local if is_loopback(settings.host) else ["*"])
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response: Response
        if (
            settings.token
            and request.url.path != "/login"
            and not _token_ok(request, settings.token)
        ):
            if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            else:
                response = JSONResponse(
                    {"detail": "a token is required: send 'Authorization: Bearer <token>'"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        else:
            response = await call_next(request)
        response.headers.update(_HEADERS)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = _ENV.get_template(name).render(
            workspace=str(settings.workspace),
            raw_search=settings.key is not None,
            key_note=settings.key_note,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def not_found(what: str) -> HTMLResponse:
        return page("error.html.j2", status=404, title="Not found", message=what)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        """A parameter of the wrong type or out of range is the caller's mistake: 400."""
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', '')}"
            for e in exc.errors()
        ]
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": problems}, status_code=400)
        return page("error.html.j2", status=400, title="Bad request", message="; ".join(problems))

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    # -- login -----------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_form(next: str = "/") -> HTMLResponse:
        return page("login.html.j2", next=_safe_next(next), failed=False)

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await _form(request)
        target = _safe_next(form.get("next"))
        if settings.token is None:
            return RedirectResponse(target, status_code=303)
        supplied = form.get("token", "").strip()
        if not supplied or not hmac.compare_digest(supplied.encode(), settings.token.encode()):
            return page("login.html.j2", status=401, next=target, failed=True)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, settings.token, httponly=True, samesite="strict", path="/")
        return response

    # -- pages -----------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def overview() -> HTMLResponse:
        return page("overview.html.j2", overview=explorer.overview(), charts=explorer.charts())

    @app.get("/search", response_class=HTMLResponse)
    def search_form(q: str = "") -> HTMLResponse:
        results = explorer.search(q) if q else []
        return page("search.html.j2", query=q, results=results, searched=bool(q), raw=False)

    @app.post("/search", response_class=HTMLResponse)
    async def search(request: Request) -> Response:
        form = await _form(request)
        text = form.get("q", "").strip()
        if form.get("kind") == "raw":
            if settings.key is None:
                return page(
                    "search.html.j2", status=400, query="", results=[], searched=True, raw=True
                )
            pseudonym = pseudonymise(text, settings.key)
            if text and explorer.exists(pseudonym):
                return RedirectResponse(f"/customer/{quote(pseudonym)}", status_code=303)
            # The raw identifier is neither echoed nor kept.
            return page("search.html.j2", status=404, query="", results=[], searched=True, raw=True)
        results = explorer.search(text)
        if len(results) == 1 or (results and results[0]["customer_id"] == text):
            return RedirectResponse(
                f"/customer/{quote(results[0]['customer_id'], safe='')}", status_code=303
            )
        return page("search.html.j2", query=text, results=results, searched=True, raw=False)

    @app.get("/customer/{customer_id:path}", response_class=HTMLResponse)
    def customer(customer_id: str) -> HTMLResponse:
        if not explorer.exists(customer_id):
            return not_found(f"No customer or contact with id {customer_id}.")
        profile = explorer.profile(customer_id)
        return page(
            "customer.html.j2",
            customer_id=customer_id,
            profile=profile,
            reasons=explorer.reasons(profile),
            summary=explorer.summary(customer_id),
            related=explorer.related(customer_id),
            lists=[t.name for t in explorer.lists()],
        )

    @app.get("/network/{customer_id:path}", response_class=HTMLResponse)
    def network(customer_id: str) -> HTMLResponse:
        if not explorer.exists(customer_id):
            return not_found(f"No customer or contact with id {customer_id}.")
        return page(
            "network.html.j2",
            customer_id=customer_id,
            api=f"/api/network/{quote(customer_id, safe='')}",
            limit=settings.network_contacts,
        )

    @app.get("/communities", response_class=HTMLResponse)
    def communities(
        order: str = "size", page_number: int = Query(1, ge=1, le=MAX_PAGE)
    ) -> HTMLResponse:
        total = explorer.community_count()
        pages = max(1, -(-total // settings.page_size))
        page_number = min(page_number, pages)  # past the end: the last page
        rows, _ = explorer.communities(order=order, page=page_number, page_size=settings.page_size)
        return page(
            "communities.html.j2",
            rows=rows,
            total=total,
            order=order if order in explorer.COMMUNITY_ORDERS else "size",
            orders=[o for o in explorer.COMMUNITY_ORDERS if o in explorer.columns("communities")],
            page_number=page_number,
            pages=pages,
        )

    @app.get("/community/{community}", response_class=HTMLResponse)
    def community(community: int = PathParam(ge=-INT64, le=INT64)) -> HTMLResponse:
        row, members = explorer.community(community)
        if row is None:
            return not_found(f"No community {community}.")
        return page("community.html.j2", community=row, members=members)

    # -- the customer list -----------------------------------------------------------------

    def bad_request(message: str, api: bool = False) -> Response:
        if api:
            return JSONResponse({"detail": message}, status_code=400)
        return page("error.html.j2", status=400, title="Bad request", message=message)

    @app.get("/customers", response_class=HTMLResponse)
    def customers(request: Request, page_number: int = Query(1, ge=1, le=MAX_PAGE)) -> Response:
        try:
            selection = parse_selection(request.query_params)
            listed = explorer.customer_list(
                selection, page=page_number, page_size=settings.page_size
            )
        except SelectionError as exc:
            return bad_request(str(exc))
        pages = max(1, -(-listed.total // settings.page_size))
        if page_number > pages:  # past the end: the last page
            page_number = pages
            listed = explorer.customer_list(
                selection, page=page_number, page_size=settings.page_size
            )
        return page(
            "customers.html.j2",
            selection=selection,
            listed=listed,
            options=explorer.filter_options(),
            page_number=page_number,
            pages=pages,
            query=selection.query_string(),
            sorts=[c for c in RANGE_SORTS if c in listed.columns],
        )

    @app.get("/api/customers")
    def api_customers(request: Request, page_number: int = Query(1, ge=1, le=MAX_PAGE)) -> Response:
        try:
            selection = parse_selection(request.query_params)
            listed = explorer.customer_list(
                selection, page=page_number, page_size=settings.page_size
            )
        except SelectionError as exc:
            return bad_request(str(exc), api=True)
        return JSONResponse(
            _jsonable(
                {
                    "total": listed.total,
                    "page_number": page_number,
                    "columns": listed.columns,
                    "rows": listed.rows,
                    "note": listed.note,
                }
            )
        )

    @app.get("/customers.{fmt}")
    def download_selection(request: Request, fmt: str) -> Response:
        if fmt not in DOWNLOADS:
            raise HTTPException(404, f"no download format {fmt!r}: csv, parquet or xlsx")
        try:
            selection = parse_selection(request.query_params)
            table, _ = explorer.selection_table(selection)
        except SelectionError as exc:
            return bad_request(str(exc))
        try:
            body = _encode(table, fmt)
        except ValueError as exc:
            return bad_request(str(exc))
        return Response(
            body,
            media_type=DOWNLOADS[fmt],
            headers={"Content-Disposition": f'attachment; filename="customers.{fmt}"'},
        )

    # -- campaigns -------------------------------------------------------------------------

    @app.get("/campaigns", response_class=HTMLResponse)
    def campaigns() -> HTMLResponse:
        return page("campaigns.html.j2", charts=explorer.charts(), lists=explorer.lists())

    @app.get("/campaign/{name}", response_class=HTMLResponse)
    def campaign(name: str) -> HTMLResponse:
        found = explorer.campaign(name)
        if found is None:
            return not_found(f"No campaign list {name}.")
        return page("campaign.html.j2", campaign_name=name, campaign=found)

    @app.get("/tables", response_class=HTMLResponse)
    def tables() -> HTMLResponse:
        lists = explorer.lists()
        names = {t.name for t in lists}
        others = [t for t in explorer.tables() if t.name not in names]
        return page("tables.html.j2", lists=lists, tables=others)

    @app.get("/export/{name}.csv")
    def export(name: str) -> StreamingResponse:
        if not explorer.has(name):
            raise HTTPException(404, f"no table {name!r} in the workspace")
        return StreamingResponse(
            explorer.csv_chunks(name),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )

    # -- JSON ------------------------------------------------------------------------------

    @app.get("/api/overview")
    def api_overview() -> JSONResponse:
        o = explorer.overview()
        return JSONResponse(
            _jsonable(
                {
                    "figures": dict(o.figures),
                    "data_quality": o.data_quality,
                    "rejected_rows": o.rejected_rows,
                    "largest_communities": o.largest_communities,
                    "lists": [t.name for t in o.lists],
                }
            )
        )

    @app.get("/api/search")
    def api_search(q: str = "") -> JSONResponse:
        return JSONResponse(_jsonable({"query": q, "results": explorer.search(q)}))

    @app.get("/api/customer/{customer_id:path}")
    def api_customer(customer_id: str) -> JSONResponse:
        if not explorer.exists(customer_id):
            raise HTTPException(404, "no such customer or contact")
        profile = explorer.profile(customer_id)
        related = {
            info.name: {"rows": count, "first": rows}
            for info, count, rows in explorer.related(customer_id)
        }
        return JSONResponse(
            _jsonable({"customer_id": customer_id, "profile": profile, "related": related})
        )

    @app.get("/api/network/{customer_id:path}")
    def api_network(customer_id: str, limit: int | None = None) -> JSONResponse:
        if not explorer.exists(customer_id):
            raise HTTPException(404, "no such customer or contact")
        chosen = min(max(limit or settings.network_contacts, 1), 500)
        return JSONResponse(_jsonable(explorer.ego_network(customer_id, limit=chosen).as_json()))

    @app.get("/api/community/{community}")
    def api_community(
        community: int = PathParam(ge=-INT64, le=INT64),
        limit: int = Query(150, ge=1, le=1000),
    ) -> JSONResponse:
        drawn = explorer.community_graph(community, limit=limit)
        if drawn is None:
            raise HTTPException(404, "no such community")
        return JSONResponse(_jsonable(drawn))

    @app.get("/api/tables")
    def api_tables() -> JSONResponse:
        return JSONResponse(
            [
                {
                    "name": t.name,
                    "stage": t.stage,
                    "rows": t.rows,
                    "description": t.description,
                    "csv": f"/export/{t.name}.csv",
                }
                for t in explorer.tables()
            ]
        )

    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")
    return app
