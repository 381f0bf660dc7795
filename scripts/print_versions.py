"""Print the versions of openai, its HTTP library and pydantic an environment runs with.

`.ci/run` calls it in each of its environments so that drift in openai is visible in the log.
"""

from __future__ import annotations

from importlib import metadata

for name in ("openai", "httpx", "httpx2", "pydantic"):
    try:
        print(f"  {name} {metadata.version(name)}")
    except metadata.PackageNotFoundError:
        print(f"  {name} (not installed)")
