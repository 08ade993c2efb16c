"""An offline summary and title, for when no LLM endpoint is configured.

Extractive: it only picks units of the transcript (clauses, cut from
Whisper's long comma-joined sentences by ``units.py``), so it cannot invent
anything (the original's first rule holds by construction); it does not
rephrase either, and the page says so. Two things are written, not picked:
an action item is laid out as "owner: task (due: date)" from the words of
its unit, and a meeting made only of decisions and actions gets a summary
line that counts them. Each unit goes to one section only: decisions and
actions by their cues, then the rest scored by the frequency of their
content words (stopwords of the transcript's language removed), the classic
Luhn/Edmundson approach, the best to the summary, the next to key points.
"""
from __future__ import annotations

import math
import re
from collections import Counter

from . import units
from .language import STOPWORDS, WORD_RE, detect_language, normalize_language, words
from .prompts import MIN_WORDS, TITLE_MAX_WORDS, clean_title, prompt_set
from .result import EXTRACTIVE as METHOD
from .result import Summary

# "Today is about the newsletter format", "l'objet de la réunion c'est le budget…":
# what follows, up to the next comma, is the meeting's subject, the best title.
_TOPIC = {
    "en": re.compile(
        r"\b(?:today(?:'s meeting)? is about|the (?:main )?(?:topic|subject|agenda|point) (?:of (?:the|this|today's) "
        r"meeting )?(?:today )?is|we(?:'re| are) here to (?:discuss|talk about|review)|"
        r"(?:sync|call|meeting|catch-up) (?:is )?(?:about|on)|let's talk about|this is the|^(?:about|regarding))"
        r"\s+(?P<topic>[^,.;!?]+)",
        re.I,
    ),
    "fr": re.compile(
        r"(?:\bl'objet de (?:la|cette) réunion,? c'est|\ble (?:point|sujet) (?:principal )?(?:d'aujourd'hui |du jour |"
        r"aujourd'hui )?,?c'est|\b(?:aujourd'hui )?on parle d[eu]|\bà l'ordre du jour,?|\b(?:nous faisons|on fait) le point sur|"
        r"\bréunion(?: \w+)? (?:sur|concernant|consacrée à)|^(?:pour|concernant|au sujet d[eu]))\s+(?P<topic>[^,.;!?]+)",
        re.I,
    ),
}
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an|le|la|les|un|une|l'|l’)\s*(?=\w)", re.I)


def _content_words(sentence: str, stops: frozenset[str]) -> list[str]:
    return [w for w in words(sentence) if len(w) > 2 and w not in stops]


# Greetings, thanks and sign-offs: a unit made of little else is no summary material.
_SMALL_TALK = re.compile(
    r"\b(?:hi|hello|good (?:morning|afternoon)|thanks?(?: you)?(?: (?:all|everyone|for (?:joining|coming)))?|"
    r"(?:I think )?that's (?:everything|all|it)|let's get started|anything else|great|"
    r"bonjour(?: à tous)?|merci(?: à tous| beaucoup| d'être (?:venus|là|présents))?|on commence|"
    r"(?:je crois qu')?on a fait le tour|c'est tout(?: pour moi)?|au revoir|bonne journée)\b",
    re.I,
)


def _scores(sentences: list[str], stops: frozenset[str]) -> list[float]:
    freq = Counter(w for s in sentences for w in _content_words(s, stops))
    if not freq:
        return [0.0] * len(sentences)
    top = max(freq.values())
    scores = []
    for s in sentences:
        content = _content_words(s, stops)
        if len(_content_words(_SMALL_TALK.sub(" ", s), stops)) < 2:
            content = []
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


def _subject(phrase: str) -> str:
    phrase = _LEADING_ARTICLE.sub("", " ".join(phrase.split()).strip(" ,.;:"))
    phrase = re.sub(r"^(?:d[eu]s?|of)\s+", "", phrase, flags=re.I)
    return phrase[:1].upper() + phrase[1:]


