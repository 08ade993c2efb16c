"""The offline summary on scripted meetings (meetings/*.json): Whisper-like
segments with the long comma-joined sentences Whisper writes, and the
decisions and actions a reader must find in the summary.

The thresholds come from measurement (docs/benchmarks.md, "Summaries"): on
these 8 meetings the extractive path finds 12 of 13 decisions and 18 of 18
actions with owner and due date; the extractive summary before units and cues
(commit 5a094c9) found 10/13 and 4/18 and put the same text in two sections
in every meeting. Each threshold allows one more miss than measured, no more.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from brefboard.summaries import evaluate, extractive, units
from brefboard.summaries.generate import generate_summary

MEETINGS = Path(__file__).parent / "meetings"
MIN_DECISION_RECALL = 0.85  # measured 0.92 (12/13); 11/13 = 0.846 fails
MIN_ACTION_RECALL = 0.90  # measured 1.00 (18/18); 16/18 = 0.889 fails


def offline(transcript, language, segments):
    return generate_summary(transcript, language=language, client=None, segments=segments)


@pytest.fixture(scope="module")
def meetings():
    return evaluate.load_meetings(MEETINGS)


def test_the_set_is_at_least_six_meetings_in_both_languages(meetings):
    languages = [m.language for m in meetings]
    assert languages.count("fr") >= 3 and languages.count("en") >= 3
    for m in meetings:
        # Whisper-like: few segments, long comma-joined runs
        assert max(len(s["text"].split()) for s in m.segments) >= 15, m.name
        assert all(s["end"] > s["start"] for s in m.segments), m.name


def test_recall_of_decisions_and_actions(meetings):
    results, decisions, actions = evaluate.score(meetings, offline)
    print(evaluate.report(results, decisions, actions))  # shown with -s, and on failure
    assert decisions.recall >= MIN_DECISION_RECALL, evaluate.report(results, decisions, actions)
    assert actions.recall >= MIN_ACTION_RECALL, evaluate.report(results, decisions, actions)


def test_no_text_in_two_sections(meetings):
    results, _, _ = evaluate.score(meetings, offline)
    assert [(r.name, r.overlap) for r in results if r.overlap] == []


def test_the_issues_meeting():
    """The 21-second meeting of the issue: summary, decision and actions differ."""
    meeting = evaluate.load_meeting(MEETINGS / "en_newsletter.json")
    result = offline(meeting.transcript, "en", meeting.segments)
    assert result.method == "extractive"
    assert result.decisions == ["We decided to keep the monthly schedule."]
    assert result.action_items == [
        "Maria: draft two options (due: by Friday)",
        "Tom: collect feedback from the sales team (due: before the next meeting)",
    ]
    assert result.summary == "Today is about the newsletter format. We looked at the two layouts last week."
    assert result.title == "Newsletter format"
    # the same without the segments (an edited transcript): punctuation alone
    assert offline(meeting.transcript, "en", None).action_items == result.action_items


def test_only_decisions_and_actions_still_give_a_summary():
    text = "We agreed to move the launch to June, and Anna will update the roadmap by Wednesday."
    result = extractive.summarize(text, "en")
    assert result.summary == "1 decision and 1 action item noted; see below."
    assert result.decisions == ["We agreed to move the launch to June."]
    assert result.action_items == ["Anna: update the roadmap (due: by Wednesday)"]


def test_a_long_pause_between_segments_ends_a_unit():
    segments = [{"start": 0.0, "end": 4.0, "text": "we looked at the budget of the project"},
                {"start": 7.5, "end": 11.0, "text": "Paul will send the new planning by Friday"}]
    found = units.classify("", "en", segments)
    assert found.units == ["We looked at the budget of the project.", "Paul will send the new planning by Friday."]
    assert found.actions[1].owner == "Paul" and found.actions[1].due == "by Friday"
    close = [dict(segments[0]), dict(segments[1], start=4.2)]  # no pause: one clause
    assert len(units.classify("", "en", close).units) == 1


@pytest.mark.parametrize("language,text,owner,due", [
    ("fr", "Karim doit mettre à jour le planning d'ici lundi.", "Karim", "d'ici lundi"),
    ("fr", "Léa se charge de rédiger la procédure pour le 10 décembre.", "Léa", "pour le 10 décembre"),
    ("fr", "Sophie enverra le planning avant la fin du mois.", "Sophie", "avant la fin du mois"),
    ("fr", "Claire, tu peux vérifier les droits d'ici la semaine prochaine ?", "Claire", "d'ici la semaine prochaine"),
    ("fr", "Je vais relancer le fournisseur demain.", "", "demain"),
    ("en", "Raj is going to call the provider tomorrow morning.", "Raj", "tomorrow morning"),
    ("en", "Anna, can you update the roadmap by Wednesday?", "Anna", "by Wednesday"),
    ("en", "Mark needs to renegotiate the contract before March 31st.", "Mark", "before March 31st"),
    ("en", "I'll send the minutes by end of day.", "", "by end of day"),
])
def test_action_cues(language, text, owner, due):
    action = units.find_action(text, language)
    assert action is not None, text
    assert (action.owner, action.due) == (owner, due)


@pytest.mark.parametrize("language,text", [
    ("en", "The launch will slip."),  # a thing, not a person
    ("en", "We looked at the numbers, and budget will grow next year."),  # not "Budget", a person
    ("en", "I think that's everything."),
    ("fr", "Je crois qu'on a fait le tour."),
    ("fr", "La réunion a duré une heure."),
])
def test_not_actions(language, text):
    assert not units.classify(text, language).actions


@pytest.mark.parametrize("language,text,decision", [
    ("fr", "Nous avons décidé de renégocier les licences.", True),
    ("fr", "On a aussi décidé de reporter le recrutement.", True),
    ("fr", "Il a été décidé que l'astreinte passera à deux personnes.", True),
    ("fr", "On part sur la maquette de l'agence.", True),
    ("fr", "On a regardé les trois maquettes.", False),
    ("en", "We've agreed to move the whole team on April 12th.", True),
    ("en", "The decision is to keep the current provider.", True),
    ("en", "We looked at the two layouts last week.", False),
])
def test_decision_cues(language, text, decision):
    assert bool(units.classify(text, language).decisions) is decision


def test_bad_meeting_files_are_refused_clearly(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"language": "fr", "segments": [{"start": 0, "text": "x"}],
                               "decisions": [{"keywords": ["x"]}]}))
    with pytest.raises(evaluate.MeetingError, match="start, end, text"):
        evaluate.load_meeting(bad)
    bad.write_text(json.dumps({"language": "fr", "segments": [{"start": 0, "end": 1, "text": "x"}],
                               "actions": [{"owner": "Paul"}]}))
    with pytest.raises(evaluate.MeetingError, match="keywords"):
        evaluate.load_meeting(bad)
    with pytest.raises(evaluate.MeetingError, match="no meeting"):
        evaluate.load_meetings(tmp_path / "empty")


def test_the_scorer_counts_misses_and_needs_owner_and_date():
    expected = [{"owner": "Maria", "due": "Friday", "keywords": ["draft"]}]
    assert evaluate.match_section(expected, ["Maria: draft two options (due: by Friday)"]).found == 1
    assert evaluate.match_section(expected, ["Maria: draft two options"]).found == 0  # no date
    assert evaluate.match_section(expected, ["Tom: draft two options (due: by Friday)"]).found == 0
    accents = [{"owner": "Léa", "due": "10 décembre", "keywords": ["procédure"]}]
    assert evaluate.match_section(accents, ["Lea : rediger la procedure (echeance : pour le 10 decembre)"]).found == 1


@pytest.mark.parametrize("language,text,decision,action", [
    # Whisper without the comma before "and"/"et": the new owner still starts a clause
    ("en", "Today is about the customer newsletter. After some discussion we decided to keep the monthly "
           "schedule and Peter will send the first draft by Friday.",
     "After some discussion we decided to keep the monthly schedule.", "Peter: send the first draft (due: by Friday)"),
    ("fr", "Aujourd'hui on parle de la lettre d'information. Après discussion, nous avons décidé de garder le "
           "rythme mensuel et Pierre enverra le premier brouillon d'ici vendredi.",
     "Après discussion, nous avons décidé de garder le rythme mensuel.",
     "Pierre : enverra le premier brouillon (échéance : d'ici vendredi)"),
])
def test_the_acceptance_meeting(language, text, decision, action):
    """What acceptance/test_07_offline_summary.py speaks, as Whisper may write it."""
    result = extractive.summarize(text, language)
    assert result.decisions == [decision]  # the opening phrase stays with its clause
    assert result.action_items == [action]
    assert decision not in result.summary and "Pierre" not in result.summary and "Peter" not in result.summary


def test_the_eval_script(capsys, monkeypatch):
    """bench/summaries_eval.py: the offline path passes the test's thresholds; --llm
    without an endpoint is a clear error, not the offline numbers."""
    import importlib.util

    path = Path(__file__).resolve().parents[3] / "bench" / "summaries_eval.py"
    spec = importlib.util.spec_from_file_location("summaries_eval", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--min-decisions", str(MIN_DECISION_RECALL), "--min-actions", str(MIN_ACTION_RECALL)]) == 0
    assert "recall: decisions" in capsys.readouterr().out
    assert script.main(["--min-actions", "1.01"]) == 1
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    assert script.main(["--llm"]) == 2
    assert "--llm needs LLM_BASE_URL" in capsys.readouterr().err


def test_the_same_meetings_score_the_llm_path(fake_llm, llm_config, meetings):
    """The LLM path through the real client: a model that answers each meeting's
    items (as objects with task, owner, due, as models do) scores 1.0; the
    default fake, which answers "Décision B", scores 0. The scorer reads the
    LLM's items as it reads the extractive ones."""
    from brefboard.summaries.llm import ChatClient

    by_text = {m.transcript: m for m in meetings}

    def perfect(req):
        system = req.system.lower()
        if "json" not in system:
            return "Titre" if "mots" in system or "words" in system else "Résumé."
        meeting = next(m for t, m in by_text.items() if t in req.user)
        return json.dumps({
            "key_points": [],
            "decisions": [" ".join(d["keywords"]) for d in meeting.decisions],
            "action_items": [{"task": " ".join(a["keywords"]), "owner": a.get("owner") or "", "due": a["due"]}
                             for a in meeting.actions],
        })

    with ChatClient(llm_config()) as client:
        def llm(transcript, language, segments):
            return generate_summary(transcript, language=language, client=client, segments=segments)

        fake_llm.responder = perfect
        _, decisions, actions = evaluate.score(meetings, llm)
        assert (decisions.recall, actions.recall) == (1.0, 1.0)
        from .fake_openai import default_responder
        fake_llm.responder = default_responder
        _, decisions, actions = evaluate.score(meetings, llm)
        assert (decisions.found, actions.found) == (0, 0)


