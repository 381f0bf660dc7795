"""The sample runbooks and incident notes the demo, the notebook and the docs use."""

from __future__ import annotations

from importlib import resources

__all__ = ["sample_runbooks"]


def sample_runbooks() -> dict[str, bytes]:
    """The bundled sample runbooks and incident notes (Markdown), by file name, sorted."""
    folder = resources.files("assistant_bridge.testing._emulator") / "runbooks"
    return {
        entry.name: entry.read_bytes()
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".md")
    }
