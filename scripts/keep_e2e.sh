#!/usr/bin/env bash
# End to end in a real Keep: install keephq (with its workflow engine) in a venv of its own,
# force assistant_bridge beside it under Keep's pins (openai 1.37.1, httpx<0.28, pydantic 1.10
# from keephq), copy the drop-in provider into Keep, then `keep run` the example workflow
# against the emulator on loopback (scripts/keep_e2e.py checks its output). Fails loudly.
#   KEEP_E2E_VENV  where the venv lives (default .venv-keephq; reused when present)
#   KEEPHQ_VERSION the keephq release to install (default 0.2.7)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${KEEP_E2E_VENV:-.venv-keephq}
keephq=${KEEPHQ_VERSION:-0.2.7}
started=$(date +%s)
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x "$venv/bin/keep" ]; then
  echo "+ creating $venv with keephq==$keephq"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -U pip
  # The constraints pin what keephq 0.2.7 resolved to (left to itself, pip may pick a numpy it
  # must compile); another release resolves on its own.
  constraints=()
  [ "$keephq" = 0.2.7 ] && constraints=(-c scripts/keep_e2e-constraints.txt)
  "$venv/bin/pip" install -q "${constraints[@]}" "keephq==$keephq"
fi
# keephq pins openai<0.28; pip warns about the override below, which is the point.
echo "+ installing assistant_bridge with openai==1.37.1 and httpx<0.28 beside keephq"
log=$(mktemp)
if ! "$venv/bin/pip" install -q "openai==1.37.1" "httpx<0.28" . > "$log" 2>&1 ||
   ! "$venv/bin/pip" install -q --force-reinstall --no-deps . >> "$log" 2>&1; then
  cat "$log" >&2
  echo "keep e2e FAILED: could not install assistant_bridge beside keephq" >&2
  exit 1
fi
rm -f "$log"
"$venv/bin/python" - <<'PY'
import httpx, openai, pydantic
print("openai", openai.__version__, "pydantic", pydantic.VERSION, "httpx", httpx.__version__)
assert openai.__version__ == "1.37.1" and pydantic.VERSION.startswith("1."), "not Keep's pins"
assert tuple(int(p) for p in httpx.__version__.split(".")[:2]) < (0, 28), "httpx is too new"
PY

providers_dir=$("$venv/bin/python" -c "import keep.providers as p, os; print(os.path.dirname(p.__file__))")
target="$providers_dir/openaiassistant_provider"
mkdir -p "$target"
: > "$target/__init__.py"
cp src/assistant_bridge/integrations/keep/openaiassistant_provider.py "$target/"
echo "+ drop-in copied to $target"

"$venv/bin/python" scripts/keep_e2e.py --keep "$(cd "$venv" && pwd)/bin/keep" \
  --workflow examples/keep/triage-workflow.yaml
echo "keep e2e: $(( $(date +%s) - started )) s in all"
