"""Sentence units of a spoken transcript, and the decisions and actions in them.

Whisper writes long comma-joined sentences ("…, and we agreed that Maria will
draft two options by Friday, and Tom will collect feedback…"); taken as one
sentence, such a run is the whole meeting, and the offline summary, its key
points and its decisions all become the same text. So a *unit* here is a
clause: sentences are cut at their final punctuation, at a pause between
Whisper segments, and then at the commas (or "and"/"et") where a new clause
starts: a conjunction or discourse marker, a decision cue, or a person
followed by what they will do.

Each unit is then classified, once: an *action* (someone, or "I", will do
something, or something is to be done by a date), a *decision* ("we agreed",
"nous avons décidé", "on part sur"…), or context. An action keeps its owner
and due date; a unit is never in two classes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .language import STOPWORDS, split_sentences

# A pause this long between two Whisper segments ends a unit even without punctuation.
PAUSE_SECONDS = 1.5
MIN_UNIT_WORDS = 3
MAX_UNIT_WORDS = 40

_UP = "A-ZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸ"
_LOW = "a-zàâäçéèêëîïôöùûüÿœæ"
NAME = rf"[{_UP}][{_LOW}]+(?:[-\s][{_UP}][{_LOW}]+)?"

_FILLERS = {
    "en": r"(?:and|so|then|but|also|okay|ok|alright|all right|well|um|uh|right|now)",
    "fr": r"(?:et|donc|puis|alors|bon|ben|euh|voilà|bref|ensuite|aussi|ok|okay|enfin)",
}
# Words that start a new clause after a comma.
_CLAUSE_START = {
    "en": r"(?:and|so|then|but|also|okay|ok|alright|plus|meanwhile|"
          r"I|I'll|I'm|we|we'll|we're|let's|the decision|it was)",
    "fr": r"(?:et|donc|puis|alors|mais|par contre|ensuite|bon|euh|voilà|"
          r"je|moi je|nous|on|il a été|c'est|ce qui)",
}
# "After some discussion, we decided…": a short opening phrase belongs to the clause after it.
_INTRO = {
    "en": re.compile(r"^(?:after|following|before|during|finally|in the end|at the end|for now|"
                     r"in short|as agreed|as discussed)\b", re.I),
    "fr": re.compile(r"^(?:après|suite à|à la suite|avant|pendant|finalement|enfin|au final|à la fin|"
                     r"pour l'instant|en résumé|comme convenu|comme prévu)\b", re.I),
}
MAX_INTRO_WORDS = 5

_DAYS = {
    "en": r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)",
    "fr": r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)",
}
_MONTHS = {
    "en": r"(?:january|february|march|april|may|june|july|august|september|october|november|december)",
    "fr": r"(?:janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre)",
}
_DUE = {
    "en": re.compile(
        rf"\b(?:(?:by|before|until|no later than|on|for)\s+)?(?:"
        rf"(?:the\s+)?end of (?:the\s+)?(?:day|week|month|quarter|year|sprint)|end of day|EOD|"
        rf"(?:next|this)\s+(?:week|month|{_DAYS['en']})|{_DAYS['en']}(?:\s+morning|\s+afternoon)?|"
        rf"tomorrow(?:\s+morning|\s+afternoon|\s+evening)?|tonight|today|"
        rf"the next meeting|next meeting|"
        rf"{_MONTHS['en']}\s+\d{{1,2}}(?:st|nd|rd|th)?|(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS['en']}"
        rf")\b",
        re.I,
    ),
    "fr": re.compile(
        rf"(?:\b(?:d'ici|avant|pour|jusqu'à|au plus tard|dès)\s+)?(?:"
        rf"(?:la\s+|le\s+)?fin (?:du mois|de la semaine|de semaine|de l'année|d'année|de la journée|"
        rf"du trimestre|(?:de\s+)?{_MONTHS['fr']})|"
        rf"(?:la\s+)?semaine prochaine|le mois prochain|(?:la\s+)?prochaine réunion|"
        rf"{_DAYS['fr']}(?:\s+prochain|\s+matin|\s+soir)?|demain(?:\s+matin|\s+soir)?|ce soir|"
        rf"(?:le\s+)?\d{{1,2}}(?:er)?\s+{_MONTHS['fr']}"
        rf")\b",
        re.I,
    ),
}

# "someone will do": the owner (group 1), then the modal, then the task.
_OWNER_ACTION = {
    "en": [
        re.compile(rf"\b({NAME}),\s+(?:can|could|would|will)\s+you\s+(?:please\s+)?", re.U),
        re.compile(rf"\b({NAME})\s+(?:will|'ll|is going to|is gonna|needs to|need to|has to|must|"
                   r"should|is to|agreed to|offered to|volunteered to|promised to|can|"
                   r"takes care of|is in charge of|is responsible for)\s+", re.U),
        re.compile(r"\b(I)\s*(?:will|'ll|am going to|'m going to|am gonna|need to|have to|must|"
                   r"can|shall|take care of)\s+", re.U),
    ],
    "fr": [
        re.compile(rf"\b({NAME}),\s+(?:est-ce que\s+)?(?:tu peux|tu pourrais|peux-tu|pourrais-tu|"
                   r"vous pouvez|pouvez-vous|tu veux bien|tu t'occupes de|tu te charges de)\s+", re.U),
        re.compile(rf"\b({NAME})\s+(?:va|doit|devra|devrait|s'occupe d[e']|s'occupera d[e']|"
                   r"se charge d[e']|se chargera d[e']|s'engage à|est chargée? d[e']|"
                   r"a accepté d[e']|propose d[e'])\s*", re.U),
        re.compile(rf"\b({NAME})\s+(?=[{_LOW}]+(?:era|ira|dra|ra)\b)", re.U),
        re.compile(r"\b((?:moi\s+)?je)\s+(?:vais|dois|m'occupe d[e']|me charge d[e']|"
                   r"m'engage à|(?=[a-zéèêàç]+(?:e|s)\b))\s*", re.U | re.I),
    ],
}
# "to be done" with no one named: counts as an action only with a due date.
_IMPERSONAL_ACTION = {
    "en": re.compile(r"\b(?:we need to|we have to|we must|we should|someone (?:needs|has) to|"
                     r"action item|to do|next step)\b", re.I),
    "fr": re.compile(r"\b(?:il faut|faut|on doit|nous devons|il faudra|on va|à faire|prochaine étape)\b", re.I),
}

_DECISION = {
    "en": re.compile(
        r"\b(?:(?:we|they|the (?:team|committee|board|group))(?:'ve)?\s+(?:have\s+|has\s+|also\s+|all\s+|finally\s+)*"
        r"(?:decided|agreed|approved|chose|settled on|concluded|signed off|voted)|"
        r"it (?:was|is|has been) (?:decided|agreed|approved)|the decision (?:is|was)|decision:|"
        r"we(?:'re| are) going (?:with|to go with)|let's go with|we(?:'ll| will) go with|"
        r"approved|signed off|green light)\b",
        re.I,
    ),
    "fr": re.compile(
        r"(?:\b(?:nous avons|on a|j'ai|ils ont|le comité a|l'équipe a|la direction a)\s+"
        r"(?:aussi\s+|également\s+|donc\s+|finalement\s+|bien\s+|tous\s+)*"
        r"(?:décidé|convenu|validé|retenu|choisi|tranché|acté|approuvé|adopté)|"
        r"\bil (?:a été|est) (?:décidé|convenu|acté|validé)|\bc'est (?:validé|décidé|acté)|"
        r"\bla décision (?:est|a été)|\bdécision\s*:|\bon part sur|\bon (?:garde|conserve|valide|retient|maintient)|"
        r"\bnous (?:validons|retenons|gardons|conservons|maintenons)|\bd'accord pour|"
        r"\b(?:le comité|la direction|l'équipe)\s+(?:valide|approuve|adopte|décide))",
        re.I,
    ),
}
# A clause continuing a decision in the same sentence ("…, but we'll cap the spend").
_DECISION_CONTINUES = {
    "en": re.compile(r"^(?:but|and|also|so)\s+(?:also\s+)?we(?:'ll| will| also)\b", re.I),
    "fr": re.compile(r"^(?:mais|et|donc)\s+(?:on va|nous allons|on)\b", re.I),
}


def lang_key(language: str | None) -> str:
    return "fr" if language == "fr" else "en"


@dataclass
class Action:
    text: str  # the unit, as said
    task: str
    owner: str = ""  # "" when no one is named ("I", "je", impersonal)
    due: str = ""

    def line(self, language: str) -> str:
        """How an action item is stored and shown: owner, task, due date."""
        fr = language == "fr"
        task = self.task[:1].upper() + self.task[1:] if not self.owner else self.task
        text = f"{self.owner} : {task}" if self.owner and fr else f"{self.owner}: {task}" if self.owner else task
        if self.due:
            text += f" (échéance : {self.due})" if fr else f" (due: {self.due})"
        return text


@dataclass
class Units:
    units: list[str] = field(default_factory=list)
    decisions: list[int] = field(default_factory=list)  # indexes into units
    actions: dict[int, Action] = field(default_factory=dict)

    @property
    def context(self) -> list[int]:
        taken = set(self.decisions) | set(self.actions)
        return [i for i in range(len(self.units)) if i not in taken]


def _segment_text(segments) -> str:
    """Join Whisper segments; a long pause ends a sentence."""
    parts: list[str] = []
    last_end = None
    for seg in segments:
        if isinstance(seg, dict):
            start, end, text = seg.get("start"), seg.get("end"), seg.get("text", "")
        else:
            start, end, text = getattr(seg, "start", None), getattr(seg, "end", None), getattr(seg, "text", "")
        text = " ".join(str(text or "").split())
        if not text:
            continue
        if (parts and last_end is not None and start is not None and start - last_end >= PAUSE_SECONDS
                and not re.search(r"[.!?…]$", parts[-1])):
            parts[-1] = parts[-1].rstrip(",;:") + "."
        parts.append(text)
        last_end = end
    return " ".join(parts)


_HESITATION = re.compile(r"(?i)\b(?:euh+|heu+|uh+|um+|hmm+)\b,?\s*")


def _clean(unit: str, key: str) -> str:
    unit = _HESITATION.sub("", unit)
    filler = _FILLERS[key]
    while True:
        stripped = re.sub(rf"(?i)^{filler}\b[\s,]*", "", unit).strip()
        if not stripped:
            return ""  # nothing but fillers
        if stripped == unit:
            break
        unit = stripped
    unit = unit.strip(" ,;:-")
    if not unit:
        return ""
    unit = unit[:1].upper() + unit[1:]
    if not re.search(r"[.!?…]$", unit):
        unit += "."
    return unit


def _starts_clause(fragment: str, key: str) -> bool:
    f = fragment.strip()
    if re.match(rf"(?i){_CLAUSE_START[key]}\b", f):
        return True
    if _DECISION[key].match(f) or re.fullmatch(NAME, f):  # a decision, or "Anna, can you…"
        return True
    return any(p.match(f) for p in _OWNER_ACTION[key][:-1])  # a person and what they will do


@dataclass
class Unit:
    text: str  # cleaned: fillers out, capitalised, final punctuation
    raw: str  # as said, for the cues that need the conjunction ("but we'll…")
    sentence: int  # index of the sentence it was cut from


def split_units(text: str, language: str | None = None, segments=None) -> list[Unit]:
    """Clause-sized units of a transcript (see the module's docstring)."""
    key = lang_key(language)
    if segments:
        timed = _segment_text(segments)
        # the segments' pauses, when they are the same words as the text (not an edited transcript)
        if timed and (not text or re.sub(r"[\W_]+", "", timed) == re.sub(r"[\W_]+", "", text)):
            text = timed
    out: list[Unit] = []
    new_owner = re.compile(
        rf"\s+(?=(?:and|et)\s+{NAME}\s+(?:will|'ll|is going|needs|has to|va|doit|devra|se charge|s'occupe|[{_LOW}]+ra\b))")
    for s_index, sentence in enumerate(split_sentences(text or "", max_words=10**9)):
        fragments: list[str] = []
        for frag in re.split(r"\s*[,;]\s+", sentence):
            fragments.extend(f for f in new_owner.split(frag) if f.strip())
        groups: list[list[str]] = []
        for frag in fragments:
            frag = frag.strip()
            if not groups:
                groups.append([frag])
            elif _starts_clause(frag, key):
                intro = (len(groups[-1]) == 1 and _INTRO[key].match(groups[-1][0])
                         and len(groups[-1][0].split()) <= MAX_INTRO_WORDS)
                if intro:
                    groups[-1].append(frag)
                elif len(" ".join(groups[-1]).split()) >= MIN_UNIT_WORDS:
                    groups.append([frag])
                elif not _clean(", ".join(groups[-1]), key):
                    groups[-1].append(frag)  # "okay, so we…": fillers lead into the clause after
                elif len(groups) > 1:
                    groups[-2].extend(groups.pop())  # "…, c'est validé, Julien…": joins the clause before
                    groups.append([frag])
                else:
                    groups[-1].append(frag)  # "Oui, je m'en charge"
            else:
                groups[-1].append(frag)
        pieces: list[str] = []
        for group in groups:
            tokens = ", ".join(group).split(" ")
            # a clause with no comma in sight (no punctuation at all): cut every MAX_UNIT_WORDS
            for i in range(0, len(tokens), MAX_UNIT_WORDS):
                pieces.append(" ".join(tokens[i : i + MAX_UNIT_WORDS]))
        for raw in pieces:
            cleaned = _clean(raw, key)
            if not cleaned:
                continue
            if len(cleaned.split()) < MIN_UNIT_WORDS and out and out[-1].sentence == s_index:
                prev = out[-1]
                prev.text = prev.text.rstrip(".") + ", " + cleaned[:1].lower() + cleaned[1:]
                prev.raw = prev.raw + ", " + raw
                continue
            out.append(Unit(cleaned, raw, s_index))
    return out


def find_due(unit: str, language: str | None) -> str:
    match = _DUE[lang_key(language)].search(unit)
    return match.group(0).strip() if match else ""


def find_action(unit: str, language: str | None) -> Action | None:
    key = lang_key(language)
    due = find_due(unit, key)
    stops = STOPWORDS[key]
    for pattern in _OWNER_ACTION[key]:
        match = pattern.search(unit)
        if not match:
            continue
        owner = match.group(1)
        if owner.lower() in stops and owner.lower() not in ("i", "je", "moi je"):
            continue  # "The launch will slip": not a person
        if owner.lower() in ("i", "je", "moi je"):
            if not due and pattern is _OWNER_ACTION[key][-1] and not re.search(r"will|'ll|going|vais|dois|charge|occupe", match.group(0), re.I):
                continue  # "je crois que…": a first-person present without a date is no commitment
            owner = ""
        task = unit[match.end():] if match.end() < len(unit) else unit
        task = _strip_due(task, due).strip(" ,.;:?!")
        if len(task.split()) < 1:
            continue
        return Action(text=unit, task=task, owner=owner, due=due)
    if due and _IMPERSONAL_ACTION[key].search(unit):
        task = _strip_due(unit[_IMPERSONAL_ACTION[key].search(unit).end():], due).strip(" ,.;:?!")
        return Action(text=unit, task=task or unit.rstrip("."), owner="", due=due)
    return None


def _strip_due(task: str, due: str) -> str:
    if not due:
        return task
    i = task.lower().rfind(due.lower())
    if i < 0:
        return task
    return re.sub(r"\s+([,.;:?!])", r"\1", " ".join((task[:i] + task[i + len(due):]).split()))


def classify(text: str, language: str | None = None, segments=None) -> Units:
    key = lang_key(language)
    units, seen = [], set()
    for unit in split_units(text, key, segments):
        norm = " ".join(unit.text.lower().split()).rstrip(".!?…")
        if norm not in seen:  # Whisper's repetition loops, a sentence said twice: once is enough
            seen.add(norm)
            units.append(unit)
    result = Units(units=[u.text for u in units])
    for i, unit in enumerate(units):
        # the words as said: cleaning capitalises the first one, which would make
        # "and budget will grow" look like a person named Budget
        said = " ".join(_HESITATION.sub("", unit.raw).split()).strip(" ,;:")
        action = find_action(said, key)
        if action is not None:
            result.actions[i] = action
            continue
        continues = (result.decisions and result.decisions[-1] == i - 1
                     and units[i - 1].sentence == unit.sentence
                     and _DECISION_CONTINUES[key].match(unit.raw))
        if _DECISION[key].search(unit.text) or continues:
            result.decisions.append(i)
    return result
