"""The delivery log as web pages: `/log/` (server-rendered, no JavaScript needed).

    GET  /log/login                    a form that takes the CreativeAI API key
    POST /log/login                    checks the key, sets a signed session cookie
    POST /log/logout
    GET  /log/                         deliveries, newest first; filters: status (several),
                                       event, since, until (UTC); paged with `cursor`
    GET  /log/deliveries/<id>          one delivery with every attempt
    POST /log/deliveries/<id>/retry    send it again now, with a fresh schedule
    GET  /log/style.css

Browsers cannot send the management API's Bearer header, so the page asks for the same
API key once and keeps only the tenant id (the one-way hash of the key) in a signed,
HttpOnly, SameSite=Strict cookie (Secure when the relay is reached over https); the key
itself is never stored, echoed or logged. A key is accepted only when its tenant exists
on this relay (it has made a route, a subscription or asked for its inbox); a tenant sees
only its own deliveries (others answer 404).

Forms that change something are guarded twice against cross-site requests: the
`Origin` (or `Referer`) must be this relay, and, once signed in, a CSRF token derived from
the session cookie (HMAC) must come with the form. The cookie is signed with keys derived
from the relay's token keys (`RELAY_TOKEN_KEYS`), so every process sharing those keys
accepts it, and rotating the keys ends old sessions only when the old key is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response as Redirect

from connector.catalog import events as catalog_events
from connector.relay.ingest import JOIN_EVENT
from connector.relay.inputs import ascii_int, checked_time
from connector.relay.logs import fields, get_logger, target_host
from connector.relay.management import MAX_API_KEY_BYTES
from connector.relay.relay import current_relay
from connector.relay.storage import Delivery, DeliveryFilter, DeliveryStatus, iso
from connector.relay.tokens import tenant_id

bp = Blueprint("pages", __name__, url_prefix="/log", template_folder="templates")
log = get_logger("pages")

F = TypeVar("F", bound=Callable[..., Any])

COOKIE = "relay_log_session"
SESSION_SECONDS = 8 * 3600
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
BODY_PREVIEW_BYTES = 4096
_SALT = "connector.relay.pages.session"
_KEY_LABEL = b"connector.relay.pages: session cookie key v1"
_CSRF_LABEL = b"csrf:"
_EXTENSION = "relay_pages"

#: Fixed texts the pages may show after a redirect (a code travels, never text).
NOTICES = {
    "retried": "Sent again: the delivery is queued with a fresh schedule.",
    "in_flight": "Not sent again: the delivery is being sent right now. Try in a moment.",
    "signed_out": "You are signed out.",
}

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# -- sessions -----------------------------------------------------------------------------------


class Sessions:
    """Signs and reads the session cookie; derives each session's CSRF token."""

    def __init__(self, token_keys: tuple[str, ...]) -> None:
        # itsdangerous signs with the last key and accepts all: oldest first.
        self._keys = [
            hmac.new(key.encode(), _KEY_LABEL, hashlib.sha256).digest()
            for key in reversed(token_keys)
        ]
        self._serializer = URLSafeTimedSerializer(self._keys, salt=_SALT)

    def __repr__(self) -> str:
        return f"<Sessions with {len(self._keys)} key(s)>"

    def issue(self, tenant: str) -> str:
        return self._serializer.dumps({"t": tenant})

    def tenant(self, cookie: str | None) -> str | None:
        """The tenant id in a valid, unexpired cookie, else None."""
        if not cookie or len(cookie) > 512:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        tenant = data.get("t") if isinstance(data, dict) else None
        return tenant if isinstance(tenant, str) and tenant else None

    def csrf_token(self, cookie: str) -> str:
        return _mac(self._keys[-1], cookie)

    def csrf_ok(self, cookie: str, token: str | None) -> bool:
        if not token:
            return False
        given = token.encode("utf-8", "replace")  # compare_digest takes str in ASCII only
        return any(hmac.compare_digest(_mac(key, cookie).encode(), given) for key in self._keys)


def _mac(key: bytes, cookie: str) -> str:
    return hmac.new(key, _CSRF_LABEL + cookie.encode(), hashlib.sha256).hexdigest()


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    relay = state.app.extensions["relay"]
    state.app.extensions[_EXTENSION] = Sessions(relay.config.resolved_token_keys())


def _sessions() -> Sessions:
    sessions: Sessions = current_app.extensions[_EXTENSION]
    return sessions


@dataclass(frozen=True)
class Visitor:
    tenant: str
    cookie: str = field(repr=False)  # a credential: never in a repr

    @property
    def csrf(self) -> str:
        return _sessions().csrf_token(self.cookie)


def _visitor() -> Visitor | None:
    cookie = request.cookies.get(COOKIE)
    tenant = _sessions().tenant(cookie)
    return Visitor(tenant, cookie) if tenant and cookie else None