def _title_from(sentences: list[str], scores: list[float], stops: frozenset[str], lang: str,
                decisions: list[str]) -> str:
    """The meeting's stated subject; else the phrase it repeats; else its
    first decision, cue removed; else its best short sentence."""
    key = units.lang_key(lang)
    for sentence in sentences[:6]:  # the subject is said at the start
        match = _TOPIC[key].search(sentence)
        if match:
            topic = _subject(match.group("topic"))
            if 1 <= len(topic.split()) <= TITLE_MAX_WORDS and any(w not in stops for w in words(topic)):
                return clean_title(topic)
    phrase = _keyphrase(sentences, stops)
    if phrase:
        return clean_title(phrase)
    for decision in decisions:
        match = units._DECISION[key].search(decision)
        rest = re.split(r"[,;.!?]", decision[match.end():])[0] if match else ""
        rest = re.sub(r"^\s*(?:to|that|on|de|d'|que|qu'|sur)\s*", "", rest, flags=re.I)
        if 2 <= len(rest.split()) <= TITLE_MAX_WORDS:
            return clean_title(_subject(rest))
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


def _counts_line(lang: str, decisions: int, actions: int) -> str:
    """The summary of a meeting made only of decisions and actions."""
    if units.lang_key(lang) == "fr":
        d = f"{decisions} décision{'s' if decisions > 1 else ''}"
        a = f"{actions} action{'s' if actions > 1 else ''}"
        return f"{d} et {a} relevée{'s' if decisions + actions > 1 else ''} ; voir ci-dessous."
    d = f"{decisions} decision{'s' if decisions != 1 else ''}"
    a = f"{actions} action item{'s' if actions != 1 else ''}"
    return f"{d} and {a} noted; see below."


def summarize(text: str, language: str | None = None, *, segments=None, max_sentences: int = 6) -> Summary:
    """Pick the most representative units of ``text``, its decisions and
    actions, and a title. ``segments``: Whisper's timed segments of the same
    text (objects or dicts with start, end, text); their pauses cut units."""
    lang = normalize_language(language) or detect_language(text)
    prompts = prompt_set(lang if lang in STOPWORDS else "en")
    stops = STOPWORDS.get(lang, STOPWORDS["en"])
    text = (text or "").strip()
    if segments and not text:
        text = " ".join(str(getattr(s, "text", None) or (s.get("text", "") if isinstance(s, dict) else "")) for s in segments)
    if len(text.split()) < MIN_WORDS:
        return Summary(title=prompts.too_short_title, summary=prompts.too_short, language=lang,
                       method=METHOD)

    found = units.classify(text, lang, segments)
    sentences = found.units
    scores = _scores(sentences, stops)
    # Each unit goes to one section: decisions and actions first, then the
    # best of the rest to the summary, the next ones to the key points.
    ranked = [i for i in sorted(found.context, key=lambda i: -scores[i]) if scores[i] > 0]
    n = max(1, min(max_sentences, math.ceil(len(sentences) / 3)))
    summary_ids, key_ids = sorted(ranked[:n]), sorted(ranked[n : n + 5])
    if not summary_ids:  # nothing scores (short words only): the first units, as said
        summary_ids = found.context[:n]
    decisions = [sentences[i] for i in found.decisions][:10]
    actions = [found.actions[i] for i in sorted(found.actions)][:10]
    summary = " ".join(sentences[i] for i in summary_ids)
    if not summary:  # everything said was a decision or an action, or a filler
        summary = _counts_line(lang, len(decisions), len(actions)) if decisions or actions else prompts.too_short

    return Summary(
        title=_title_from(sentences, scores, stops, lang, decisions) or prompts.too_short_title,
        summary=summary,
        key_points=[sentences[i] for i in key_ids],
        decisions=decisions,
        action_items=[a.line(lang) for a in actions],
        actions=[{"owner": a.owner, "task": a.task, "due": a.due} for a in actions],
        language=lang,
        method=METHOD,
    )
