"""``python -m assistant_bridge`` runs the ``assistant-bridge`` command."""

from ._cli import main

raise SystemExit(main())
