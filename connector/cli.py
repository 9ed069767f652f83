"""`creativeai-connector`: build the platform packages, run the sandbox and the relay,
call the API, and run the demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from connector import platforms, webhooks

Handler = Callable[[argparse.Namespace], int]


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def cmd_build(args: argparse.Namespace) -> int:
    root = Path(args.root) if args.root else _repo_root()
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
        print(f"up to date: {', '.join(chosen) or 'no platform emitters'}")
        return 0
    changed = platforms.build(root, chosen)
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(changed)} file(s) changed for {', '.join(chosen) or 'no platform emitters'}")
    return 0


def cmd_verify_signature(args: argparse.Namespace) -> int:
    body = Path(args.body).read_bytes() if args.body != "-" else sys.stdin.buffer.read()
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
    import os

    return os.environ.get("CREATIVEAI_API_KEY")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="creativeai-connector",
        description="CreativeAI for n8n, Make and Zapier: packages, sandbox, relay, client.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", help="generate n8n-nodes/, make-app/ and zapier/ from the catalog")
    p.add_argument("--check", action="store_true", help="fail if committed files differ")
    p.add_argument("--platform", action="append", choices=platforms.PLATFORMS)
    p.add_argument("--root", help="repository root (default: this checkout)")
    p.set_defaults(handler=cmd_build)

    p = sub.add_parser("verify-signature", help="check an X-CreativeAI-Signature over a body")
    p.add_argument("body", help="file with the raw body as received, or - for stdin")
    p.add_argument("signature", help="the header value, sha256=<hex>")
    p.add_argument("--secret", help="signing secret (default: $CREATIVEAI_API_KEY)")
    p.set_defaults(handler=cmd_verify_signature)

    for register in _extensions():
        register(sub)
    return parser


def _extensions() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """Subcommands that live beside their subsystem (`add_parser(sub)` in each)."""
    import importlib
    import importlib.util

    found = []
    for module in ("connector.sandbox.cli", "connector.client.cli", "connector.relay.cli"):
        if importlib.util.find_spec(module) is not None:
            found.append(importlib.import_module(module).add_parser)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