def signed_in(view: F) -> F:
    """Run `view(visitor, ...)`; without a valid session, go to the login form."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        visitor = _visitor()
        if visitor is None:
            if request.method != "GET":
                abort(403)
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")), 303)
        return view(visitor, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _https() -> bool:
    public = current_relay().config.public_url or ""
    return request.is_secure or public.startswith("https://")


def _same_origin() -> bool:
    """The form was posted from a page of this relay (Origin, else Referer)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return False
    try:
        netloc = urlsplit(source).netloc.lower()
    except ValueError:
        return False
    allowed = {request.host.lower()}
    public = current_relay().config.public_url
    if public:
        allowed.add(urlsplit(public).netloc.lower())
    return netloc in allowed


def _check_post(visitor: Visitor | None) -> None:
    if not _same_origin():
        log.warning("log page: cross-site form refused", extra=fields(path=request.path))
        abort(403)
    if visitor is not None and not _sessions().csrf_ok(
        visitor.cookie, request.form.get("csrf_token")
    ):
        log.warning("log page: bad CSRF token", extra=fields(tenant=visitor.tenant))
        abort(403)


def _safe_next(raw: str | None) -> str:
    """Where to go after signing in: a path under /log/, never another site."""
    home = url_for("pages.deliveries")
    if not raw or not raw.startswith(home) or "\\" in raw or raw.startswith("//"):
        return home
    return raw


@bp.after_request
def _headers(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "when": when,
        "iso": iso,
        "host_of": target_host,
        "statuses": [s.value for s in DeliveryStatus],
    }


def when(ts: float | None) -> str:
    """`2026-11-22 10:00:00 UTC` (the ISO time is in the <time> element's datetime)."""
    stamp = iso(ts)
    return "" if stamp is None else stamp.replace("T", " ").replace("Z", " UTC")


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(f"relay_log/{template}", **context), status


@bp.errorhandler(403)
def _forbidden(exc: Exception) -> tuple[str, int]:
    return _page(
        "message.html",
        403,
        title="Not allowed",
        message="This form was not sent from this relay's own page, or your session "
        "has changed. Go back, reload the page and try again.",
        visitor=None,
    )


@bp.errorhandler(404)
def _not_found(exc: Exception) -> tuple[str, int]:
    return _page(
        "message.html",
        404,
        title="Not found",
        message="There is no such delivery for this API key.",
        visitor=_visitor(),
    )


# -- signing in and out -----------------------------------------------------------------------


def _key_problem(key: str) -> str | None:
    if not key:
        return "Enter your CreativeAI API key."
    if len(key.encode("utf-8", "replace")) > MAX_API_KEY_BYTES or not key.isprintable():
        return (
            f"That is not a CreativeAI API key: a key is printable text of at most "
            f"{MAX_API_KEY_BYTES} bytes."
        )
    return None


def _tenant_known(tenant: str) -> bool:
    with current_relay().storage.transaction(write=False) as tx:
        return tx.one("SELECT id FROM tenants WHERE id = ?", tenant) is not None


@bp.get("/login")
def login() -> Redirect | tuple[str, int]:
    next_url = _safe_next(request.args.get("next"))
    if _visitor() is not None:
        return redirect(next_url, 303)
    notice = NOTICES.get(request.args.get("notice", ""))
    return _page("login.html", next=next_url, notice=notice, visitor=None)


@bp.post("/login")
def login_post() -> Redirect | tuple[str, int]:
    _check_post(None)
    key = request.form.get("api_key", "").strip()
    next_url = _safe_next(request.form.get("next"))
    problem = _key_problem(key)
    tenant = None if problem else tenant_id(key)
    if tenant is not None and not _tenant_known(tenant):
        problem = (
            "This API key is not known to this relay: it has made no webhook URL or "
            "subscription here. Check the key, or create a route with it first."
        )
    if problem or tenant is None:
        log.info("log page: sign-in refused", extra=fields(tenant=tenant))
        return _page("login.html", 401, error=problem, next=next_url, visitor=None)
    response = redirect(next_url, 303)
    response.set_cookie(
        COOKIE,
        _sessions().issue(tenant),
        max_age=SESSION_SECONDS,
        path=url_for("pages.deliveries"),
        secure=_https(),
        httponly=True,
        samesite="Strict",
    )
    log.info("log page: signed in", extra=fields(tenant=tenant))
    return response


@bp.post("/logout")
@signed_in
def logout(visitor: Visitor) -> Redirect:
    _check_post(visitor)
    response = redirect(url_for("pages.login", notice="signed_out"), 303)
    response.delete_cookie(
        COOKIE, path=url_for("pages.deliveries"), secure=_https(), httponly=True, samesite="Strict"
    )
    log.info("log page: signed out", extra=fields(tenant=visitor.tenant))
    return response


@bp.get("/style.css")
def stylesheet() -> Response:
    css = render_template("relay_log/style.css")
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# -- the list -----------------------------------------------------------------------------------


class BadFilter(ValueError):
    def __init__(self, field: str, value: str, allowed: str) -> None:
        super().__init__(f"{field}={value!r} is not valid: {allowed}")
        self.field = field


def event_names() -> list[str]:
    return [*catalog_events.BY_NAME, JOIN_EVENT]


