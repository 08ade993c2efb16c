"""A transcript in, a ``Summary`` out: the one entry point callers use.

With a ``ChatClient`` it asks the model for the summary, the structured part
and the title; without one it falls back to the extractive summary. Long
transcripts are summarised chunk by chunk (map), then the partial summaries
are merged (reduce), recursively if the partials themselves do not fit.

Errors from the endpoint propagate as ``LLMError`` (the caller shows and
counts them and keeps the transcript), except a malformed structured part,
which only costs the key points: the summary is what the user came for.
"""
from __future__ import annotations

import logging

from . import extractive, prompts
from .language import detect_language, normalize_language
from .llm import ChatClient, LLMClientError, LLMError, LLMResponseError
from .result import LLM, TOO_SHORT, Summary

log = logging.getLogger(__name__)


class _Caller:
    """Counts calls and keeps the model name the endpoint reports."""

    def __init__(self, client: ChatClient):
        self.client = client
        self.calls = 0
        self.model = client.config.model

    def text(self, messages, **kw) -> str:
        self.calls += 1
        completion = self.client.complete(messages, **kw)
        self.model = completion.model or self.model
        return completion.content.strip()


def _structured(caller: _Caller, chunk: str, language: str, speakers: bool = False) -> prompts.Structured:
    messages = prompts.structured_messages(chunk, language, speakers=speakers)
    try:
        try:
            raw = caller.text(messages, json_mode=True, temperature=0.0)
        except LLMClientError as exc:
            # Some servers reject response_format; the prompt asks for JSON anyway.
            if exc.status not in (400, 422):
                raise
            raw = caller.text(messages, temperature=0.0)
    except LLMResponseError as exc:
        log.warning("structured part unreadable: %s", exc)
        return prompts.Structured(valid=False)
    return prompts.parse_structured(raw)


def _reduce(caller: _Caller, partials: list[str], language: str, budget: int) -> str:
    """Merge partial summaries, in groups that fit, until one remains."""
    while len(partials) > 1:
        groups: list[list[str]] = [[]]
        for part in partials:
            trial = groups[-1] + [part]
            if groups[-1] and prompts.messages_tokens(prompts.merge_messages(trial, language)) > budget:
                groups.append([part])
            else:
                groups[-1] = trial
        if len(groups) == len(partials):  # no two fit together: shorten them
            groups = [partials[i : i + 2] for i in range(0, len(partials), 2)]
        partials = [
            g[0] if len(g) == 1 else caller.text(prompts.merge_messages(g, language))
            for g in groups
        ]
    return partials[0]


def generate_summary(
    transcript: str,
    *,
    language: str | None = None,
    client: ChatClient | None = None,
    segments=None,
    speakers: bool = False,
) -> Summary:
    """Summary, title and structured part of ``transcript``.

    ``language``: the transcript's language as Whisper reported it; guessed
    from the text when absent. ``client``: ``None`` selects the extractive
    fallback. ``segments``: Whisper's timed segments of the transcript
    (objects or dicts with start, end, text), which the extractive path cuts
    units on; optional. ``speakers``: the transcript is in speaker turns (``Name: text``
    paragraphs), and the prompts ask who decided what. Raises ``LLMError`` when the endpoint fails.
    """
    transcript = (transcript or "").strip()
    lang = normalize_language(language) or detect_language(transcript)
    p = prompts.prompt_set(lang)

    if prompts.is_too_short(transcript):
        return Summary(title=p.too_short_title, summary=p.too_short, language=lang,
                       method=TOO_SHORT, structured_valid=True)

    if client is None:
        return extractive.summarize(transcript, lang, segments=segments)

    config = client.config
    output_tokens = min(config.max_output_tokens, max(256, config.context_tokens // 4))
    budget = prompts.input_budget(config.context_tokens, output_tokens, lang)
    caller = _Caller(client)
    chunks = prompts.chunk_text(transcript, budget)

    if len(chunks) == 1:
        summary = caller.text(prompts.summary_messages(transcript, lang, speakers=speakers), max_tokens=output_tokens)
        structured = _structured(caller, transcript, lang, speakers)
    else:
        partials = []
        structured = prompts.Structured()
        for index, chunk in enumerate(chunks, 1):
            partials.append(
                caller.text(prompts.chunk_messages(chunk, index, len(chunks), lang, speakers=speakers),
                            max_tokens=output_tokens)
            )
            structured = structured.merge(_structured(caller, chunk, lang, speakers))
        summary = _reduce(caller, partials, lang, budget + prompts.messages_tokens(prompts.merge_messages([], lang)))

    if not summary:
        raise LLMResponseError("The language model returned an empty summary.", status=200)

    # Title from the summary: shorter than the transcript, and already formal.
    title = prompts.clean_title(
        caller.text(prompts.title_messages(summary, lang), max_tokens=64, temperature=0.0)
    )
    if not title:
        title = extractive.summarize(transcript, lang, segments=segments).title

    # A model often lists a decision again as a key point: each item in one section only.
    said = {" ".join(x.lower().split()) for x in structured.decisions + structured.action_items}
    key_points = [k for k in structured.key_points if " ".join(k.lower().split()) not in said]
    return Summary(
        title=title,
        summary=summary,
        key_points=key_points,
        decisions=structured.decisions,
        action_items=structured.action_items,
        language=lang,
        method=LLM,
        model=caller.model,
        chunks=len(chunks),
        structured_valid=structured.valid,
        llm_calls=caller.calls,
    )


__all__ = ["Summary", "generate_summary", "LLMError"]
