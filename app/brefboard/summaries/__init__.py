"""Summaries, titles and exports of transcripts.

Pure-Python modules (no Django at import time), each behind a narrow interface:

* ``llm``        – a client for any OpenAI-compatible chat-completions endpoint;
* ``prompts``    – the prompts and the rules the original BrefBoard applied;
* ``extractive`` – an offline summary and title when no endpoint is configured;
* ``generate``   – the one entry point: a transcript in, a ``Summary`` out;
* ``exports``    – PDF, TXT, Markdown, SRT and VTT, and safe download names.
"""
