"""Recall of decisions and action items on the scripted meetings.

    .venv-app/bin/python bench/summaries_eval.py            # the extractive (offline) path
    LLM_BASE_URL=… LLM_MODEL=… [LLM_API_KEY_FILE=…] \\
    .venv-app/bin/python bench/summaries_eval.py --llm      # the configured model, same meetings
    .venv-app/bin/python bench/summaries_eval.py --meetings DIR

The meetings are app/tests/summaries/meetings/*.json (Whisper-like segments,
and the decisions and actions a reader must find: see
app/brefboard/summaries/evaluate.py for the file format and what a match
is). Prints one line per meeting, what was missed, and the totals; exits 1
when a threshold given with --min-decisions / --min-actions is not reached.

With --llm and testbed/llm-server.py (the lab's standard-library server),
the numbers prove the wiring only: that server's answers are canned (it picks
sentences by keywords, see its docstring), so they say nothing of a model.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))

from brefboard.summaries import evaluate  # noqa: E402
from brefboard.summaries.generate import generate_summary  # noqa: E402
from brefboard.summaries.llm import ChatClient, LLMConfig, LLMError  # noqa: E402

MEETINGS = ROOT / "app" / "tests" / "summaries" / "meetings"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", action="store_true",
                        help="score the LLM path (LLM_BASE_URL, LLM_MODEL… from the environment)")
    parser.add_argument("--meetings", type=Path, default=MEETINGS, help="folder of meeting JSON files")
    parser.add_argument("--min-decisions", type=float, default=0.0, help="fail below this decision recall")
    parser.add_argument("--min-actions", type=float, default=0.0, help="fail below this action recall")
    args = parser.parse_args(argv)

    try:
        meetings = evaluate.load_meetings(args.meetings)
    except evaluate.MeetingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    client = None
    if args.llm:
        try:
            config = LLMConfig.from_env()
        except LLMError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if config is None:
            print("error: --llm needs LLM_BASE_URL (and LLM_MODEL) in the environment", file=sys.stderr)
            return 2
        client = ChatClient(config)
        print(f"path: llm ({config.model or 'no model named'} at {config.base_url})")
    else:
        print("path: extractive (no language model)")

    def summarizer(transcript, language, segments):
        return generate_summary(transcript, language=language, client=client, segments=segments)

    started = time.perf_counter()
    try:
        results, decisions, actions = evaluate.score(meetings, summarizer)
    except LLMError as exc:
        print(f"error: the model failed: {exc}", file=sys.stderr)
        return 2
    finally:
        if client is not None:
            client.close()
    print(evaluate.report(results, decisions, actions))
    print(f"meetings: {len(meetings)}, {time.perf_counter() - started:.2f} s")
    ok = decisions.recall >= args.min_decisions and actions.recall >= args.min_actions
    if not ok:
        print(f"below threshold: decisions {decisions.recall:.2f} (min {args.min_decisions}), "
              f"actions {actions.recall:.2f} (min {args.min_actions})", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
