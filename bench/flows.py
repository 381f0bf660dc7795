"""Side by side: requests per question, added latency and client CPU for each way to ask.

    python bench/flows.py                   # ~2 min: 24 questions at once, runs of 0.5-6 s
    python bench/flows.py --full --plot docs/performance-flows.png   # 48 at once, 0.5-10 s
    python bench/flows.py --url http://127.0.0.1:8765/v1   # a server already running

The emulator runs in its own process (bench/_serve.py). Each flow asks 24 questions at once
(48 with --full): a third on new threads, a third follow-ups on threads that already hold a
question, a third whose run asks for one tool call; their run lengths are spread evenly over
the range. "Added" is the time
from the server finishing the run to the caller holding the answer; requests are counted per
question by the client; CPU is the client process's, per question, against the raw SDK
stream. Flows: the seed's loop written out (create thread, add message, create run, look each
second, list messages), openai's ``create_and_poll`` helpers and raw stream, LangChain's
``OpenAIAssistantRunnable`` (when installed: ``pip install --group bench``), and this library
streamed, polled under four poll policies, async, and over the Responses wire.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
from _harness import Question, Server, clients, counting, machine, settle_added, spread, summary
from _harness import table as md_table

from assistant_bridge import (
    AdaptivePolling,
    AssistantSpec,
    AsyncOpenAITransport,
    AsyncThreadSession,
    FixedInterval,
    FunctionTool,
    OpenAITransport,
    PollPolicy,
    ResponsesTransport,
    ThreadSession,
    ToolRegistry,
)

KINDS = ("new", "follow-up", "tool round")
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a host up.",
        "parameters": {
            "type": "object",
            "properties": {"host": {"type": "string"}},
            "required": ["host"],
        },
    },
}


def lookup(host: str) -> str:
    """Look a host up."""
    return f"{host}: ok"


def answer_calls(calls: Sequence[Any]) -> list[dict[str, str]]:
    """Tool outputs for the SDK's required-action calls."""
    return [{"tool_call_id": c.id, "output": lookup(**json.loads(c.function.arguments))}
            for c in calls]  # fmt: skip


@attrs.frozen
class Flow:
    """One way to ask: ``ask(context, handle, question) -> handle``, where the handle carries
    the thread (an id or a session) from a first question to its follow-up."""

    name: str
    ask: Callable[[Any, Any, Question], Any]
    is_async: bool = False
    seed_like: bool = False


# -- the seed's loop, written out ------------------------------------------------------------
def seed(ctx: Any, thread_id: str | None, q: Question) -> str:
    client = ctx.client
    if thread_id is None:
        thread_id = client.beta.threads.create().id
    client.beta.threads.messages.create(thread_id, role="user", content=q.prompt)
    run = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=ctx.assistant_id)
    while True:  # "Loop every 1s: threads.runs.retrieve(); if completed: break"
        run = client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
        if run.status == "completed":
            break
        if run.status == "requires_action":
            client.beta.threads.runs.submit_tool_outputs(
                run.id, thread_id=thread_id,
                tool_outputs=answer_calls(run.required_action.submit_tool_outputs.tool_calls),
            )  # fmt: skip
        elif run.status not in ("queued", "in_progress"):
            raise RuntimeError(f"run ended {run.status}")
        time.sleep(1.0)
    messages = client.beta.threads.messages.list(thread_id)
    assert messages.data[0].content[0].text.value.startswith("verdict")
    return thread_id


# -- openai's helpers --------------------------------------------------------------------------
def create_and_poll(ctx: Any, thread_id: str | None, q: Question) -> str:
    threads = ctx.client.beta.threads
    message = {"role": "user", "content": q.prompt}
    if thread_id is None:
        run = threads.create_and_run_poll(
            assistant_id=ctx.assistant_id, thread={"messages": [message]}
        )
    else:
        run = threads.runs.create_and_poll(
            thread_id=thread_id, assistant_id=ctx.assistant_id, additional_messages=[message]
        )
    if run.status == "requires_action":
        run = threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=run.thread_id,
            tool_outputs=answer_calls(run.required_action.submit_tool_outputs.tool_calls),
        )  # fmt: skip
    messages = threads.messages.list(run.thread_id, run_id=run.id)
    assert messages.data[0].content[0].text.value.startswith("verdict")
    return str(run.thread_id)


