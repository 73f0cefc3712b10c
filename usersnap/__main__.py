"""``python -m usersnap`` is the CLI."""

from __future__ import annotations

from usersnap.cli.main import main

raise SystemExit(main())
