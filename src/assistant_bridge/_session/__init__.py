"""Layer 4, the session: :class:`ThreadSession` and its async twin, the sans-I/O ask flow
they both drive, tools, retries, polling and parallel asks.

May import: ``_values``, ``_runstate``, ``_parsing``, ``transports`` (the protocol only, never
``openai``), ``exceptions``.
"""