def _time(args: Mapping[str, str], name: str) -> float | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return checked_time(raw)
    except ValueError:
        raise BadFilter(name, raw, "a UTC date and time such as 2026-11-22T10:00") from None


def parse_filter(args: Any) -> DeliveryFilter:
    """The list's filters from the query string; BadFilter names the field and what is allowed."""
    statuses = []
    for raw in args.getlist("status"):
        try:
            statuses.append(DeliveryStatus(raw))
        except ValueError:
            allowed = ", ".join(s.value for s in DeliveryStatus)
            raise BadFilter("status", raw, f"one or more of {allowed}") from None
    event = (args.get("event") or "").strip() or None
    if event is not None and event not in event_names():
        raise BadFilter("event", event, "one of the event names in the list")
    limit_raw = (args.get("limit") or str(PAGE_SIZE)).strip()
    limit = ascii_int(limit_raw, 1, MAX_PAGE_SIZE)
    if limit is None:
        raise BadFilter("limit", limit_raw, f"a whole number from 1 to {MAX_PAGE_SIZE}")
    cursor = (args.get("cursor") or "").strip() or None
    if cursor is not None and not (cursor.startswith("dlv_") and cursor[4:].isalnum()):
        raise BadFilter("cursor", cursor, "the link to the next page")
    since, until = _time(args, "since"), _time(args, "until")
    if since is not None and until is not None and since >= until:
        raise BadFilter("until", args.get("until", ""), "a time after 'since'")
    return DeliveryFilter(
        statuses=tuple(dict.fromkeys(statuses)),
        event=event,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )


def _link(args: Any, **changes: str | None) -> str:
    """The list with the current filters and `changes` applied (None drops a key)."""
    pairs = [(k, v) for k, v in args.items(multi=True) if k not in changes and v]
    pairs += [(k, v) for k, v in changes.items() if v]
    query = urlencode(pairs)
    return url_for("pages.deliveries") + (f"?{query}" if query else "")


@bp.get("/")
@signed_in
def deliveries(visitor: Visitor) -> tuple[str, int]:
    relay = current_relay()
    args = request.args
    error = None
    try:
        flt = parse_filter(args)
    except BadFilter as exc:
        error, flt = exc, DeliveryFilter(limit=PAGE_SIZE)
    items: list[Delivery] = []
    next_cursor = None
    if error is None:
        page = relay.storage.list_deliveries(visitor.tenant, flt)
        items, next_cursor = page.items, page.next_cursor
    return _page(
        "list.html",
        400 if error else 200,
        visitor=visitor,
        error=error,
        items=items,
        chosen_statuses={s.value for s in flt.statuses},
        event=flt.event,
        events=event_names(),
        since=args.get("since", ""),
        until=args.get("until", ""),
        filtered=bool(flt.statuses or flt.event or flt.since or flt.until),
        older=_link(args, cursor=next_cursor) if next_cursor else None,
        newest=_link(args, cursor=None) if flt.cursor else None,
        notice=NOTICES.get(args.get("notice", "")),
    )


# -- one delivery -------------------------------------------------------------------------------


def _preview(relay: Any, tenant: str, delivery: Delivery) -> tuple[str, bool] | None:
    body = delivery.payload
    if body is None and delivery.event_id:
        stored = relay.storage.event_body(tenant, delivery.event_id)
        body = stored[0] if stored else None
    if body is None:
        return None
    cut = len(body) > BODY_PREVIEW_BYTES
    return body[:BODY_PREVIEW_BYTES].decode("utf-8", "replace"), cut


@bp.get("/deliveries/<delivery_id>")
@signed_in
def delivery(visitor: Visitor, delivery_id: str) -> tuple[str, int]:
    relay = current_relay()
    found = relay.storage.get_delivery(visitor.tenant, delivery_id)
    if found is None:
        abort(404)
    return _page(
        "delivery.html",
        visitor=visitor,
        d=found,
        attempts=relay.storage.attempts(found.id),
        body=_preview(relay, visitor.tenant, found),
        in_flight=found.status is DeliveryStatus.DELIVERING,
        notice=NOTICES.get(request.args.get("notice", "")),
        back=_safe_next(request.args.get("back")),
    )


@bp.post("/deliveries/<delivery_id>/retry")
@signed_in
def retry(visitor: Visitor, delivery_id: str) -> Redirect:
    _check_post(visitor)
    relay = current_relay()
    before = relay.storage.get_delivery(visitor.tenant, delivery_id)
    if before is None:
        abort(404)
    target = url_for("pages.delivery", delivery_id=delivery_id)
    if before.status is DeliveryStatus.DELIVERING:
        return redirect(f"{target}?notice=in_flight", 303)
    if relay.storage.retry_delivery(visitor.tenant, delivery_id, time.time()) is None:
        abort(404)
    relay.wake()
    log.info(
        "log page: delivery sent again", extra=fields(delivery=delivery_id, tenant=visitor.tenant)
    )
    return redirect(f"{target}?notice=retried", 303)
