"""`creativeai-connector`: build the platform packages, run the sandbox and the relay,
call the API, and run the demo."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from connector import platforms, webhooks
from connector.catalog import CATALOG, Field, FieldType, Operation, steps
from connector.catalog import limits as api_limits
from connector.catalog.spec import OperationKind
from connector.errors import CreativeAIError
from connector.progress import ProgressBar, job_progress

Handler = Callable[[argparse.Namespace], int]


def cmd_build(args: argparse.Namespace) -> int:
    try:
        root = platforms.check_root(Path(args.root)) if args.root else platforms.find_root(Path())
    except platforms.NoCheckout as exc:
        raise CommandError(str(exc)) from None
    found = platforms.available()
    chosen = {name: found[name] for name in (args.platform or found)}
    if args.check:
        drifts = platforms.check(root, chosen)
        for d in drifts:
            print(f"{d.what:8} {d.path}", file=sys.stderr)
        if drifts:
            print(
                f"{len(drifts)} generated file(s) differ from the catalog: "
                f"run `{platforms.BUILD_COMMAND}`",
                file=sys.stderr,
            )
            return 1
        print(f"up to date in {root}: {', '.join(chosen) or 'no emitters'}")
        return 0
    changed = platforms.build(root, chosen)
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(changed)} file(s) changed in {root} for {', '.join(chosen) or 'no emitters'}")
    return 0


def cmd_verify_signature(args: argparse.Namespace) -> int:
    body = _read(Path(args.body), "body") if args.body != "-" else sys.stdin.buffer.read()
    secret = args.secret or _env_key()
    if not secret:
        print("no secret: pass --secret or set CREATIVEAI_API_KEY", file=sys.stderr)
        return 2
    if webhooks.verify(body, args.signature, secret):
        print("valid: the signature matches these exact bytes")
        return 0
    print("INVALID: the signature does not match (wrong secret, or the body was changed)")
    return 1


def _env_key() -> str | None:
    return os.environ.get("CREATIVEAI_API_KEY")


# -- API calls: one subcommand per catalog operation, options from its fields ---------------


def _option(field: Field) -> str:
    return "--" + field.name.replace("_", "-")


def _add_field_option(parser: argparse.ArgumentParser, field: Field, required: bool) -> None:
    t = field.type
    kw: dict[str, Any] = {"dest": field.name, "help": field.help, "required": required}
    if field.default is not None and t is not FieldType.FILE:
        kw["help"] += f" (API default: {str(field.default).lower()})"
    if t is FieldType.BOOLEAN:
        kw["action"] = argparse.BooleanOptionalAction
    elif t is FieldType.INTEGER:
        kw["type"] = int
    elif t is FieldType.NUMBER:
        kw["type"] = float
    elif t is FieldType.ENUM and field.closed:
        kw["choices"] = field.option_values
    elif t in (FieldType.STRING_LIST, FieldType.NUMBER_LIST):
        kw["action"] = "append"
        kw["type"] = float if t is FieldType.NUMBER_LIST else str
        kw["help"] += " (repeat the option for each item)"
    elif t in (FieldType.OBJECT, FieldType.OBJECT_LIST):
        kw["type"] = json.loads
        kw["metavar"] = "JSON"
        kw["help"] += " (as JSON)"
    elif t is FieldType.FILE:
        kw["type"] = Path
        kw["metavar"] = "PATH"
    parser.add_argument(_option(field), **kw)


def _client(args: argparse.Namespace, ledger: Any = None) -> Any:
    from connector.client import ENV_API_KEY, CreativeAI

    if not (args.api_key or os.environ.get(ENV_API_KEY)):
        raise CommandError(f"no API key: pass --api-key or set {ENV_API_KEY}")
    return CreativeAI(base_url=args.base_url, api_key=args.api_key, ledger=ledger)


def _ledger(args: argparse.Namespace) -> Any:
    """The ledger `--ledger` names: a relay for an http(s) URL (with the same API key),
    else a ledger file. None without `--ledger`; `--record-key` needs one."""
    from connector.client import ENV_API_KEY, FileLedger, LedgerError, RelayLedger

    where = getattr(args, "ledger", None)
    if getattr(args, "record_key", None) is not None and not where:
        raise CommandError(
            "--record-key needs --ledger: a ledger file (PATH) or the relay's URL keeps the "
            "job each key started"
        )
    if not where:
        return None
    if where.startswith(("http://", "https://")):
        try:
            return RelayLedger(where, args.api_key or os.environ.get(ENV_API_KEY) or "")
        except LedgerError as exc:
            raise CommandError(f"--ledger {where}: {exc}") from None
    return FileLedger(where)


def _print_model(obj: Any) -> None:
    print(json.dumps(obj.model_dump(mode="json"), indent=2))


def _fields_from(args: argparse.Namespace, op: Operation) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for use in op.fields:
        f = use.field
        value = getattr(args, f.name, None)
        if value is None or f.fixed is not None:
            continue
        if f.type is FieldType.FILE:
            value = (value.name, _read(value, _option(f)))
        fields[f.name] = value
    for param in op.path_params:
        fields[param.name] = getattr(args, param.name)
    for option in (steps.MAX_CREDITS, steps.RECORD_KEY):
        if getattr(args, option.key, None) is not None:
            fields[option.key] = getattr(args, option.key)
    return fields


#: Exit status of a paid call refused by --max-credits (nothing was started).
EXIT_CAPPED = 3


class CommandError(Exception):
    """A command that cannot run as asked; printed as one `error:` line (exit status 1)."""


#: Exit status of a `--wait` that gave up while the job still runs (its id is printed).
EXIT_WAIT_GAVE_UP = 4


class WaitGaveUp(CommandError):
    """`--wait` ran out of time; the job keeps running (exit status `EXIT_WAIT_GAVE_UP`)."""


def _read(path: Path, option: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"{option}: cannot read {str(path)!r} ({exc.strerror or exc})") from None


def cmd_call(args: argparse.Namespace) -> int:
    op: Operation = args.operation
    key = op.key
    if key == "video.create_from_text" and getattr(args, "image_url", None):
        key = "video.create_from_image"
    fields = _fields_from(args, CATALOG.operation(key))
    if getattr(args, "stream", False) and fields.get(steps.RECORD_KEY.key) is not None:
        raise CommandError(
            "--record-key works with --wait, not --stream (a stream always starts a new job)"
        )
    ledger = _ledger(args)
    with contextlib.ExitStack() as stack:
        if hasattr(ledger, "close"):  # a relay's connections
            stack.callback(ledger.close)
        client = stack.enter_context(_client(args, ledger))
        if getattr(args, "stream", False):
            return _follow_stream(client, fields, args)
        result = _create(client, key, fields, args)
        if getattr(args, "wait", False) and op.is_async:
            result = _wait(client, result, op, args)
        if getattr(args, "download", None) and getattr(result, "output_url", None):
            saved = client.download(result.output_url, args.download)
            print(f"saved {saved.path} ({saved.bytes_written:,} bytes)", file=sys.stderr)
        _print_model(result)
    return 0


def _create(client: Any, key: str, fields: dict[str, Any], args: argparse.Namespace) -> Any:
    """The create; a ledger that fails is named by its option (and a job it started but
    could not keep is printed before the error)."""
    from connector.client import LedgerError

    try:
        return client.call(key, **fields)
    except LedgerError as exc:
        if exc.created is not None:
            _print_model(exc.created)
        raise CommandError(f"--ledger {args.ledger}: {exc}") from None


def _wait(client: Any, job: Any, op: Operation, args: argparse.Namespace) -> Any:
    """Wait for the job; one that outlasts the wait is printed as last seen (its id kept),
    and the error names the command that fetches it later."""
    from connector.client import WaitTimeoutError

    try:
        return client.wait(
            job, interval=args.interval, timeout=args.timeout, on_progress=job_progress(op.label)
        )
    except WaitTimeoutError as exc:
        _print_model(exc.last if exc.last is not None else job)
        raise WaitGaveUp(str(exc)) from None


def _follow_stream(client: Any, fields: dict[str, Any], args: argparse.Namespace) -> int:
    bar = ProgressBar("video")
    last = None
    for update in client.videos.stream(poll_interval=args.interval, **fields):
        bar.update(update.percent, update.status or update.kind)
        last = update
    if last is None or last.kind != "completed":
        raise CommandError(_not_completed(last))
    bar.done("completed")
    if args.download:
        saved = client.download(last.urls[0], args.download)
        print(f"saved {saved.path} ({saved.bytes_written:,} bytes)", file=sys.stderr)
    print(json.dumps({"id": last.job_id, "status": last.status, "urls": list(last.urls)}, indent=2))
    return 0


def _not_completed(last: Any) -> str:
    if last is not None and last.kind == "failed":
        reason = ": ".join(str(p) for p in (last.code, last.message) if p) or "no reason given"
        who = f"the video {last.job_id}" if last.job_id else "the video"
        return f"{who} failed ({reason})"
    later = (
        f"; fetch it later: creativeai-connector status {last.job_id}"
        if last and last.job_id
        else ""
    )
    return "the stream ended before the video finished" + later


def cmd_status(args: argparse.Namespace) -> int:
    """Look an id up on each status endpoint in turn (video, shared status, batch)."""
    from connector.client import NotFoundError

    order = {"video": ["video.get"], "job": ["job.get"], "batch": ["batch.get"]}.get(
        args.kind, ["video.get", "job.get", "batch.get"]
    )
    with _client(args) as client:
        for key in order:
            op = CATALOG.operation(key)
            try:
                result = client.call(key, **{op.path_params[0].name: args.id})
            except NotFoundError:
                continue
            _print_model(result)
            return 0
    print(f"error: no video, job or batch has the id {args.id!r}", file=sys.stderr)
    return 1


def cmd_download(args: argparse.Namespace) -> int:
    """The key goes only to the API's own origin, so any other URL needs none."""
    from connector.client import ENV_BASE_URL, download
    from connector.client._download import check_url, same_origin

    check_url(args.url)
    name = args.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "output"
    target = args.path or Path(name)
    base = args.base_url or os.environ.get(ENV_BASE_URL) or api_limits.DEFAULT_BASE_URL
    if same_origin(args.url, base) or args.api_key or _env_key():
        with _client(args) as client:
            saved = client.download(args.url, target)
    else:
        saved = download(args.url, target)
    print(f"saved {saved.path} ({saved.bytes_written:,} bytes)")
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from connector.sandbox.__main__ import run

    return run(args, args.parser)


