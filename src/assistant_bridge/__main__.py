"""``python -m assistant_bridge`` runs the ``assistant-bridge`` command."""

from assistant_bridge._cli.main import main

raise SystemExit(main())
