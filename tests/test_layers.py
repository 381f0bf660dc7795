"""The layers of the package, checked: each module imports only what its layer may.

The rules are the ones each folder's ``__init__`` docstring states (and docs/architecture.md
draws). Every module is read, recursively, and every import (at the top or inside a function)
is checked, so a new module cannot slip past.
"""

from __future__ import annotations

import ast
from pathlib import Path

import assistant_bridge

SRC = Path(assistant_bridge.__file__).parent

# What each layer (the first path part under assistant_bridge) may import of the package.
# A module may always import its own layer.
ALLOWED: dict[str, set[str]] = {
    "exceptions": {"_values", "_redact"},
    "_redact": set(),
    "_version": set(),
    "_values": {"exceptions"},
    "_runstate": {"_values", "exceptions"},
    "runstate": {"_runstate", "_values"},  # the public name of the state table
    "_parsing": {"_values", "exceptions"},
    "transports": {"_values", "_runstate", "_redact", "exceptions"},
    "_session": {"_values", "_runstate", "_parsing", "transports", "_redact", "exceptions"},
    "ratelimit": {"_values", "transports", "_redact", "exceptions"},
    # Keyed sessions: a layer on the sessions' public API and the transport contract.
    "registry": {"_values", "_parsing", "_session", "transports", "_redact", "exceptions"},
    "testing": {"*"},
    "integrations": {"*"},
    "knowledge": {"*"},
    "_cli": {"*"},
    "__init__": {"*"},
    "__main__": {"*"},
}
# Which layers may import these third-party packages.
OPENAI_ALLOWED = {"transports"}
EMULATOR = ("testing", "_emulator")


def _layer(path: Path) -> tuple[str, ...]:
    return path.relative_to(SRC).with_suffix("").parts


def _imports(path: Path) -> list[str]:
    """The absolute names of every module ``path`` imports, relative ones resolved."""
    tree = ast.parse(path.read_text())
    package = ["assistant_bridge", *_layer(path)[:-1]]
    if path.name == "__init__.py":
        package = ["assistant_bridge", *_layer(path)[:-1]]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # The module, and each name as a possible submodule (``from pkg import mod``).
            found += [module, *(f"{module}.{alias.name}" for alias in node.names)]
    return found


def _violations(layer: str, names: list[str]) -> list[str]:
    """The imported names that ``layer`` may not import."""
    allowed = ALLOWED[layer]
    wrong = []
    for name in names:
        parts = name.split(".")
        if parts[0] != "assistant_bridge" or len(parts) < 2 or "*" in allowed:
            continue
        if parts[1] != layer and parts[1] not in allowed:
            wrong.append(name)
    return wrong


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


class TestLayers:
    def test_every_module_is_in_a_known_layer(self) -> None:
        """A new top-level module or folder must be given a place in the rules."""
        for path in _modules():
            assert _layer(path)[0] in ALLOWED, path

    def test_each_layer_imports_only_what_it_may(self) -> None:
        """No module imports a layer above its own (the folders' docstrings say which)."""
        wrong = []
        for path in _modules():
            for name in _violations(_layer(path)[0], _imports(path)):
                wrong.append(f"{path.relative_to(SRC)} imports {name}")
        assert wrong == []

    def test_only_the_transports_import_openai(self) -> None:
        """Nothing above the transports talks to openai (the testing kit's client helper, which
        builds an openai client for the user on request, aside)."""
        wrong = []
        for path in _modules():
            parts = _layer(path)
            if parts[0] in OPENAI_ALLOWED or parts == ("testing", "_emulator_kit"):
                continue
            if any(n == "openai" or n.startswith("openai.") for n in _imports(path)):
                wrong.append(str(path.relative_to(SRC)))
        assert wrong == []

    def test_the_emulator_is_a_server(self) -> None:
        """The emulator's modules import neither openai nor anything of the package outside
        the emulator: it is a server that real clients talk to over HTTP."""
        wrong = []
        for path in _modules():
            if _layer(path)[:2] != EMULATOR:
                continue
            for name in _imports(path):
                own = name.startswith("assistant_bridge.testing._emulator")
                if name.startswith("openai") or (name.startswith("assistant_bridge") and not own):
                    wrong.append(f"{path.relative_to(SRC)} imports {name}")
        assert wrong == []

    def test_no_warnings_filter_at_import(self) -> None:
        """Importing the library changes no warnings filter."""
        for path in _modules():
            text = path.read_text()
            assert "warnings.filterwarnings(" not in text, path
            assert "warnings.simplefilter(" not in text, path

    def test_the_rules_catch_a_wrong_import(self) -> None:
        """The checker itself: an upward import is caught (so the tests above can fail)."""
        names = _imports(SRC / "_session" / "flow.py")
        assert "assistant_bridge._runstate.table" in names
        assert _violations("_values", ["assistant_bridge._session.flow"]) == [
            "assistant_bridge._session.flow"
        ]
        assert _violations("_session", ["assistant_bridge._values.models"]) == []