def raw_stream(ctx: Any, thread_id: str | None, q: Question) -> str:
    threads = ctx.client.beta.threads
    message = {"role": "user", "content": q.prompt}
    if thread_id is None:
        stream = threads.create_and_run(
            assistant_id=ctx.assistant_id, thread={"messages": [message]}, stream=True
        )
    else:
        stream = threads.runs.create(
            thread_id, assistant_id=ctx.assistant_id, additional_messages=[message], stream=True
        )
    text = None
    while stream is not None:
        events, stream = stream, None
        for event in events:  # read to the end of the body
            if event.event == "thread.message.completed":
                text = event.data.content[0].text.value
            elif event.event == "thread.run.requires_action":
                run = event.data
                thread_id = run.thread_id
                stream = threads.runs.submit_tool_outputs(
                    run.id, thread_id=run.thread_id, stream=True,
                    tool_outputs=answer_calls(run.required_action.submit_tool_outputs.tool_calls),
                )  # fmt: skip
            elif event.event == "thread.run.created":
                thread_id = event.data.thread_id
    assert text is not None
    assert text.startswith("verdict")
    return str(thread_id)


# -- LangChain ---------------------------------------------------------------------------------
def langchain(ctx: Any, thread_id: str | None, q: Question) -> str:
    from langchain_classic.agents.openai_assistant import OpenAIAssistantRunnable

    runnable = OpenAIAssistantRunnable(
        assistant_id=ctx.assistant_id, client=ctx.client, as_agent=True
    )
    asked: dict[str, Any] = {"content": q.prompt}
    if thread_id is not None:
        asked["thread_id"] = thread_id
    out = runnable.invoke(asked)
    if isinstance(out, list):  # the run asks for tool calls
        outputs = [{"tool_call_id": a.tool_call_id, "output": lookup(**a.tool_input)}
                   for a in out]  # fmt: skip
        out = runnable.invoke(
            {"tool_outputs": outputs, "run_id": out[0].run_id, "thread_id": out[0].thread_id}
        )
    assert out.return_values["output"].startswith("verdict")
    return str(out.return_values["thread_id"])


# -- this library ------------------------------------------------------------------------------
def library(wait: str, policy: PollPolicy | None = None, api: str = "assistants") -> Callable:
    def ask(ctx: Any, session: ThreadSession | None, q: Question) -> ThreadSession:
        if session is None:
            if api == "responses":
                transport: Any = ResponsesTransport(client=ctx.client)
                session = ThreadSession(transport, assistant=ctx.spec, wait=wait,  # type: ignore[arg-type]
                                        poll_policy=policy, tool_handler=ctx.tools)  # fmt: skip
            else:
                session = ThreadSession(ctx.transport, ctx.assistant_id, wait=wait,  # type: ignore[arg-type]
                                        poll_policy=policy, tool_handler=ctx.tools)  # fmt: skip
        assert session.ask(q.prompt).text.startswith("verdict")
        return session

    return ask


async def library_async(ctx: Any, session: AsyncThreadSession | None, q: Question) -> Any:
    if session is None:
        session = AsyncThreadSession(ctx.atransport, ctx.assistant_id, tool_handler=ctx.tools)
    assert (await session.ask(q.prompt)).text.startswith("verdict")
    return session


POLICIES: dict[str, PollPolicy] = {
    "default AdaptivePolling()": AdaptivePolling(),
    "FixedInterval(1.0)": FixedInterval(1.0),
    "FixedInterval(0.5)": FixedInterval(0.5),
    "AdaptivePolling(0.2, 1.5, cap=2.0)": AdaptivePolling(initial=0.2, factor=1.5, cap=2.0),
}


def flows(with_langchain: bool) -> list[Flow]:
    found = [
        Flow("the seed's flow (look each 1 s)", seed, seed_like=True),
        Flow("openai create_and_poll", create_and_poll),
        Flow("openai raw stream", raw_stream),
    ]
    if with_langchain:
        found.append(Flow("LangChain OpenAIAssistantRunnable", langchain))
    found.append(Flow("assistant_bridge ask (streamed)", library("auto")))
    found += [Flow(f"assistant_bridge poll, {name}", library("poll", policy))
              for name, policy in POLICIES.items()]  # fmt: skip
    found.append(Flow("assistant_bridge async ask", library_async, is_async=True))
    found.append(Flow("assistant_bridge Responses wire", library("auto", api="responses")))
    return found


