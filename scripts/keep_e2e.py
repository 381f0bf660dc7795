"""The example workflows in a real Keep (``keep api``, SQLite, no auth) against the emulator.

Called by scripts/keep_e2e.sh with the Python of a venv that has Keep (with the provider laid
in) and assistant_bridge under Keep's own pins. It serves the emulator on loopback with the
sample runbooks synced into a knowledge base, starts ``keep api`` on loopback, and over Keep's
REST API, once per wire (an ``assistant_id`` over the Assistants API, the assistant defined in
the config over the Responses API):

1. installs the provider (``POST /providers/install``, the UI's path) and checks its scopes;
2. uploads examples/keep/triage-workflow.yaml (``POST /workflows``) and runs it by hand;
3. posts a critical alert to ``/alerts/event``, which triggers it again;

then checks each run's results (verdict, same thread for the follow-up, the action's line),
that a bad configuration is refused naming the provider, and that the key appears in no answer
and no line of Keep's log. Stops Keep and the emulator whatever happens; exits non-zero,
saying why, on any difference.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from assistant_bridge.knowledge import KnowledgeBase, sample_runbooks
from assistant_bridge.testing import Emulator

INSTRUCTIONS = "You triage monitoring alerts from the runbooks; answer with JSON only."
KEY = "sk-e2e-keep-0123456789abcdefSECRET"
WRONG_KEY = "sk-e2e-wrong-9876543210fedcbaSECRET"
ALERT = {
    "name": "Server CPU at 100%",
    "service": "web-1",
    "description": "CPU at 100% on web-1 for 10 minutes",
    "severity": "critical",
    "source": ["e2e"],
    "fingerprint": "e2e-cpu-web-1",
}
PROVISIONED = "triage-assistant-provisioned"
TERMINAL = ("success", "error", "failed", "timeout", "skipped")


class Failure(Exception):
    """A difference from what the workflow should have done."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def keep_api(
    keep: str, workdir: Path, log: Path, extra_env: dict[str, str]
) -> Iterator[httpx.Client]:
    """``keep api`` on a free loopback port with SQLite and no auth; a client for it."""
    port = free_port()
    env = {
        **os.environ,
        **extra_env,
        "HOME": str(workdir),
        "AUTH_TYPE": "NOAUTH",
        "DATABASE_CONNECTION_STRING": f"sqlite:///{workdir / 'keep.db'}",
        "SECRET_MANAGER_TYPE": "FILE",
        "SECRET_MANAGER_DIRECTORY": str(workdir / "secrets"),
        "STORAGE_MANAGER_DIRECTORY": str(workdir / "storage"),
        "POSTHOG_DISABLED": "true",
        "USE_NGROK": "false",
        "PUSHER_DISABLED": "true",
        # Anything that still tries to phone home goes to a closed loopback port.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    (workdir / "secrets").mkdir()
    with log.open("w") as out:
        process = subprocess.Popen(
            [keep, "api", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # With AUTH_TYPE=NOAUTH any API key is the single tenant's; one must still be sent.
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"X-API-KEY": "keep-e2e"},
        timeout=60,
        trust_env=False,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            if process.poll() is not None:
                raise Failure(f"keep api exited {process.returncode} while starting")
            with contextlib.suppress(httpx.TransportError):
                if client.get("/healthcheck").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise Failure("keep api did not answer /healthcheck within 240 s")
            time.sleep(1)
        yield client
    finally:
        client.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def answered(response: httpx.Response, seen: list[str]) -> Any:
    """The JSON of an answer (kept, with its request, to look for the key later)."""
    seen.append(f"{response.request.method} {response.request.url.path}\n{response.text}")
    try:
        return response.json()
    except ValueError:
        return response.text


def install(client: httpx.Client, name: str, auth: dict[str, str], seen: list[str]) -> Any:
    """``POST /providers/install`` as Keep's UI sends it; the answer's JSON and status."""
    body = {"provider_id": "openaiassistant", "provider_type": "openaiassistant"}
    response = client.post("/providers/install", json={**body, "provider_name": name, **auth})
    try:
        data = response.json()
    except ValueError:
        data = response.text
    # Keep's install answers with the configuration it was sent ("details", for any provider:
    # Keep's own choice, not the provider's); the rest of the answer is the provider's doing.
    rest = {k: v for k, v in data.items() if k != "details"} if isinstance(data, dict) else data
    seen.append(f"POST /providers/install\n{json.dumps(rest)}")
    return response.status_code, data


def workflow_for(source: Path, wire: str, provider: str) -> tuple[str, str]:
    """The example workflow, for one wire: its own id and provider."""
    text = source.read_text()
    text = text.replace("id: openaiassistant-triage", f"id: openaiassistant-triage-{wire}")
    text = text.replace("providers.triage-assistant", f"providers.{provider}")
    return f"openaiassistant-triage-{wire}", text


def wait_for_run(
    client: httpx.Client, workflow_id: str, execution_id: str, seen: list[str]
) -> dict[str, Any]:
    """The execution once it has ended."""
    deadline = time.monotonic() + 180
    while True:
        run = answered(client.get(f"/workflows/{workflow_id}/runs/{execution_id}"), seen)
        if isinstance(run, dict) and run.get("status") in TERMINAL:
            return run
        if time.monotonic() > deadline:
            raise Failure(f"run {execution_id} of {workflow_id} did not end in 180 s: {run}")
        time.sleep(1)


def executions(client: httpx.Client, workflow_id: str, seen: list[str]) -> list[dict[str, Any]]:
    """The workflow's executions, newest first."""
    page = answered(client.get(f"/workflows/{workflow_id}/runs"), seen)
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        raise Failure(f"GET /workflows/{workflow_id}/runs answered {page}")
    return list(page["items"])


def alert_run(
    client: httpx.Client, workflow_id: str, known: set[str], seen: list[str]
) -> dict[str, Any]:
    """The run the alert triggered: a new execution of ``workflow_id``, once ended."""
    deadline = time.monotonic() + 180
    while True:
        new = [r for r in executions(client, workflow_id, seen) if r["id"] not in known]
        if new:
            if "alert" not in str(new[0].get("triggered_by")):
                raise Failure(f"{workflow_id} ran, triggered by {new[0].get('triggered_by')!r}")
            return wait_for_run(client, workflow_id, new[0]["id"], seen)
        if time.monotonic() > deadline:
            raise Failure(f"the alert triggered no run of {workflow_id} in 180 s")
        time.sleep(1)


def check_run(run: dict[str, Any], wire: str, emulator: Emulator) -> str:
    """The run's results, checked; a one-line summary."""
    if run.get("status") != "success":
        raise Failure(f"[{wire}] run ended {run.get('status')}: {run.get('error')}")
    results = run.get("results") or {}
    (triage,) = results.get("triage") or [None]
    (follow,) = results.get("first-step") or [None]
    if not isinstance(triage, dict) or not isinstance(follow, dict):
        raise Failure(f"[{wire}] the steps left no results: {json.dumps(results)[:500]}")
    verdict, thread = triage.get("response"), str(triage.get("thread_id"))
    prefix = "thread_" if wire == "assistants" else "conv_"
    problems = []
    if not isinstance(verdict, dict) or set(verdict) != {"action", "reason", "severity"}:
        problems.append(f"the verdict is not the schema's object: {verdict!r}")
    elif (verdict["action"], verdict["severity"]) != ("escalate", "critical"):
        problems.append(f"verdict {verdict['action']}/{verdict['severity']}")
    if not thread.startswith(prefix):
        problems.append(f"thread {thread!r} is not a {prefix}… id")
    if follow.get("thread_id") != thread:
        problems.append(f"the follow-up ran on {follow.get('thread_id')!r}, not {thread!r}")
    if "cpu-saturation.md" not in str(follow.get("response")):
        problems.append(f"the follow-up does not name the runbook: {follow.get('response')!r}")
    roles = [role for role, _, _ in emulator.thread_messages(thread)]
    if roles != ["user", "assistant", "user", "assistant"]:
        problems.append(f"the thread holds {roles}, not two questions and two answers")
    # The console action's result is the line it printed.
    printed = " ".join(str(line) for line in results.get("page-on-call") or [])
    if f"VERDICT action=escalate severity=critical thread={thread}" not in printed:
        problems.append(f"the page-on-call action printed no VERDICT line: {printed[:300]!r}")
    if problems:
        raise Failure(f"[{wire}] " + "; ".join(problems))
    return f"escalate/critical on {thread}, follow-up on the same thread, action ran"


def check_sent(emulator: Emulator, runs: int) -> str:
    """Every triage step sent the step's schema as the run's reply format and its max_tokens
    as the run's output limit (either wire's spelling)."""
    sent = []
    for exchange in emulator.exchanges:
        if exchange.method != "POST" or b"Give a verdict from the runbooks" not in (
            exchange.request_body
        ):
            continue
        body = json.loads(exchange.request_body)
        fmt = body.get("response_format") or (body.get("text") or {}).get("format") or {}
        name = (fmt.get("json_schema") or fmt).get("name")
        limit = body.get("max_completion_tokens") or body.get("max_output_tokens")
        sent.append((exchange.path, fmt.get("type"), name, limit))
    wrong = [s for s in sent if s[1:] != ("json_schema", "verdict", 500)]
    if len(sent) != runs or wrong:
        raise Failure(f"{len(sent)} triage requests, not {runs}; not as the step asked: {wrong}")
    return f"{runs} triage runs sent the verdict schema and max_tokens 500"


def scenario(keep: str, workflow: Path, providers_file: Path, workdir: Path, log: Path) -> None:
    """Everything, against one emulator and one Keep."""
    seen: list[str] = []
    with contextlib.ExitStack() as stack:
        emulator = stack.enter_context(Emulator(api_key=KEY, record_bodies=True))
        openai = emulator.client()
        store = KnowledgeBase(openai, "runbooks").sync(sample_runbooks())
        openai.close()
        # The example providers file, provisioned by Keep at start (pointed at the emulator).
        provisioned = workdir / "providers"
        provisioned.mkdir()
        example = (providers_file.read_text()).replace(
            "name: triage-assistant", "name: triage-assistant-provisioned"
        )
        example += f"  base_url: {emulator.base_url}\n"
        (provisioned / providers_file.name).write_text(example)
        env = {
            "KEEP_PROVIDERS_DIRECTORY": str(provisioned),
            "OPENAI_API_KEY": KEY,
            "RUNBOOKS_STORE_ID": store.store_id,
        }
        client = stack.enter_context(keep_api(keep, workdir, log, env))
        assistant_id = emulator.create_assistant(
            name="alert-triage",
            instructions=INSTRUCTIONS,
            tools=[{"type": "file_search"}],
            vector_store_ids=[store.store_id],
        )
        common = {"api_key": KEY, "base_url": emulator.base_url}
        ways = {
            "assistants": ("triage-assistant", {**common, "assistant_id": assistant_id}),
            "responses": (
                "triage-assistant-responses",
                {
                    **common,
                    "model": "gpt-4o-mini",
                    "instructions": INSTRUCTIONS,
                    "vector_store_ids": store.store_id,
                    "response_format": "json_object",
                },
            ),
        }
        scopes = {"authenticated": True, "assistant_available": True}
        scopes["vector_stores_readable"] = True
        workflows = {}
        for wire, (name, auth) in [*ways.items(), ("provisioned", (PROVISIONED, {}))]:
            if wire != "provisioned":
                status, body = install(client, name, auth, seen)
                if status != 200 or body.get("validatedScopes") != scopes:
                    raise Failure(f"[{wire}] POST /providers/install answered {status}: {body}")
                print(f"[{wire}] installed {name!r} over POST /providers/install, scopes {scopes}")
            workflow_id, text = workflow_for(workflow, wire, name)
            files = {"file": (f"{workflow_id}.yaml", text, "application/x-yaml")}
            created = answered(client.post("/workflows", files=files), seen)
            if not isinstance(created, dict) or "workflow_id" not in created:
                raise Failure(f"[{wire}] POST /workflows answered {created}")
            workflows[wire] = created["workflow_id"]
            started = answered(
                client.post(f"/workflows/{created['workflow_id']}/run", json={"body": ALERT}),
                seen,
            )
            run = wait_for_run(
                client, created["workflow_id"], started["workflow_execution_id"], seen
            )
            print(f"[{wire}] manual run: {check_run(run, wire, emulator)}")

        known = {
            wire: {r["id"] for r in executions(client, wid, seen)}
            for wire, wid in workflows.items()
        }
        posted = client.post("/alerts/event", json=ALERT)
        if posted.status_code not in (200, 202):
            raise Failure(f"POST /alerts/event answered {posted.status_code}: {posted.text}")
        for wire, workflow_id in workflows.items():
            run = alert_run(client, workflow_id, known[wire], seen)
            print(f"[{wire}] alert-triggered run: {check_run(run, wire, emulator)}")

        print(check_sent(emulator, 2 * len(workflows)))

        # Refusals: a refused key fails the mandatory scopes (412), a configuration with no
        # assistant is refused naming the provider (400); neither answer holds the key.
        status, body = install(
            client, "wrong-key", {**ways["responses"][1], "api_key": WRONG_KEY}, seen
        )
        if status != 412:
            raise Failure(f"a refused key was installed: {status} {body}")
        status, body = install(client, "no-assistant", common, seen)
        if status != 400 or "'no-assistant'" not in str(body):
            raise Failure(f"a configuration with no assistant answered {status} {body}")
        if "'openaiassistant'" in str(body):
            raise Failure(f"the error names the type, not the provider: {body}")
        print("refusals: a refused key 412, no assistant 400 naming 'no-assistant'")
    output = log.read_text(errors="replace")
    for secret in (KEY, WRONG_KEY):
        leaks = [text.split("\n", 1)[0] for text in seen if secret in text]
        if leaks:
            raise Failure(f"the key appears in answers of Keep's API: {sorted(set(leaks))}")
        if secret in output:
            raise Failure("the key appears in Keep's log")
    print(f"no key in {len(seen)} answers nor in {len(output.splitlines())} lines of Keep's log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", required=True, help="the keep command of the Keep venv")
    parser.add_argument("--workflow", required=True, type=Path)
    parser.add_argument("--providers-file", required=True, type=Path)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="keep-e2e-") as tmp:
        log = Path(os.environ.get("KEEP_E2E_LOG") or Path(tmp) / "keep-api.log")
        try:
            scenario(
                args.keep, args.workflow.resolve(), args.providers_file.resolve(), Path(tmp), log
            )
        except Failure as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
            sys.exit(f"keep e2e FAILED: {exc}\n--- last lines of keep api ---\n{tail}")
    print(f"keep e2e passed in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
