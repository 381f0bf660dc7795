"""The emulator's route and resource tables: checked when imported, so a missing handler or
one that cannot take its path's ids fails the import instead of answering 500 (which clients
retry); every resource row generates the routes it declares."""

from __future__ import annotations

from typing import Any

import pytest

from assistant_bridge.testing._emulator.resource_table import RESOURCES
from assistant_bridge.testing._emulator.resources import Resource, Route
from assistant_bridge.testing._emulator.routes import ROUTE_NAMES, ROUTES, check_routes
from assistant_bridge.testing._emulator.validation import SCHEMAS


def _handler(app: Any, **_: Any) -> None:
    return None


def test_the_shipped_table_passes_its_own_check() -> None:
    check_routes(ROUTES, SCHEMAS)
    assert len(set(ROUTE_NAMES)) == len(ROUTE_NAMES)


@pytest.mark.parametrize(
    ("routes", "schemas", "problem"),
    [
        ([Route("GET", "/x/{a}", "x.get", lambda app, request, body: None)], (), "cannot take"),
        (
            [Route("GET", "/x", "x.get", _handler), Route("POST", "/x", "x.get", _handler)],
            (),
            "named twice",
        ),
        (
            [Route("GET", "/x", "x.a", _handler), Route("GET", "/x", "x.b", _handler)],
            (),
            "routed twice",
        ),
        ([Route("GET", "/x", "x.get", _handler)], ("x.create",), "no such route"),
        ([Route("GET", "/x", "x.get", "x_get")], (), "not callable"),  # type: ignore[arg-type]
    ],
)
def test_a_broken_table_is_refused(
    routes: list[Route], schemas: tuple[str, ...], problem: str
) -> None:
    with pytest.raises(RuntimeError, match=problem):
        check_routes(routes, schemas)


def test_each_resource_row_generates_the_routes_it_declares() -> None:
    suffix = {"retrieve": "retrieve", "list": "list", "delete": "delete", "metadata": "update"}
    for resource in RESOURCES:
        for operation in resource.operations:
            assert f"{resource.name}.{suffix[operation]}" in ROUTE_NAMES
    row = Resource(
        "widgets",
        "/widgets",
        "widget_id",
        "wid_",
        None,
        "No widget '{id}'.",
        lambda app, _: {},
        lambda app, r, q: r,
        frozenset({"retrieve", "delete"}),
    )
    assert [(r.method, r.path, r.name) for r in row.routes()] == [
        ("GET", "/widgets/{widget_id}", "widgets.retrieve"),
        ("DELETE", "/widgets/{widget_id}", "widgets.delete"),
    ]
    assert row.new_id().startswith("wid_")
    with pytest.raises(ValueError, match="unknown generated operations"):
        Resource(
            "w",
            "/w",
            "w_id",
            "w_",
            None,
            "",
            lambda app, _: {},
            lambda app, r, q: r,
            frozenset({"patch"}),
        )


def test_a_literal_path_wins_over_an_id() -> None:
    """``POST /threads/runs`` is create-and-run, not an update of a thread named "runs"."""
    names = [r.name for r in ROUTES if r.method == "POST" and r.pattern.match("/v1/threads/runs")]
    assert names[0] == "threads.create_and_run"
