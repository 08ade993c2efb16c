"""An offline summary and title, for when no LLM endpoint is configured.

Extractive: it only picks sentences of the transcript, so it cannot invent
anything (the original's first rule holds by construction), but it does not
rephrase either, and the page says so. Sentences are scored by the
frequency of their content words (stopwords of the transcript's language
removed), the classic Luhn/Edmundson approach: cheap, deterministic and good
enough to tell two meetings apart in a list.
"""
from __future__ import annotations

import math
import re
from collections import Counter

from .language import STOPWORDS, WORD_RE, detect_language, normalize_language, split_sentences, words
from .prompts import MIN_WORDS, TITLE_MAX_WORDS, clean_title, prompt_set
from .result import EXTRACTIVE as METHOD
from .result import Summary

_DECISION = {
    "fr": re.compile(
        r"\b(d[ée]cid\w*|d[ée]cision\w*|valid[ée]\w*|approuv\w*|adopt[ée]\w*|convenu\w*|"
        r"retenu\w*|tranch[ée]\w*|arr[êe]t[ée]\w*|d'accord|accord[ée]?)\b",
        re.I,
    ),
    "en": re.compile(
        r"\b(decid\w*|decision\w*|agreed|agree|approved?|adopted|resolved|settled|"
        r"concluded|signed off|go ahead)\b",
        re.I,
    ),
}
_ACTION = {
    "fr": re.compile(
        r"\b(doit|doivent|devra|devront|devrait|va\s+\w+er|vont\s+\w+er|charg[ée]e?s?|"
        r"s'occupe\w*|se charge\w*|[àa] faire|prochaine [ée]tape|d'ici|avant le|"
        r"relancer|envoyer|pr[ée]parer|action)\b",
        re.I,
    ),
    "en": re.compile(
        r"\b(will|shall|must|needs? to|has to|have to|should|action items?|to do|"
        r"follow up|next steps?|by (?:monday|tuesday|wednesday|thursday|friday|"
        r"tomorrow|next week|the end of)|assigned|in charge of|responsible for)\b",
        re.I,
    ),
}


def _content_words(sentence: str, stops: frozenset[str]) -> list[str]:
    return [w for w in words(sentence) if len(w) > 2 and w not in stops]


def _scores(sentences: list[str], stops: frozenset[str]) -> list[float]:
    freq = Counter(w for s in sentences for w in _content_words(s, stops))
    if not freq:
        return [0.0] * len(sentences)
    top = max(freq.values())
    scores = []
    for s in sentences:
        content = _content_words(s, stops)
        if len(s.split()) < 4 or not content:
            scores.append(0.0)
            continue
        # sqrt: long sentences gather more words, but not proportionally more meaning
        scores.append(sum(freq[w] / top for w in content) / math.sqrt(len(content)))
    return scores


def _keyphrase(sentences: list[str], stops: frozenset[str]) -> str:
    """The phrase of 2 to 5 words the meeting repeats most, weighted by its
    content words: "budget du projet Hermès" rather than a cut sentence.
    Empty when nothing of two words or more is said twice."""
    def is_content(token: str) -> bool:
        parts = words(token)
        return bool(parts) and len(parts[-1]) > 2 and parts[-1] not in stops

    counts: Counter[tuple[str, ...]] = Counter()
    first_form: dict[tuple[str, ...], str] = {}
    for sentence in sentences:
        tokens = WORD_RE.findall(sentence)
        seen: set[tuple[str, ...]] = set()
        for n in range(2, 6):
            for i in range(len(tokens) - n + 1):
                gram = tokens[i : i + n]
                if not (is_content(gram[0]) and is_content(gram[-1])):
                    continue
                key = tuple(t.lower() for t in gram)
                if key in seen:
                    continue
                seen.add(key)
                counts[key] += 1
                first_form.setdefault(key, " ".join(gram))
    best, best_score = None, 0
    for key, count in counts.items():
        if count < 2:
            continue
        score = count * sum(1 for t in key if is_content(t))
        if score > best_score or (score == best_score and best and len(key) > len(best)):
            best, best_score = key, score
    if best is None:
        return ""
    phrase = first_form[best]
    return phrase[:1].upper() + phrase[1:]


def _title_from(sentences: list[str], scores: list[float], stops: frozenset[str]) -> str:
    phrase = _keyphrase(sentences, stops)
    if phrase:
        return clean_title(phrase)
    ranked = sorted(range(len(sentences)), key=lambda i: -scores[i])
    for i in ranked:  # a whole short sentence reads better than a cut one
        n = len(sentences[i].split())
        if 3 <= n <= TITLE_MAX_WORDS and scores[i] > 0:
            return clean_title(sentences[i])
    best = sentences[ranked[0]] if ranked else ""
    tokens = best.split()[:TITLE_MAX_WORDS]
    # do not end on "de", "the", "et"...: drop trailing stopwords
    while len(tokens) > 1 and (words(tokens[-1]) or [""])[-1] in stops:
        tokens.pop()
    title = clean_title(" ".join(tokens))
    return title[:1].upper() + title[1:]


def summarize(text: str, language: str | None = None, *, max_sentences: int = 6) -> Summary:
    """Pick the most representative sentences of ``text`` and a title."""
    lang = normalize_language(language) or detect_language(text)
    prompts = prompt_set(lang if lang in STOPWORDS else "en")
    stops = STOPWORDS.get(lang, STOPWORDS["en"])
    text = (text or "").strip()
    if len(text.split()) < MIN_WORDS:
        return Summary(title=prompts.too_short_title, summary=prompts.too_short, language=lang,
                       method=METHOD)

    sentences = split_sentences(text)
    scores = _scores(sentences, stops)
    n = max(1, min(max_sentences, math.ceil(len(sentences) / 3)))
    chosen = sorted(sorted(range(len(sentences)), key=lambda i: -scores[i])[:n])
    summary = " ".join(sentences[i] for i in chosen)

    decision_re = _DECISION.get(lang, _DECISION["en"])
    action_re = _ACTION.get(lang, _ACTION["en"])
    decisions = [s for s in sentences if decision_re.search(s)][:10]
    actions = [s for s in sentences if action_re.search(s) and s not in decisions][:10]
    key_points = [sentences[i] for i in chosen if scores[i] > 0][:5]

    return Summary(
        title=_title_from(sentences, scores, stops) or prompts.too_short_title,
        summary=summary,
        key_points=key_points,
        decisions=decisions,
        action_items=actions,
        language=lang,
        method=METHOD,
    )