def test_llm_key_points_do_not_repeat_its_decisions(fake_llm, llm_config):
    from brefboard.summaries.llm import ChatClient

    def answer(req):
        if "json" in req.system.lower():
            return json.dumps({"key_points": ["Launch moves to June.", "The provider is late."],
                               "decisions": ["Launch moves to June."], "action_items": []})
        return "Summary."

    fake_llm.responder = answer
    text = "We met about the launch of the mobile app. The provider is late, so we agreed to move the launch to June."
    with ChatClient(llm_config()) as client:
        result = generate_summary(text, language="en", client=client)
    assert result.decisions == ["Launch moves to June."]
    assert result.key_points == ["The provider is late."]


def test_a_sentence_said_twice_is_listed_once():
    # Whisper's repetition loop on a noisy stretch
    text = ("We reviewed the budget of the project. Paul will send the report by Monday. "
            "Paul will send the report by Monday. Paul will send the report by Monday.")
    result = extractive.summarize(text, "en")
    assert result.action_items == ["Paul: send the report (due: by Monday)"]


def test_short_words_only_still_give_a_summary_from_the_transcript():
    result = extractive.summarize("ok on y va là on a vu ça et on a eu un peu de bol", "fr")
    assert result.summary and result.summary.rstrip(".").lower() in "ok on y va là on a vu ça et on a eu un peu de bol"


