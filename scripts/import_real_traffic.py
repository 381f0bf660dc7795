"""Copy recorded real-API traffic from ../shared/real-traffic into cassettes/real/ as vcrpy YAML.

Run from the project root: ``python scripts/import_real_traffic.py``. Each source keeps its
LICENSE beside the cassettes, and cassettes/real/SOURCES.md says where every file came from.
Needs PyYAML (a dependency of vcrpy).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT.parent / "shared" / "real-traffic"
DEST = ROOT / "cassettes" / "real"

DOTNET = [
    "FunctionToolsWork.json",
    "BasicRunOperationsWork.json",
    "FileSearchWorks.json",
    "BasicAssistantOperationsWork.json",
    "BasicMessageOperationsWork.json",
    "StreamingRunWorks.json",
    "StreamingToolCall().json",
    "CanAssociateFiles.json",
    "CanUseBatchIngestion.json",
    "Pagination_CanRehydrateRunStepPageCollectionFromBytes.json",
    "GetFileCanParseServiceError.json",
    "UploadFileCanParseServiceError.json",
    "FileSearchStreamingWorks.json",
    "SettingResponseFormatWorks.json",
    "CanStreamBackgroundResponses.json",
    "CanCancelBackgroundResponses.json",
    "ResponseUsingConversations.json",
    "CanCreateGetUpdateAndDeleteConversation.json",
]
RUBY = [
    "runs_cancel.yml",
    "runs_submit_tool_outputs.yml",
    "runs_create_thread_and_run.yml",
    "runs_streamed_create.yml",
    "runs_modify.yml",
    "run_steps_retrieve.yml",
]
VCRPY = ["test_new_assistant.yaml"]


def _headers(raw: dict[str, Any]) -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [str(v)] for k, v in (raw or {}).items()}


def _body(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)  # a server-sent event stream, kept line by line
    return value if isinstance(value, str) else json.dumps(value)


def from_dotnet(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    interactions = []
    for entry in data["Entries"]:
        headers = _headers(entry.get("ResponseHeaders", {}))
        headers.pop("Content-Length", None)  # bodies are re-serialised, lengths change
        interactions.append(
            {
                "request": {
                    "method": entry["RequestMethod"],
                    "uri": entry["RequestUri"],
                    "body": _body(entry.get("RequestBody")),
                    "headers": _headers(entry.get("RequestHeaders", {})),
                },
                "response": {
                    "status": {"code": entry["StatusCode"], "message": ""},
                    "headers": headers,
                    "body": {"string": _body(entry.get("ResponseBody"))},
                },
            }
        )
    return {"interactions": interactions, "version": 1}


def from_ruby(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    interactions = []
    for item in data["http_interactions"]:
        req, resp = item["request"], item["response"]
        headers = _headers(resp.get("headers", {}))
        headers.pop("Transfer-Encoding", None)
        interactions.append(
            {
                "request": {
                    "method": req["method"].upper(),
                    "uri": req["uri"],
                    "body": (req.get("body") or {}).get("string", ""),
                    "headers": _headers(req.get("headers", {})),
                },
                "response": {
                    "status": resp["status"],
                    "headers": headers,
                    "body": {"string": (resp.get("body") or {}).get("string", "")},
                },
            }
        )
    return {"interactions": interactions, "version": 1}


def main() -> int:
    if not SRC.is_dir():
        print(f"no recorded traffic at {SRC}", file=sys.stderr)
        return 1
    DEST.mkdir(parents=True, exist_ok=True)
    jobs = [("openai__openai-dotnet", n, from_dotnet) for n in DOTNET]
    jobs += [("alexrudall__ruby-openai", n, from_ruby) for n in RUBY]
    for owner, name, convert in jobs:
        stem = Path(name).stem.replace("()", "")
        target = DEST / f"{owner}__{stem}.yaml"
        target.write_text(yaml.safe_dump(convert(SRC / owner / name), sort_keys=False))
    for name in VCRPY:
        target = DEST / f"traceloop__openllmetry__{name}"
        shutil.copyfile(SRC / "traceloop__openllmetry" / name, target)
    for owner in ("openai__openai-dotnet", "alexrudall__ruby-openai", "traceloop__openllmetry"):
        shutil.copyfile(SRC / owner / "LICENSE", DEST / f"LICENSE.{owner}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
