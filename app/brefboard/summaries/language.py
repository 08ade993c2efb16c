"""Words, sentences and a cheap language guess for French and English.

Whisper already tells the language of a transcript, and callers pass it on;
this guess only serves text whose language is unknown (an edited transcript,
an old row). Stopword counting is enough to tell French from English, the
two languages whose prompts we ship; French wins ties, as in the original.
"""
from __future__ import annotations

import re

DEFAULT_LANGUAGE = "fr"

STOPWORDS: dict[str, frozenset[str]] = {
    "fr": frozenset(
        """
        a à afin ai aie aient aies ait alors as au aucun aucune aura aurai auraient
        aurais aurait auras aurez auriez aurions aurons auront aussi autre autres aux
        avaient avais avait avant avec avez aviez avions avoir avons ayant ayez ayons
        bah ben bien bon c ça car ce ceci cela celle celles celui cependant certains
        ces cet cette ceux chaque chez ci comme comment d dans de des donc dont du
        déjà elle elles en encore entre es est et étaient étais était étant été être
        eu eue eues euh eûmes eurent eus eut eux fait faire fais faut fois font hein
        hors ici il ils j je jusqu l la là le les leur leurs lui m ma mais me même
        mêmes mes moi mon n ne ni nos notre nous on ont or ou où oui par parce pas
        peu peut peuvent plus pour pourquoi puis qu quand que quel quelle quelles
        quels qui quoi s sa sans se sera serai seraient serais serait seras serez
        seriez serions serons seront ses si sien soi soient sois soit sommes son
        sont sous suis sur t ta te tes toi ton tous tout toute toutes très tu un
        une unes uns va vais voici voilà vont vos votre vous vu y
        """.split()
    ),
    "en": frozenset(
        """
        a about above after again against all am an and any are aren as at be
        because been before being below between both but by can cannot could did
        didn do does doesn doing don down during each few for from further had
        hadn has hasn have haven having he her here hers herself him himself his
        how i if in into is isn it its itself just let ll me more most my myself
        no nor not now of off on once only or other ought our ours ourselves out
        over own re same she should so some such than that the their theirs them
        themselves then there these they this those through to too under until
        up uh um us very was wasn we were weren what when where which while who
        whom why will with won would yeah yes you your yours yourself yourselves
        ve okay ok well also get got going gonna
        """.split()
    ),
}

# French elisions glue a short word to the next one: "l'équipe", "qu'il".
_ELISION = re.compile(r"^(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)
WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
# A sentence ends at . ! ? … (possibly repeated, possibly followed by a
# closing quote or bracket) then whitespace, or at a blank line.
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?:\s*[\"'»”)\]])*\s+|\n\s*\n|\n(?=\s*[-*•])")


def words(text: str) -> list[str]:
    """Lower-cased words, French elisions removed ("l'équipe" -> "équipe")."""
    out = []
    for match in WORD_RE.finditer(text.lower()):
        word = _ELISION.sub("", match.group())
        out.extend(w for w in re.split(r"['’]", word) if w)
    return out


def split_sentences(text: str, *, max_words: int = 40) -> list[str]:
    """Sentences of ``text``; unpunctuated runs are cut every ``max_words``
    words so a transcript without punctuation still yields units."""
    pieces = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
    out: list[str] = []
    for piece in pieces:
        piece = " ".join(piece.split())
        tokens = piece.split(" ")
        if len(tokens) <= max_words * 1.5:
            out.append(piece)
            continue
        for i in range(0, len(tokens), max_words):
            out.append(" ".join(tokens[i : i + max_words]))
    return out


def normalize_language(code: str | None) -> str | None:
    """"fr-FR", "French", "FR" -> "fr"; None or "" -> None."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    names = {"french": "fr", "français": "fr", "francais": "fr", "english": "en"}
    code = names.get(code, code)
    return code.split("-")[0][:3] or None


def detect_language(text: str, default: str = DEFAULT_LANGUAGE) -> str:
    """"fr" or "en" by stopword share; ``default`` when nothing decides."""
    tokens = words(text[:20000])
    if not tokens:
        return default
    scores = {lang: sum(1 for t in tokens if t in stops) for lang, stops in STOPWORDS.items()}
    best = max(scores, key=lambda lang: (scores[lang], lang == default))
    if scores[best] == 0 or sum(1 for s in scores.values() if s == scores[best]) > 1:
        return default
    return best
