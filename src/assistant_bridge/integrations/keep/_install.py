"""Copy the drop-in provider into the Keep package of this Python environment.

Keep loads a provider of type ``T`` from ``keep.providers.T_provider.T_provider``, so the
drop-in must sit inside Keep's own package: this finds that package (without importing Keep,
which would start its telemetry) and copies the file there, beside an empty ``__init__.py``.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from assistant_bridge.exceptions import ConfigurationError

__all__ = ["install_provider"]

PROVIDER_TYPE = "openaiassistant"
DROP_IN = Path(__file__).with_name(f"{PROVIDER_TYPE}_provider.py")


def keep_providers_dir() -> Path:
    """The folder of Keep's ``keep.providers`` package in this environment."""
    spec = importlib.util.find_spec("keep")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        providers = Path(location) / "providers"
        if (providers / "base").is_dir():
            return providers
    msg = (
        "Keep is not installed in this Python environment (no keep.providers package): run "
        "this with the Python that runs Keep."
    )
    raise ConfigurationError(msg)


def install_provider(providers_dir: Path | None = None) -> Path:
    """Copy the drop-in into ``providers_dir`` (Keep's, by default); the file written."""
    target_dir = (providers_dir or keep_providers_dir()) / f"{PROVIDER_TYPE}_provider"
    target_dir.mkdir(exist_ok=True)
    (target_dir / "__init__.py").touch()
    target = target_dir / DROP_IN.name
    shutil.copyfile(DROP_IN, target)
    return target
