"""The files blueprint: `GET /files/<name>` serves job outputs (the sandbox's CDN).

Like the API's CDN links, these need no key. A file is rendered the first time it is asked
for (see `outputs`), then served from disk with range and conditional request support.
"""

from __future__ import annotations

from flask import Blueprint, Response, send_file

from connector.catalog import errors
from connector.sandbox.api import current_sandbox
from connector.sandbox.apierrors import ErrorResponse
from connector.sandbox.media import MediaUnavailable
from connector.sandbox.outputs import FILES_PREFIX

__all__ = ["bp"]

bp = Blueprint("files", __name__)


@bp.get(FILES_PREFIX + "<path:name>")
def download(name: str) -> Response:
    store = current_sandbox().store
    spec = store.get(name)
    if spec is None:
        raise ErrorResponse(errors.NOT_FOUND, f"No file {name!r} (outputs are kept until a reset).")
    try:
        path = store.path(name)
    except MediaUnavailable as exc:
        raise ErrorResponse(errors.SERVER_ERROR, str(exc), status=501) from None
    except (OSError, ValueError, KeyError) as exc:
        raise ErrorResponse(
            errors.SERVER_ERROR, f"{name} could not be rendered: {type(exc).__name__}: {exc}"
        ) from None
    return send_file(path, mimetype=spec.mimetype, conditional=True, download_name=name)
