"""Layer 2, the run state table: what each run status means, declared as data.

The only place run status names are known. May import: ``_values``, ``exceptions``.
"""
