"""Layer 2, parsers: a reply's text into text, JSON or a schema-validated value.

May import: ``_values``, ``exceptions``.
"""
