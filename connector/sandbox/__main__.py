"""Run the sandbox until Ctrl-C: `python -m connector.sandbox [--host H] [--port P]`.

Settings come from the `SANDBOX_*` environment variables (see `connector.sandbox.config`);
`--time-scale` overrides `SANDBOX_TIME_SCALE`.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
from collections.abc import Sequence

from connector.sandbox.config import DEFAULT_API_KEY, ENV_VARS, SandboxConfig

__all__ = ["add_arguments", "main", "run"]

DEFAULT_PORT = 8787


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's options, shared by `python -m connector.sandbox` and
    `creativeai-connector sandbox`."""
    parser.description = (
        "A local stand-in for the CreativeAI API (see connector/sandbox/README.md)."
    )
    parser.epilog = "environment:\n" + "\n".join(f"  {k}: {v}" for k, v in ENV_VARS.items())
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 = any free one)",
    )
    parser.add_argument("--time-scale", type=float, help="real seconds per sandbox second")
    parser.add_argument("--quiet", action="store_true", help="no access log")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Serve until Ctrl-C with the options `add_arguments` defined."""
    from connector.sandbox import create_app, sandbox_of  # the app only when it is run
    from connector.serving import serve

    try:
        config = SandboxConfig.from_env()
        if args.time_scale is not None:
            config = config.with_(time_scale=args.time_scale)
    except ValueError as exc:
        parser.error(str(exc))
    taken = _cannot_listen(args.host, args.port)
    if taken:
        print(f"error: cannot listen on {args.host}:{args.port}: {taken}", file=sys.stderr)
        return 1
    app = create_app(config)
    stop = threading.Event()
    try:
        with serve(app, args.host, args.port, access_log=not args.quiet) as server:
            keys = [k.key if k.key == DEFAULT_API_KEY else k.name for k in config.api_keys]
            print(f"CreativeAI sandbox on {server.url}  (keys: {', '.join(keys)})", flush=True)
            if config.control:
                print(f"control API: {server.url}/_sandbox/  (loopback only)", flush=True)
            stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox_of(app).close()
    return 0


def _cannot_listen(host: str, port: int) -> str | None:
    """Why `host:port` cannot be bound (in use, no such address), or None when it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connector.sandbox")
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
