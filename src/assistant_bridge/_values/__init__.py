"""Layer 1, values: the domain types (runs, messages, replies, stream events) and the
assistant's definition (:class:`AssistantSpec`), as frozen attrs classes.

May import: :mod:`assistant_bridge.exceptions` only. Everything else imports these.
"""