# -- running a flow ----------------------------------------------------------------------------
@attrs.define
class Context:
    """What the flows ask through: counting clients, the assistant, transports and tools."""

    client: Any
    aclient: Any
    assistant_id: str
    spec: AssistantSpec
    transport: Any
    atransport: Any
    tools: ToolRegistry
    connections: float | None = None


@attrs.frozen
class Result:
    flow: str
    kind: str
    requests: float
    added: tuple[float, float, float]
    cpu_ms: float
    errors: int
    connections: float | None = None


def questions(per_kind: int, low: float, high: float) -> list[Question]:
    """Run lengths spread evenly over [low, high], dealt to the kinds in turn."""
    works = spread(per_kind * len(KINDS), low, high)
    return [Question(kind, works[n * len(KINDS) + i])
            for i, kind in enumerate(KINDS) for n in range(per_kind)]  # fmt: skip


def run_flow(flow: Flow, ctx: Context, server: Server, qs: list[Question]) -> tuple[float, str]:
    """Ask every question at once (follow-ups on threads prepared first); returns the client's
    CPU seconds and how the added latency was measured."""

    def one(q: Question, handle: Any) -> None:
        with counting() as counter:
            q.started = time.monotonic()
            try:
                flow.ask(ctx, handle, q)
            except Exception as exc:
                q.error = f"{type(exc).__name__}: {exc}"
            q.done = time.monotonic()
            q.requests = counter[0]

    def prepare(q: Question) -> Any:
        return flow.ask(ctx, None, Question("new", 0.05)) if q.kind == "follow-up" else None

    async def aone(q: Question, handle: Any) -> None:
        with counting() as counter:
            q.started = time.monotonic()
            try:
                await flow.ask(ctx, handle, q)
            except Exception as exc:
                q.error = f"{type(exc).__name__}: {exc}"
            q.done = time.monotonic()
            q.requests = counter[0]

    async def aall() -> float:
        await flow.ask(ctx, None, Question("new", 0.05))
        handles = await asyncio.gather(*(
            flow.ask(ctx, None, Question("new", 0.05)) if q.kind == "follow-up"
            else asyncio.sleep(0) for q in qs))  # fmt: skip
        began = time.process_time()
        await asyncio.gather(*(aone(q, h) for q, h in zip(qs, handles, strict=True)))
        return time.process_time() - began

    # One question first, unmeasured: lazy imports and first-use costs are not per question.
    before = server.stats()
    if flow.is_async:
        cpu = asyncio.run(aall())
    else:
        flow.ask(ctx, None, Question("new", 0.05))
        with ThreadPoolExecutor(max_workers=len(qs)) as pool:
            handles = list(pool.map(prepare, qs))
            began = time.process_time()
            list(pool.map(one, qs, handles))
            cpu = time.process_time() - began
    after = server.stats()
    how = settle_added(qs, after)
    if before is not None and after is not None:
        asks = 1 + len(qs) + sum(q.kind == "follow-up" for q in qs)  # warm-up and preparations
        ctx.connections = (after["connections"] - before["connections"]) / asks
    return cpu, how


def results_of(flow: Flow, qs: list[Question], cpu: float, conns: float | None) -> list[Result]:
    rows = []
    for kind in (*KINDS, "all"):
        mine = [q for q in qs if kind in (q.kind, "all")]
        ok = [q for q in mine if q.error is None]
        rows.append(Result(
            flow.name, kind,
            requests=sum(q.requests for q in mine) / len(mine),
            added=summary([q.added for q in ok if q.added is not None]),
            cpu_ms=cpu * 1000 / len(qs),
            errors=len(mine) - len(ok), connections=conns,
        ))  # fmt: skip
    return rows


def setup(server: Server) -> Context:
    warnings.simplefilter("ignore")
    client, aclient = clients(server.base_url)
    assistant = client.beta.assistants.create(model="gpt-4o-mini", name="bench", tools=[TOOL])
    spec = AssistantSpec(name="bench", model="gpt-4o-mini", tools=(FunctionTool(
        name="lookup", description="Look a host up.",
        parameters=TOOL["function"]["parameters"]),))  # type: ignore[index]  # fmt: skip
    return Context(
        client=client, aclient=aclient, assistant_id=assistant.id, spec=spec,
        transport=OpenAITransport(client=client), atransport=AsyncOpenAITransport(client=aclient),
        tools=ToolRegistry(lookup),
    )  # fmt: skip


