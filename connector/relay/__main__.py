"""`python -m connector.relay [serve|worker|migrate|keygen]`."""

from connector.relay.cli import main

raise SystemExit(main())
