"""Keep's ``openaiassistant`` provider: a workflow step asks an OpenAI assistant, which answers
from its knowledge base, and gets the reply as plain JSON (``response``, ``thread_id``, ...).

This file is the drop-in: copy it to
``keep/providers/openaiassistant_provider/openaiassistant_provider.py`` (beside an empty
``__init__.py``) in a Keep install that has assistant_bridge, and ``type: openaiassistant``
works in workflows. It imports only absolute names, and falls back to stand-ins for Keep's
classes when Keep is not installed, so it also imports (and is tested) without Keep.

The assistant is given one of two ways: ``assistant_id`` (an ``asst_...`` object on an
Assistants-compatible server) or ``model`` + ``instructions`` + ``vector_store_ids`` (+
``response_format``), an assistant defined in the config and run over the Responses API.
"""

import dataclasses
import hashlib
import json
import logging
import os
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, cast

import pydantic

from assistant_bridge import (
    AssistantSpec,
    FileSearch,
    JsonParser,
    JsonSchemaFormat,
    OpenAITransport,
    Parser,
    ResponsesTransport,
    SchemaParser,
    TextParser,
    ThreadSession,
    map_openai_errors,
)
from assistant_bridge.exceptions import (
    AssistantBridgeError,
    AuthenticationError,
    ConfigurationError,
)
from assistant_bridge.ratelimit import Limiter, RateLimitedTransport
from assistant_bridge.registry import KeyedSession, Registry, open_registry
from assistant_bridge.transports import ClientTransport

if TYPE_CHECKING:  # the type checker reads the stand-ins, which mirror Keep's classes
    from assistant_bridge.integrations.keep._standins import *  # noqa: F403
else:
    try:
        from keep.contextmanager.contextmanager import ContextManager
        from keep.exceptions.provider_config_exception import ProviderConfigException
        from keep.exceptions.provider_exception import ProviderException
        from keep.providers.base.base_provider import BaseProvider
        from keep.providers.models.provider_config import ProviderConfig, ProviderScope
    except ImportError:  # Keep is not installed: the library's stand-ins take its place
        from assistant_bridge.integrations.keep._standins import (
            BaseProvider,
            ContextManager,
            ProviderConfig,
            ProviderConfigException,
            ProviderException,
            ProviderScope,
        )

__all__ = ["OpenaiassistantProvider", "OpenaiassistantProviderAuthConfig"]

_logger = logging.getLogger(__name__)

#: What Keep's templates render for "no value": an empty string, or None spelled as text.
_NOTHING = frozenset({"", "none", "null", "nil", "undefined"})
_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})
#: Parameters Keep itself passes to every query, which this provider does not use.
_KEEP_OWN = frozenset({"enrich_alert", "enrich_incident", "audit_enabled"})
#: A reply format: "text", "json_object" or a JSON schema.
ResponseFormat = str | JsonSchemaFormat


@pydantic.dataclasses.dataclass
class OpenaiassistantProviderAuthConfig:
    """How to reach the assistant: the key, and either ``assistant_id`` or the assistant's
    definition (``model``, ``instructions``, ``vector_store_ids``, ``response_format``).

    Each field is written out as Keep's providers write theirs (``dataclasses.field`` with a
    literal ``metadata``): Keep's UI and its docs renderer read them from the source."""

    api_key: str = dataclasses.field(
        metadata={
            "required": True,
            "description": "OpenAI API key",
            "sensitive": True,
            "hint": "sk-...",
        },
        repr=False,
    )
    organization_id: str | None = dataclasses.field(
        metadata={
            "required": False,
            "description": "OpenAI organization ID",
            "sensitive": False,
            "hint": "org-...",
        },
        default=None,
    )
    base_url: str | None = dataclasses.field(
        metadata={
            "required": False,
            "description": "API base URL, for an OpenAI-compatible server",
            "sensitive": False,
            "hint": "https://api.openai.com/v1",
        },
        default=None,
    )
    assistant_id: str | None = dataclasses.field(
        metadata={
            "required": False,
            "description": "Assistant ID on an Assistants-compatible server "
            "(leave empty to define the assistant with model and instructions)",
            "sensitive": False,
            "hint": "asst_...",
        },
        default=None,
    )
    model: str | None = dataclasses.field(
        metadata={
            "required": False,
            "description": "Model of the assistant defined here (Responses API)",
            "sensitive": False,
            "hint": "gpt-4o-mini",
        },
        default=None,
    )
    instructions: str | None = dataclasses.field(
        metadata={
            "required": False,
            "description": "Instructions of the assistant defined here",
            "sensitive": False,
            "hint": "You triage monitoring alerts; answer with JSON only.",
        },
        default=None,
    )
    vector_store_ids: str | None = dataclasses.field(
        metadata={
            "required": False,
            "description": "Knowledge base: vector store IDs to search, comma-separated",
            "sensitive": False,
            "hint": "vs_abc123,vs_def456",
        },
        default=None,
    )
    response_format: str | None = dataclasses.field(
        metadata={
            "required": False,
            "description": "Reply format: text, json_object, or a JSON schema as JSON",
            "sensitive": False,
            "hint": '{"name": "verdict", "schema": {"type": "object"}}',
        },
        default=None,
    )
    rate_limit: str | None = dataclasses.field(
        metadata={
            "required": False,
            "description": "Rate limit shared by every worker: requests and tokens per minute "
            "(a limit URL also works); on Keep's Redis when Keep runs with REDIS=true",
            "sensitive": False,
            "hint": "rpm=500&tpm=200000",
        },
        default=None,
    )
    thread_registry: str | None = dataclasses.field(
        metadata={
            "required": False,
            "description": "Where thread_key's conversations are kept, for every worker: a "
            "registry URL (sqlite:///, redis://, postgresql://); by default Keep's Redis when "
            "Keep runs with REDIS=true, else SQLite in Keep's state folder",
            "sensitive": True,  # a store's URL may carry its password
            "hint": "redis://redis:6379/0",
        },
        default=None,
        repr=False,
    )


