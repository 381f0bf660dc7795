"""Python blocks of the docs, type-checked by mypy."""
