"""Keep's rendered values turned into the library's: the assistant from the provider's config,
reply formats, limits and flags from a step, and the shared stores' URLs from Keep's settings.

Keep renders templates to text ("None", "true", JSON), so every value is read leniently and a
wrong one is a :class:`ConfigurationError` that says what was expected.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from assistant_bridge import (
    AssistantSpec,
    FileSearch,
    JsonParser,
    JsonSchemaFormat,
    Parser,
    SchemaParser,
    TextParser,
)
from assistant_bridge.exceptions import (
    AssistantBridgeError,
    AuthenticationError,
    ConfigurationError,
)
from assistant_bridge.ratelimit import Limiter

if TYPE_CHECKING:
    from assistant_bridge.integrations.keep.openaiassistant_provider import (
        OpenaiassistantProviderAuthConfig,
    )

#: What Keep's templates render for "no value": an empty string, or None spelled as text.
NOTHING = frozenset({"", "none", "null", "nil", "undefined"})
TRUE = frozenset({"true", "yes", "y", "on", "1"})
FALSE = frozenset({"false", "no", "n", "off", "0"})
#: A reply format: "text", "json_object" or a JSON schema.
ResponseFormat = str | JsonSchemaFormat


def assistant_of(cfg: OpenaiassistantProviderAuthConfig, provider_id: str) -> dict[str, Any]:
    """The session's ``assistant_id=`` or ``assistant=`` from the config, or a clear error."""
    defined = [
        name
        for name in ("model", "instructions", "vector_store_ids", "response_format")
        if getattr(cfg, name) is not None
    ]
    if cfg.assistant_id is not None and defined:
        msg = (
            f"give either assistant_id or the assistant's definition, not both (assistant_id "
            f"is set, and so is {', '.join(defined)})."
        )
        raise ConfigurationError(msg)
    if cfg.assistant_id is not None:
        return {"assistant_id": cfg.assistant_id}
    if cfg.model is None:
        msg = (
            "no assistant: set assistant_id (an asst_... on an Assistants-compatible server) or "
            "model (with instructions and vector_store_ids) for the Responses API."
        )
        raise ConfigurationError(msg)
    stores = split_ids(cfg.vector_store_ids)
    spec = AssistantSpec(
        name=f"keep-{provider_id}"[:256],
        model=cfg.model,
        instructions=cfg.instructions,
        # FileSearch's converter=tuple reads as Iterable[_T_co] to mypy; a tuple is fine.
        tools=[FileSearch(stores)] if stores else [],
        response_format=response_format(cfg.response_format),
    )
    return {"assistant": spec}


def rate_limit_url(cfg: OpenaiassistantProviderAuthConfig, environ: Mapping[str, str]) -> str:
    """The shared rate limit's URL: ``rate_limit`` itself when it is a URL; else its limits on
    Keep's Redis when Keep runs with ``REDIS=true`` (``REDIS_HOST``, ``REDIS_PORT``,
    ``REDIS_DB``, ``REDIS_USERNAME``, ``REDIS_PASSWORD``, ``REDIS_SSL``), in this process
    otherwise. The limit is named after the organization, or a hash of the key."""
    setting = (cfg.rate_limit or "").strip()
    if "://" not in setting:
        name = cfg.organization_id or "key-" + hashlib.sha256(cfg.api_key.encode()).hexdigest()[:16]
        query = "&".join(p for p in (setting.lstrip("?"), f"name={name}") if p)
        setting = f"memory://?{query}"
        if environ.get("REDIS", "false").strip().lower() == "true":
            user = urllib.parse.quote(environ.get("REDIS_USERNAME") or "", safe="")
            password = urllib.parse.quote(environ.get("REDIS_PASSWORD") or "", safe="")
            auth = f"{user}:{password}@" if user or password else ""
            tls = environ.get("REDIS_SSL", "false").strip().lower() == "true"
            host = environ.get("REDIS_HOST", "localhost")
            port, db = environ.get("REDIS_PORT", "6379"), environ.get("REDIS_DB", "0")
            setting = f"{'rediss' if tls else 'redis'}://{auth}{host}:{port}/{db}?{query}"
    Limiter.from_url(setting).close()  # a bad limit is a configuration error, found now
    return setting


