"""Run the sandbox until Ctrl-C: `python -m connector.sandbox [--host H] [--port P]`.

Settings come from the `SANDBOX_*` environment variables (see `connector.sandbox.config`);
`--time-scale` overrides `SANDBOX_TIME_SCALE`.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence

from connector.sandbox import create_app, sandbox_of
from connector.sandbox.config import DEFAULT_API_KEY, ENV_VARS, SandboxConfig
from connector.serving import serve

__all__ = ["main"]

DEFAULT_PORT = 8787


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m connector.sandbox",
        description="A local stand-in for the CreativeAI API (see connector/sandbox/README.md).",
        epilog="environment:\n" + "\n".join(f"  {k}: {v}" for k, v in ENV_VARS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0 = any free one)")
    parser.add_argument("--time-scale", type=float, help="real seconds per sandbox second")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    try:
        config = SandboxConfig.from_env()
        if args.time_scale is not None:
            config = config.with_(time_scale=args.time_scale)
    except ValueError as exc:
        parser.error(str(exc))
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
