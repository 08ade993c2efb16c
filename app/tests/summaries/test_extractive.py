"""The offline summary: only the transcript's own sentences, in its language."""
from __future__ import annotations

from brefboard.summaries import extractive, prompts
from brefboard.summaries.language import detect_language, split_sentences, words

FR = (
    "Bonjour à tous, merci d'être présents pour cette réunion sur le budget du projet Hermès. "
    "Le budget du projet Hermès a dépassé de dix pour cent les prévisions du trimestre. "
    "Marie explique que le dépassement du budget vient des licences logicielles. "
    "Nous avons décidé de renégocier les licences logicielles avec le fournisseur. "
    "Paul doit envoyer le nouveau planning du projet avant le 15 mars. "
    "Il fait beau aujourd'hui. "
    "Le comité valide le recrutement de deux développeurs pour le projet Hermès. "
    "La prochaine réunion aura lieu mardi."
)
EN = (
    "We met to review the launch plan for the mobile app. "
    "The launch plan slips by two weeks because of the payment provider. "
    "The payment provider needs a new contract before the launch. "
    "We agreed to move the launch of the mobile app to June. "
    "Anna will update the launch roadmap by Friday. "
    "Thanks everyone."
)


def test_french_summary_is_made_of_transcript_sentences():
    result = extractive.summarize(FR)
    assert result.language == "fr" and result.method == "extractive"
    sentences = split_sentences(FR)
    picked = split_sentences(result.summary)
    assert 1 <= len(picked) < len(sentences)
    assert all(p in sentences for p in picked)  # nothing invented
    assert picked == [s for s in sentences if s in picked]  # in the meeting's order
    assert "Il fait beau aujourd'hui." not in picked  # off-topic, few content words
    assert any("Hermès" in p for p in picked)


def test_french_structured_cues():
    result = extractive.summarize(FR, "fr")
    assert "Nous avons décidé de renégocier les licences logicielles avec le fournisseur." in result.decisions
    assert "Le comité valide le recrutement de deux développeurs pour le projet Hermès." in result.decisions
    # owner, task and due date, laid out; the sentence itself is in no other section
    assert result.action_items == ["Paul : envoyer le nouveau planning du projet (échéance : avant le 15 mars)"]
    assert result.actions == [{"owner": "Paul", "task": "envoyer le nouveau planning du projet",
                               "due": "avant le 15 mars"}]
    assert not any("Paul" in s for s in split_sentences(result.summary) + result.key_points)


def test_english_summary_and_cues():
    result = extractive.summarize(EN)
    assert result.language == "en"
    assert all(p in split_sentences(EN) for p in split_sentences(result.summary))
    assert result.decisions == ["We agreed to move the launch of the mobile app to June."]
    assert result.action_items == ["Anna: update the launch roadmap (due: by Friday)"]
    assert "June" not in result.summary and "Anna" not in result.summary


def test_titles_follow_the_rules():
    for text in (FR, EN, "mot " * 500, " ".join(["phrase sans ponctuation aucune"] * 80)):
        title = extractive.summarize(text).title
        assert title, text[:40]
        assert len(title.split()) <= prompts.TITLE_MAX_WORDS
        assert title[-1] not in ".!?;:,…"


def test_title_is_the_phrase_the_meeting_repeats():
    assert extractive.summarize(FR).title == "Budget du projet Hermès"
    assert extractive.summarize(EN).title == "Launch plan"
    # nothing repeated: what was decided
    once = "Bonjour. Le comité valide la feuille de route. Merci à tous pour votre travail remarquable cette année."
    assert extractive.summarize(once, "fr").title == "Feuille de route"
    # no decision either: the best short sentence, whole
    plain = "Bonjour à tous. Nous examinons les chiffres et les risques du trimestre. Merci beaucoup, au revoir."
    assert extractive.summarize(plain, "fr").title == "Nous examinons les chiffres et les risques du trimestre"


def test_title_is_the_subject_the_meeting_states():
    text = ("Okay, so today is about the newsletter format, we looked at the two layouts last week, "
            "and we decided to keep the monthly schedule.")
    assert extractive.summarize(text, "en").title == "Newsletter format"
    text = "Bon, alors l'objet de la réunion c'est le budget du projet Hermès, qui a dépassé de dix pour cent."
    assert extractive.summarize(text, "fr").title == "Budget du projet Hermès"


def test_too_short_says_so_in_the_right_language():
    assert extractive.summarize("oui bonjour", "fr").summary == prompts.PROMPTS["fr"].too_short
    assert extractive.summarize("hi there", "en").title == "Transcript too short"
    assert extractive.summarize("", None).summary == prompts.PROMPTS["fr"].too_short  # French default


def test_deterministic():
    assert extractive.summarize(FR) == extractive.summarize(FR)


def test_language_helpers():
    assert detect_language(FR) == "fr" and detect_language(EN) == "en"
    assert detect_language("") == "fr" and detect_language("12 34") == "fr"
    assert words("L'équipe qu'il voit") == ["équipe", "il", "voit"]
    assert len(split_sentences("mot " * 200, max_words=40)) == 5
