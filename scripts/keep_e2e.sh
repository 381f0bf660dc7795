#!/usr/bin/env bash
# The provider in today's Keep (0.54.2, from the source snapshot in shared/): copy the snapshot
# to a temporary folder, lay the provider and its docs into it (scripts/keep_upstream.py),
# install it with assistant_bridge in a venv of its own under its lock's pins
# (scripts/keep_constraints.py), then run
#   1. Keep's provider-docs checks (docs_render_provider_snippets.py / docs_get_providers_list.py
#      --validate),
#   2. Keep's own provider tests that run on SQLite without Docker,
#   3. the example workflow in `keep api` against the emulator (scripts/keep_e2e.py).
# Fails loudly; removes the temporary folder whatever happens.
#   KEEP_SRC  the Keep source (default: ../shared/keep-0.54.2 or /work/shared/keep-0.54.2)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)
export PIP_DISABLE_PIP_VERSION_CHECK=1 POSTHOG_DISABLED=true

src=${KEEP_SRC:-}
if [ -z "$src" ]; then
  for candidate in ../shared/keep-0.54.2 /work/shared/keep-0.54.2; do
    if [ -d "$candidate/keep" ]; then src=$candidate; break; fi
  done
fi
if [ -z "$src" ] || [ ! -f "$src/poetry.lock" ]; then
  echo "keep e2e FAILED: no Keep source snapshot (set KEEP_SRC to a Keep checkout)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/keep-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/keep"
chmod -R u+w "$work/keep"
echo "+ Keep $(sed -n 's/^version = "\(.*\)"/\1/p' "$work/keep/pyproject.toml" | head -1) copied to $work/keep"
python3 scripts/keep_upstream.py "$work/keep"
python3 scripts/keep_constraints.py "$work/keep" --groups main,dev > "$work/constraints.txt"
# Keep's dev dependencies (pytest and its plugins, the docs checks' jinja2 and docstring-parser).
read -r -a dev < <(python3 - "$work/keep/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(" ".join(tomllib.load(f)["tool"]["poetry"]["group"]["dev"]["dependencies"]))
PY
)

venv=$work/venv
python3 -m venv "$venv"
log=$work/pip.log
install_started=$(date +%s)
if ! { "$venv/bin/pip" install -q -U pip &&
       "$venv/bin/pip" install -q -c "$work/constraints.txt" "$work/keep" "$root" "${dev[@]}"; } \
     > "$log" 2>&1; then
  grep -v "^WARNING: Location" "$log" | tail -40 >&2
  echo "keep e2e FAILED: could not install Keep and assistant_bridge under Keep's pins" >&2
  exit 1
fi
echo "+ Keep, assistant_bridge and Keep's dev group installed in $(( $(date +%s) - install_started )) s"
"$venv/bin/python" - <<'PY'
import httpx, openai, pydantic
print("openai", openai.__version__, "pydantic", pydantic.VERSION, "httpx", httpx.__version__)
assert openai.__version__ == "1.37.1" and pydantic.VERSION.startswith("1."), "not Keep's pins"
PY

echo "== Keep's provider-docs checks"
(
  cd "$work/keep"
  "$venv/bin/python" scripts/docs_render_provider_snippets.py --validate
  cd scripts
  "$venv/bin/python" docs_get_providers_list.py --validate > "$work/providers-list.log" 2>&1 ||
    { cat "$work/providers-list.log" >&2; exit 1; }
  # The check skips a provider it cannot import: ours must have been imported.
  if grep -q "Cannot import provider openaiassistant" "$work/providers-list.log"; then
    cat "$work/providers-list.log" >&2
    echo "keep e2e FAILED: Keep could not import the openaiassistant provider" >&2
    exit 1
  fi
  echo "docs_get_providers_list.py --validate passed"
)

echo "== Keep's provider tests (SQLite, no Docker), the provider's own among them"
# Every test of providers in Keep's suite: the factory, the providers API, provisioning, the
# parser and steps that load providers, each provider's tests (tests/providers/ holds ours).
# Left out: the rest of Keep's suite (alerts, incidents, rules, workflows, auth) and what needs
# Docker (MySQL, Elasticsearch, Keycloak) or a browser (tests/e2e_tests).
(
  cd "$work/keep"
  SKIP_DOCKER=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider --timeout 300 \
    tests/test_*provider*.py tests/test_provisioning.py tests/test_parser.py \
    tests/test_steps.py tests/test_gke_credentials.py tests/providers
)

echo "== The example workflow in keep api against the emulator"
# What docs/keep.md tells a Keep user to run: it finds this Keep and writes the same file.
"$venv/bin/python" -m assistant_bridge.integrations.keep install
"$venv/bin/python" scripts/keep_e2e.py --keep "$venv/bin/keep" \
  --workflow examples/keep/triage-workflow.yaml \
  --providers-file examples/keep/providers/triage-assistant.yaml
echo "keep e2e: $(( $(date +%s) - started )) s in all"