def print_tables(results: list[Result], how: str, baseline_cpu: float | None) -> None:
    print(f"\nadded latency measured from {how}\n")
    head = ["flow", "requests / question", "added mean", "p50", "max", "client CPU / q",
            "CPU vs raw SDK stream", "TCP connections / ask", "errors"]  # fmt: skip
    for kind in (*KINDS, "all"):
        print(f"### {kind}" + (" (every question)" if kind == "all" else ""))
        rows = [[r.flow, f"{r.requests:.1f}", *(f"{v * 1000:.0f} ms" for v in r.added),
                 f"{r.cpu_ms:.1f} ms", f"{r.cpu_ms / baseline_cpu:.2f}x" if baseline_cpu else "n/a",
                 "n/a" if r.connections is None else f"{r.connections:.2f}", r.errors]
                for r in results if r.kind == kind]  # fmt: skip
        print(md_table(head, rows) + "\n")


def plot(results: list[Result], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    markers = "osD^v<>pPX*h"
    for n, r in enumerate(r for r in results if r.kind == "all"):
        ax.scatter(r.added[0] * 1000, r.requests, s=55, marker=markers[n % len(markers)],
                   label=f"{r.flow}: {r.requests:.1f} req, {r.added[0] * 1000:.0f} ms")  # fmt: skip
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("added latency, mean (ms): run finished on the server -> answer in hand")
    ax.set_ylabel("HTTP requests per question")
    ax.set_title("Requests against added latency per flow, runs of 0.5-10 s (lower left is better)",
                 fontsize=10)  # fmt: skip
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="ask this server instead of starting the emulator")
    parser.add_argument("--full", action="store_true", help="runs of 0.5-10 s (the issue's sweep)")
    parser.add_argument("--per-kind", type=int, default=None,
                        help="questions of each kind at once (8; 16 with --full)")  # fmt: skip
    parser.add_argument("--low", type=float, default=0.5, help="shortest run (s)")
    parser.add_argument("--high", type=float, default=None, help="longest run (s)")
    parser.add_argument("--only", default="", help="only flows whose name contains this")
    parser.add_argument("--poll-after-ms", type=int, help="the emulator sends this poll hint")
    parser.add_argument("--plot", help="write the requests/latency plot to this PNG")
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--from-json", help="print (and plot) saved results instead of running")
    args = parser.parse_args(argv)
    if args.from_json:
        with open(args.from_json, encoding="utf-8") as saved:
            results = [Result(**{**r, "added": tuple(r["added"])}) for r in json.load(saved)]
        raw = [r.cpu_ms for r in results if r.flow == "openai raw stream" and r.kind == "all"]
        print_tables(results, "the saved run", raw[0] if raw else None)
        if args.plot:
            plot(results, args.plot)
        return 0
    high = args.high or (10.0 if args.full else 6.0)
    args.per_kind = args.per_kind or (16 if args.full else 8)
    try:
        import langchain_classic.agents.openai_assistant  # noqa: F401

        with_langchain = True
    except ImportError:
        print("LangChain is not installed: its row is left out (pip install --group bench)")
        with_langchain = False

    print(f"# flows: {machine()}")
    print(f"{args.per_kind} questions of each kind at once, runs of {args.low:g}-{high:g} s")
    results: list[Result] = []
    how = ""
    with Server(args.url, poll_after_ms=args.poll_after_ms) as server:
        ctx = setup(server)
        for flow in flows(with_langchain):
            if args.only and args.only not in flow.name:
                continue
            qs = questions(args.per_kind, args.low, high)
            began = time.monotonic()
            cpu, how = run_flow(flow, ctx, server, qs)
            rows = results_of(flow, qs, cpu, ctx.connections)
            results += rows
            total = rows[-1]
            print(f"  {flow.name}: {total.requests:.1f} requests/q, added mean "
                  f"{total.added[0] * 1000:.0f} ms, {time.monotonic() - began:.0f} s"
                  + (f", {total.errors} errors: {next(q.error for q in qs if q.error)}"
                     if total.errors else ""), file=sys.stderr)  # fmt: skip
    raw = [r.cpu_ms for r in results if r.flow == "openai raw stream" and r.kind == "all"]
    print_tables(results, how, raw[0] if raw else None)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump([attrs.asdict(r) for r in results], out, indent=1)
    if args.plot:
        plot(results, args.plot)
    return 0 if not any(r.errors for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