class OpenaiassistantProvider(BaseProvider):
    """Ask an OpenAI assistant from a workflow step; it answers from its knowledge base."""

    PROVIDER_DISPLAY_NAME = "OpenAI Assistant"
    PROVIDER_CATEGORY = ["AI"]  # noqa: RUF012  (Keep declares these as plain class lists)
    PROVIDER_SCOPES = [  # noqa: RUF012
        ProviderScope(
            name="authenticated",
            description="The API key is accepted",
            mandatory=True,
            alias="API key",
        ),
        ProviderScope(
            name="assistant_available",
            description="The assistant (assistant_id) or the model exists",
            mandatory=True,
            alias="Assistant",
        ),
        ProviderScope(
            name="vector_stores_readable",
            description="The knowledge base's vector stores can be read",
            mandatory=False,
            alias="Knowledge base",
        ),
    ]

    def __init__(
        self, context_manager: ContextManager, provider_id: str, config: ProviderConfig
    ) -> None:
        self._transport: ClientTransport | None = None
        self._limited: RateLimitedTransport | None = None
        self._registry: Registry | None = None
        super().__init__(context_manager, provider_id, config)

    # -- configuration (no network) --------------------------------------------------------
    def validate_config(self) -> None:
        """Read the authentication config and pick the assistant; no network call."""
        raw: dict[str, Any] = {
            k: (None if isinstance(v, str) and v.strip().lower() in _NOTHING else v)
            for k, v in dict(self.config.authentication or {}).items()
        }
        try:
            self.authentication_config = OpenaiassistantProviderAuthConfig(**raw)
        except (TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            self._config_error(f"invalid configuration: {exc}", raw.get("api_key"))
        try:
            self._who = _assistant_of(self.authentication_config, self.display_name)
            self._rate_limit = _rate_limit_url(self.authentication_config, os.environ)
            self._registry_url = _registry_url(self.authentication_config, os.environ)
        except ConfigurationError as exc:
            self._config_error(str(exc), self.authentication_config.api_key)

    @property
    def display_name(self) -> str:
        """The name the provider was configured under (Keep's ``provider_name``, the key in a
        providers file), for messages; Keep's install passes the type as ``provider_id``."""
        name = getattr(self.config, "name", None)
        return name if isinstance(name, str) and name.strip() else self.provider_id

    def _config_error(self, detail: str, api_key: object) -> NoReturn:
        msg = f"openaiassistant provider {self.display_name!r}: {_hide(detail, api_key)}"
        raise ProviderConfigException(msg, provider_id=self.provider_id) from None

    def _failure(self, exc: AssistantBridgeError) -> ProviderException:
        """Keep's error for a failed step or check: the provider's name, the error's type and
        message (the library's messages never hold the key; it is masked all the same)."""
        detail = _hide(f"{type(exc).__name__}: {exc}", self.authentication_config.api_key)
        return ProviderException(f"openaiassistant provider {self.display_name!r}: {detail}")

    def _get_transport(self) -> ClientTransport:
        if self._transport is None:
            cfg = self.authentication_config
            kind = OpenAITransport if "assistant_id" in self._who else ResponsesTransport
            self._transport = kind(
                cfg.api_key, organization=cfg.organization_id, base_url=cfg.base_url
            )
        return self._transport

    def _limited_transport(self) -> RateLimitedTransport:
        """The transport behind the shared rate limit, for the queries."""
        if self._limited is None:
            limiter = Limiter.from_url(self._rate_limit)
            self._limited = RateLimitedTransport(self._get_transport(), limiter)
        return self._limited

    def _thread_registry(self) -> Registry:
        """The registry of conversations by ``thread_key``, opened on first use."""
        if self._registry is None:
            self._registry = open_registry(self._registry_url)
        return self._registry

    def dispose(self) -> None:
        """Close the HTTP client, if one was opened."""
        if self._registry is not None:
            self._registry.close()
            self._registry = None
        if self._limited is not None:
            self._limited.limiter.close()
            self._limited = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # -- scopes ----------------------------------------------------------------------------
    def validate_scopes(self) -> dict[str, bool | str]:
        """Check the key, the assistant (or model) and the vector stores with reads only."""
        try:
            return self._scopes()
        except AssistantBridgeError as exc:
            raise self._failure(exc) from exc

    def _scopes(self) -> dict[str, bool | str]:
        transport = self._get_transport()
        cfg = self.authentication_config
        client: Any = getattr(transport, "client", None)
        secrets = (cfg.api_key,)
        store_ids = list(_split_ids(cfg.vector_store_ids))

        def assistant() -> None:
            if cfg.assistant_id is not None:
                # An assistant_id is served by the Assistants API's transport.
                found = cast(OpenAITransport, transport).get_assistant(cfg.assistant_id)
                resources = dict(found.raw).get("tool_resources") or {}
                store_ids.extend((resources.get("file_search") or {}).get("vector_store_ids", []))
            else:
                with map_openai_errors(secrets):
                    client.models.retrieve(cfg.model)

        def stores() -> None:
            from assistant_bridge.transports._vector_stores import VectorStoreAPI

            api = VectorStoreAPI(client, secrets)
            for store_id in store_ids:
                api.get_store(store_id)

        scopes: dict[str, bool | str] = {"authenticated": True}
        scopes["assistant_available"] = _check(assistant, scopes)
        if scopes["assistant_available"] is not True and cfg.assistant_id is not None:
            scopes["vector_stores_readable"] = "unknown until the assistant can be read"
        else:
            scopes["vector_stores_readable"] = _check(stores, scopes)
        return scopes

    # -- the query -------------------------------------------------------------------------
    def _query(
        self,
        prompt: str | None = None,
        model: str | None = None,
        max_tokens: int | str | None = None,
        structured_output_format: Mapping[str, Any] | str | None = None,
        thread_id: str | None = None,
        max_wait_time: float | str = 60,
        parse_json: bool | str = True,
        additional_instructions: str | None = None,
        metadata: Mapping[str, Any] | str | None = None,
        thread_key: str | None = None,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Ask the assistant and return its reply as plain JSON.

        The result holds ``response`` (parsed JSON when the reply is JSON), ``thread_id``,
        ``run_id``, ``messages`` and ``raw_response``.

        Args:
            prompt (str): The alert or question to ask the assistant.
            model (str): The model for this step (overrides the assistant's).
            max_tokens (int): The most tokens the reply may take.
            structured_output_format (dict): The reply format, as Keep's openai provider takes it.
            thread_id (str): Continue this thread (a new one when empty).
            max_wait_time (float): Seconds before the run is cancelled.
            parse_json (bool): Parse the reply as JSON when it is JSON.
            additional_instructions (str): Extra instructions for this run.
            metadata (dict): Run metadata; values become strings.
            thread_key (str): One conversation per key (an incident id), shared by every worker.
            idempotency_key (str): A repeated step with this key hands back its first reply.
        """
        unknown = sorted(set(kwargs) - _KEEP_OWN)
        if unknown:
            self.logger.warning(
                "openaiassistant provider %r ignores unknown parameters: %s",
                self.display_name,
                ", ".join(unknown),
            )
        try:
            text = _text(prompt, "prompt")
            if text is None:
                msg = "prompt is required: the alert or question to ask the assistant."
                raise ConfigurationError(msg)
            step_format = _step_format(structured_output_format)
            parser = _parser_for(step_format or self._format(), _flag(parse_json, True))
            key, thread = _text(thread_key, "thread_key"), _text(thread_id, "thread_id")
            if key is not None and thread is not None:
                msg = "give thread_id or thread_key, not both."
                raise ConfigurationError(msg)
            extra = {
                "model": _text(model, "model"),
                "max_output_tokens": _tokens(max_tokens),
                "response_format": step_format,
                "additional_instructions": _text(
                    additional_instructions, "additional_instructions"
                ),
                "metadata": _metadata(metadata),
            }
            if key is not None:
                keyed: KeyedSession[Any] = KeyedSession(
                    self._limited_transport(),
                    key,
                    registry=self._thread_registry(),
                    parser=parser,
                    timeout=_seconds(max_wait_time, 60.0),
                    **self._who,
                )
                idem = _text(idempotency_key, "idempotency_key")
                reply = keyed.ask(text, idempotency_key=idem, **extra)  # type: ignore[arg-type]
            else:
                session = ThreadSession(
                    self._limited_transport(),
                    thread_id=thread,
                    parser=parser,
                    timeout=_seconds(max_wait_time, 60.0),
                    **self._who,
                )
                reply = session.ask(text, **extra)  # type: ignore[arg-type]
        except AssistantBridgeError as exc:
            raise self._failure(exc) from exc
        self.logger.info(
            "openaiassistant answered", extra={"thread_id": reply.thread_id, "run_id": reply.run_id}
        )
        plain: dict[str, Any] = json.loads(json.dumps(reply.to_dict(), default=str))
        return plain

    def _format(self) -> ResponseFormat | None:
        """The reply format of the assistant defined in the config, if it has one."""
        spec = self._who.get("assistant")
        return spec.response_format if isinstance(spec, AssistantSpec) else None


# -- helpers: the assistant from the config, and Keep's rendered values --------------------
def _assistant_of(cfg: OpenaiassistantProviderAuthConfig, provider_id: str) -> dict[str, Any]:
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
    stores = _split_ids(cfg.vector_store_ids)
    spec = AssistantSpec(
        name=f"keep-{provider_id}"[:256],
        model=cfg.model,
        instructions=cfg.instructions,
        # FileSearch's converter=tuple reads as Iterable[_T_co] to mypy; a tuple is fine.
        tools=[FileSearch(stores)] if stores else [],
        response_format=_response_format(cfg.response_format),
    )
    return {"assistant": spec}


def _rate_limit_url(cfg: OpenaiassistantProviderAuthConfig, environ: Mapping[str, str]) -> str:
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


def _registry_url(cfg: OpenaiassistantProviderAuthConfig, environ: Mapping[str, str]) -> str:
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


def _split_ids(value: str | None) -> tuple[str, ...]:
    """Vector store ids from "vs_a, vs_b" (commas or spaces)."""
    return tuple(part for part in (value or "").replace(",", " ").split() if part)


def _response_format(value: str | None) -> str | JsonSchemaFormat:
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


def _step_format(value: object) -> ResponseFormat | None:
    """A step's ``structured_output_format`` as Keep's openai provider takes it:
    ``{type: json_schema, json_schema: {name, schema, strict}}``, ``{type: json_object}`` or
    ``{type: text}``, as a mapping or the same as JSON text."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _NOTHING):
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


def _parser_for(fmt: ResponseFormat | None, parse_json: bool) -> Parser[Any]:
    """How a reply is read: against the schema it was asked for, as JSON when JSON was asked
    for, else as JSON when it is JSON (``parse_json``) or as text."""
    if isinstance(fmt, JsonSchemaFormat):
        return SchemaParser(fmt.schema)
    if fmt == "json_object":
        return JsonParser()
    return JsonParser(strict=False) if parse_json else TextParser()


def _tokens(value: object) -> int | None:
    """max_tokens: a positive whole number, or one rendered as text ("100")."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _NOTHING):
        return None
    number = value.strip() if isinstance(value, str) else value
    if isinstance(number, str) and number.isdigit():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        msg = f"max_tokens must be a positive whole number, got {value!r}."
        raise ConfigurationError(msg)
    return number


def _hide(text: str, secret: object) -> str:
    """``text`` with the key masked, should it ever appear in it."""
    if isinstance(secret, str) and len(secret) >= 4:
        return text.replace(secret, "***")
    return text


def _text(value: object, name: str) -> str | None:
    """A string parameter; Keep's renderings of "nothing" ("", "None", "null") are None."""
    if value is None:
        return None
    if not isinstance(value, str):
        msg = f"{name} must be text, got {type(value).__name__} {value!r}."
        raise ConfigurationError(msg)
    return None if value.strip().lower() in _NOTHING else value.strip()


def _seconds(value: object, default: float) -> float:
    """max_wait_time: a number, or a number rendered as text ("60", "90.5")."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _NOTHING):
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


def _flag(value: object, default: bool) -> bool:
    """A boolean, or one rendered as text ("true", "False", "1", "no")."""
    if isinstance(value, bool):
        return value
    if value is None or (isinstance(value, str) and value.strip().lower() in _NOTHING):
        return default
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    msg = f"parse_json must be true or false, got {value!r}."
    raise ConfigurationError(msg)


def _metadata(value: object) -> dict[str, str] | None:
    """Run metadata: a mapping, or one rendered as JSON text; values become strings."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _NOTHING):
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


def _check(call: Callable[[], None], scopes: dict[str, bool | str]) -> bool | str:
    """True when ``call`` succeeds, else the reason; a refused key marks ``authenticated``."""
    try:
        call()
    except AuthenticationError as exc:
        scopes["authenticated"] = str(exc)
        return f"cannot tell: {exc}"
    except AssistantBridgeError as exc:
        return str(exc)
    return True