def cmd_demo(args: argparse.Namespace) -> int:
    from connector import demo
    from connector.client import CreativeAI

    out = Path(args.out)
    if args.base_url:  # the real API (or any other deployment)
        with CreativeAI(base_url=args.base_url, api_key=args.api_key) as client:
            record = demo.run(client, out)
    else:
        record = _demo_on_sandbox(out, args.time_scale)
    print(json.dumps(record.__dict__, indent=2))
    print(f"\nnarrated MP4: {record.final_file}")
    return 0


def _demo_on_sandbox(out: Path, time_scale: float) -> Any:
    from connector import demo
    from connector.client import CreativeAI
    from connector.sandbox import SandboxConfig, create_app, sandbox_of
    from connector.serving import serve

    config = SandboxConfig.from_env().with_(time_scale=time_scale)
    app = create_app(config)
    try:
        with serve(app) as server:
            print(f"sandbox on {server.url} (time x{1 / time_scale:g})", file=sys.stderr)
            key = config.api_keys[0].key
            with CreativeAI(base_url=server.url, api_key=key) as client:
                return demo.run(client, out, time_scale=time_scale)
    finally:
        sandbox_of(app).close()


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        help=f"API base URL (default $CREATIVEAI_BASE_URL or {api_limits.DEFAULT_BASE_URL})",
    )
    parser.add_argument("--api-key", help="API key (default $CREATIVEAI_API_KEY)")