@pytest.mark.skipif(not os.environ.get("LLM_BASE_URL"), reason="no LLM endpoint configured (LLM_BASE_URL, LLM_MODEL…)")
def test_llm_recall_when_an_endpoint_is_configured(meetings):
    """With LLM_BASE_URL (and LLM_MODEL…) in the environment, the configured model
    must find at least what the offline path finds. testbed/llm-server.py fails
    this on purpose: its answers are canned, it is no model."""
    from brefboard.summaries.llm import ChatClient, LLMConfig

    with ChatClient(LLMConfig.from_env()) as client:
        results, decisions, actions = evaluate.score(
            meetings, lambda t, lang, s: generate_summary(t, language=lang, client=client, segments=s))
    print(evaluate.report(results, decisions, actions))
    assert decisions.recall >= MIN_DECISION_RECALL, evaluate.report(results, decisions, actions)
    assert actions.recall >= MIN_ACTION_RECALL, evaluate.report(results, decisions, actions)


def test_segments_of_another_text_are_ignored():
    """An edited transcript no longer matches its segments: the text wins."""
    segments = [{"start": 0.0, "end": 4.0, "text": "we looked at the budget of the project"},
                {"start": 7.5, "end": 11.0, "text": "Paul will send the new planning by Friday"}]
    edited = "We looked at the budget of the project and Marie will send the new planning by Monday."
    found = units.classify(edited, "en", segments)
    assert [a.owner for a in found.actions.values()] == ["Marie"]
