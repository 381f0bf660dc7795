"""Integrations of assistant_bridge into other platforms; each lives in its own subpackage.

* :mod:`assistant_bridge.integrations.keep`: the ``openaiassistant`` provider for Keep.
"""