def _add_operations(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    resources: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    paid = steps.capped(CATALOG.operations.values())
    for op in CATALOG.operations.values():
        if op.key in ("video.create_from_image",) or not op.platforms:
            continue  # image-to-video is `video create --image-url`; streams: `--stream`
        if op.resource not in resources:
            r = sub.add_parser(op.resource, help=f"{op.resource} calls")
            resources[op.resource] = r.add_subparsers(dest="action", required=True)
        action = "create" if op.key == "video.create_from_text" else op.action.replace("_", "-")
        p = resources[op.resource].add_parser(action, help=op.description)
        _add_api_options(p)
        for param in op.path_params:
            p.add_argument(param.name, help=param.help)
        for use in op.fields:
            _add_field_option(p, use.field, use.required)
        if op.key == "video.create_from_text":  # optional here: it switches to image-to-video
            image = CATALOG.operation("video.create_from_image").field("image_url").field
            _add_field_option(p, image, required=False)
        if op.kind is OperationKind.CREATE:
            p.add_argument(
                "--max-credits",
                type=float,
                metavar="N",
                help="price the call first and start nothing when the estimate is over N "
                f"credits (exit status {EXIT_CAPPED}); for a batch, the whole batch",
            )
        if op in paid:
            p.add_argument(
                "--record-key",
                metavar="KEY",
                help=f"{steps.RECORD_KEY.help} Needs --ledger.",
            )
            p.add_argument(
                "--ledger",
                metavar="PATH-or-URL",
                help="where record keys are kept: a ledger file (JSON, made when missing, "
                "safe for several processes at once) or the relay's http(s) URL (asked with "
                "the same API key)",
            )
        if op.is_async:
            p.add_argument("--wait", action="store_true", help="poll until the job ends")
            p.add_argument(
                "--timeout",
                type=float,
                metavar="SECONDS",
                help="with --wait: give up after this long (default: the API's recommended "
                "limit for the kind of job); the job keeps running, its last state is "
                "printed and the error names the command that fetches it later (exit status "
                f"{EXIT_WAIT_GAVE_UP})",
            )
            p.add_argument(
                "--interval",
                type=float,
                help="seconds between polls or stream "
                "checks (default: the API's recommended cadence)",
            )
            p.add_argument(
                "--download",
                type=Path,
                metavar="PATH",
                help="with --wait or --stream: save the output file here",
            )
        if op.key == "video.create_from_text":
            p.add_argument(
                "--stream",
                action="store_true",
                help="follow progress as server-sent events (implies waiting)",
            )
        p.set_defaults(handler=cmd_call, operation=op)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="creativeai-connector",
        description="CreativeAI for n8n, Make and Zapier: packages, sandbox, relay, client.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "build",
        help="generate everything generated from the catalog: n8n-nodes/, make-app/, zapier/ "
        "and the client's connector/client/params.py",
    )
    p.add_argument("--check", action="store_true", help="fail if committed files differ")
    p.add_argument(
        "--platform",
        action="append",
        choices=platforms.GENERATORS,
        help="only this part (repeatable; default: all)",
    )
    p.add_argument(
        "--root",
        help="the checkout to write into (default: the nearest folder above the working "
        "directory with this project's pyproject.toml)",
    )
    p.set_defaults(handler=cmd_build)

    p = sub.add_parser("verify-signature", help="check an X-CreativeAI-Signature over a body")
    p.add_argument("body", help="file with the raw body as received, or - for stdin")
    p.add_argument("signature", help="the header value, sha256=<hex>")
    p.add_argument("--secret", help="signing secret (default: $CREATIVEAI_API_KEY)")
    p.set_defaults(handler=cmd_verify_signature)

    _add_operations(sub)

    p = sub.add_parser("status", help="status of a video, batch or job by id")
    _add_api_options(p)
    p.add_argument("id")
    p.add_argument("--kind", choices=("auto", "video", "job", "batch"), default="auto")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser(
        "download",
        help="download an output file (outputs expire after "
        f"{api_limits.OUTPUT_URL_LIFETIME_DAYS} days)",
    )
    _add_api_options(p)
    p.add_argument("url")
    p.add_argument("path", nargs="?", type=Path)
    p.set_defaults(handler=cmd_download)

    from connector.sandbox.__main__ import add_arguments as add_sandbox_arguments

    p = sub.add_parser("sandbox", help="run the local CreativeAI sandbox until Ctrl-C")
    add_sandbox_arguments(p)
    p.set_defaults(handler=cmd_sandbox, parser=p)

    p = sub.add_parser("demo", help="the commerce flow: image -> video -> voice -> narrated MP4")
    _add_api_options(p)
    p.add_argument("--out", default="demo-output", help="folder for the MP4 and the record")
    p.add_argument(
        "--time-scale",
        type=float,
        default=0.05,
        help="sandbox seconds per real second (default 0.05: 20x faster)",
    )
    p.set_defaults(handler=cmd_demo)

    for register in _extensions():
        register(sub)
    return parser


def _extensions() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """Subcommands that live beside their subsystem (`add_parser(sub)` in each)."""
    import importlib
    import importlib.util

    found = []
    for module in ("connector.relay.cli",):
        if importlib.util.find_spec(module) is not None:
            found.append(importlib.import_module(module).add_parser)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A mistake on the command line is argparse's usage error (status 2);
    anything the command then cannot do is one `error:` line (status 1), never a traceback."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (CreativeAIError, CommandError) as exc:  # InvalidInput is a CreativeAIError
        _fail(str(exc))
        if isinstance(exc, WaitGaveUp):
            return EXIT_WAIT_GAVE_UP
        return EXIT_CAPPED if _capped(exc) else 1
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}")
    except KeyboardInterrupt:
        return 130


def _capped(exc: Exception) -> bool:
    """Whether a paid call was refused by its credit cap. Looked up only if the client was
    loaded (it raised it then): `build` must run while the client cannot even import."""
    errors = sys.modules.get("connector.client.errors")
    return errors is not None and isinstance(exc, errors.CreditCapError)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
