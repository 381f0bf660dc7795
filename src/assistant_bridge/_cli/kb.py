"""``assistant-bridge kb``: keep a vector store equal to a folder (``kb sync DIR --store NAME``)
or delete it (``kb delete --store NAME``), on the server OPENAI_API_KEY and OPENAI_BASE_URL
point at."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any, TextIO

from assistant_bridge._cli.arguments import require_key, seconds

if TYPE_CHECKING:
    from assistant_bridge.knowledge import SyncProgress

__all__ = ["add_parser", "run_kb"]

_BAR = 24


def add_parser(subparsers: Any) -> None:
    """Add the ``kb`` command to the ``assistant-bridge`` parser's subparsers."""
    kb = subparsers.add_parser(
        "kb", help="keep a vector store (knowledge base) equal to a folder of files"
    )
    actions = kb.add_subparsers(dest="kb_command", required=True, metavar="{sync,delete}")
    sync = actions.add_parser(
        "sync", help="upload new and changed files, remove deleted ones, wait for indexing"
    )
    sync.add_argument("folder", help="the folder (or file) the store must hold")
    sync.add_argument("--store", required=True, help="the vector store's name")
    sync.add_argument(
        "--timeout",
        type=seconds,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for indexing (default: %(default)g)",
    )
    sync.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be uploaded, replaced, removed and skipped; change nothing",
    )
    sync.add_argument(
        "--allow-removal",
        action="store_true",
        help="let the sync remove every file of the store, or most of a store of more than 4",
    )
    delete = actions.add_parser("delete", help="delete the store and the files synced to it")
    delete.add_argument("--store", required=True, help="the vector store's name")
    kb.set_defaults(run=run_kb)


def run_kb(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``kb sync`` or ``kb delete``; 0 on success. Errors are raised, for the command to
    report in its one-line form with its exit code, as for every subcommand."""
    require_key(os.environ, f"kb {args.kb_command}")
    from assistant_bridge.knowledge import KnowledgeBase
    from assistant_bridge.transports import OpenAITransport

    with OpenAITransport.from_env(os.environ) as transport:
        kb = KnowledgeBase(transport, args.store)
        if args.kb_command == "delete":
            found = kb.delete()
            out.write(f"deleted {args.store!r}\n" if found else f"no store {args.store!r}\n")
            return 0
        if args.dry_run:
            plan = kb.plan(args.folder)
            for line in plan.lines():
                out.write(f"{line}\n")
            out.write(f"would do: {plan.summary()}\n")
            return 0
        bar = _ProgressBar(err) if err.isatty() else None
        try:
            result = kb.sync(
                args.folder,
                timeout=args.timeout,
                progress=bar.show if bar else None,
                allow_removal=args.allow_removal,
            )
        finally:
            if bar is not None:
                bar.close()
    out.write(f"{result.summary()}\n")
    out.write(f"vector store {result.name!r}: {result.store_id}\n")
    for skipped in result.skipped:
        out.write(f"skipped {skipped}\n")
    return 0


class _ProgressBar:
    """One terminal line, redrawn: stage, a bar, done/total and the file at hand."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._drawn = False

    def show(self, progress: SyncProgress) -> None:
        filled = _BAR * progress.done // max(progress.total, 1)
        line = (
            f"{progress.stage:<6} [{'#' * filled}{'.' * (_BAR - filled)}] "
            f"{progress.done}/{progress.total} {progress.path or ''}"
        )
        self._stream.write(f"\r{line[:79]:<79}")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