def registry_url(cfg: OpenaiassistantProviderAuthConfig, environ: Mapping[str, str]) -> str:
    """Where ``thread_key`` conversations are kept: ``thread_registry`` when set; else Keep's
    Redis when Keep runs with ``REDIS=true`` (``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_DB``,
    ``REDIS_USERNAME``, ``REDIS_PASSWORD``, ``REDIS_SSL``); else a SQLite file in Keep's state
    folder (``SECRET_MANAGER_DIRECTORY``, ``/state`` in Keep's images), which serves the
    workers of one host."""
    if cfg.thread_registry is not None:
        return cfg.thread_registry.strip()
    if environ.get("REDIS", "false").strip().lower() == "true":
        user = urllib.parse.quote(environ.get("REDIS_USERNAME") or "", safe="")
        password = urllib.parse.quote(environ.get("REDIS_PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if user or password else ""
        tls = environ.get("REDIS_SSL", "false").strip().lower() == "true"
        host = environ.get("REDIS_HOST", "localhost")
        port, db = environ.get("REDIS_PORT", "6379"), environ.get("REDIS_DB", "0")
        return f"{'rediss' if tls else 'redis'}://{auth}{host}:{port}/{db}"
    folder = os.path.abspath(environ.get("SECRET_MANAGER_DIRECTORY") or ".")
    return f"sqlite:///{os.path.join(folder, 'assistant_bridge_threads.db')}"


def split_ids(value: str | None) -> tuple[str, ...]:
    """Vector store ids from "vs_a, vs_b" (commas or spaces)."""
    return tuple(part for part in (value or "").replace(",", " ").split() if part)


def response_format(value: str | None) -> str | JsonSchemaFormat:
    """ "text", "json_object", or a JSON schema: {"name", "schema"}, the chat API's
    {"type": "json_schema", "json_schema": {...}}, or a bare schema."""
    if value is None or value.strip() in ("text", "json_object"):
        return "text" if value is None else value.strip()
    try:
        data = json.loads(value)
    except ValueError:
        msg = (
            "response_format must be 'text', 'json_object' or a JSON schema written as JSON, "
            f"got {value[:60]!r}."
        )
        raise ConfigurationError(msg) from None
    if not isinstance(data, dict):
        msg = f"response_format's JSON must be an object, got {type(data).__name__}."
        raise ConfigurationError(msg)
    if data.get("type") == "json_schema" and isinstance(data.get("json_schema"), dict):
        data = data["json_schema"]
    if isinstance(data.get("schema"), dict):
        return JsonSchemaFormat(
            str(data.get("name") or "reply"), data["schema"], bool(data.get("strict", True))
        )
    return JsonSchemaFormat("reply", data)


def step_format(value: object) -> ResponseFormat | None:
    """A step's ``structured_output_format`` as Keep's openai provider takes it:
    ``{type: json_schema, json_schema: {name, schema, strict}}``, ``{type: json_object}`` or
    ``{type: text}``, as a mapping or the same as JSON text."""
    if value is None or (isinstance(value, str) and value.strip().lower() in NOTHING):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind in ("text", "json_object"):
        return cast(str, kind)
    spec = value.get("json_schema") if isinstance(value, Mapping) else None
    if (
        kind == "json_schema"
        and isinstance(spec, Mapping)
        and isinstance(spec.get("schema"), Mapping)
    ):
        return JsonSchemaFormat(
            str(spec.get("name") or "reply"), spec["schema"], bool(spec.get("strict", False))
        )
    msg = (
        "structured_output_format must be {type: json_schema, json_schema: {name, schema, "
        "strict}}, {type: json_object} or {type: text} (a mapping, or the same as JSON), got "
        f"{str(value)[:80]!r}."
    )
    raise ConfigurationError(msg)


def parser_for(fmt: ResponseFormat | None, parse_json: bool) -> Parser[Any]:
    """How a reply is read: against the schema it was asked for, as JSON when JSON was asked
    for, else as JSON when it is JSON (``parse_json``) or as text."""
    if isinstance(fmt, JsonSchemaFormat):
        return SchemaParser(fmt.schema)
    if fmt == "json_object":
        return JsonParser()
    return JsonParser(strict=False) if parse_json else TextParser()


def tokens(value: object) -> int | None:
    """max_tokens: a positive whole number, or one rendered as text ("100")."""
    if value is None or (isinstance(value, str) and value.strip().lower() in NOTHING):
        return None
    number = value.strip() if isinstance(value, str) else value
    if isinstance(number, str) and number.isdigit():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        msg = f"max_tokens must be a positive whole number, got {value!r}."
        raise ConfigurationError(msg)
    return number


def hide(text: str, secret: object) -> str:
    """``text`` with the key masked, should it ever appear in it."""
    if isinstance(secret, str) and len(secret) >= 4:
        return text.replace(secret, "***")
    return text


def text(value: object, name: str) -> str | None:
    """A string parameter; Keep's renderings of "nothing" ("", "None", "null") are None."""
    if value is None:
        return None
    if not isinstance(value, str):
        msg = f"{name} must be text, got {type(value).__name__} {value!r}."
        raise ConfigurationError(msg)
    return None if value.strip().lower() in NOTHING else value.strip()


def seconds(value: object, default: float) -> float:
    """max_wait_time: a number, or a number rendered as text ("60", "90.5")."""
    if value is None or (isinstance(value, str) and value.strip().lower() in NOTHING):
        return default
    if isinstance(value, bool):
        value = str(value)
    try:
        seconds = float(value) if isinstance(value, (int, float, str)) else float("nan")
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        msg = f"max_wait_time must be a positive number of seconds, got {value!r}."
        raise ConfigurationError(msg)
    return seconds


def flag(value: object, default: bool) -> bool:
    """A boolean, or one rendered as text ("true", "False", "1", "no")."""
    if isinstance(value, bool):
        return value
    if value is None or (isinstance(value, str) and value.strip().lower() in NOTHING):
        return default
    word = str(value).strip().lower()
    if word in TRUE or word in FALSE:
        return word in TRUE
    msg = f"parse_json must be true or false, got {value!r}."
    raise ConfigurationError(msg)


def metadata(value: object) -> dict[str, str] | None:
    """Run metadata: a mapping, or one rendered as JSON text; values become strings."""
    if value is None or (isinstance(value, str) and value.strip().lower() in NOTHING):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, Mapping):
        msg = "metadata must be a mapping of names to values (or the same as JSON text)."
        raise ConfigurationError(msg)
    return {
        str(k): v if isinstance(v, str) else json.dumps(v, default=str) for k, v in value.items()
    }


def check(call: Callable[[], None], scopes: dict[str, bool | str]) -> bool | str:
    """True when ``call`` succeeds, else the reason; a refused key marks ``authenticated``."""
    try:
        call()
    except AuthenticationError as exc:
        scopes["authenticated"] = str(exc)
        return f"cannot tell: {exc}"
    except AssistantBridgeError as exc:
        return str(exc)
    return True
