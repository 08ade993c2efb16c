"""The suite's own checks can fail: fed what they must catch, they catch it.

Against the real site and this Chromium (a visitor, nothing is written): a
console error and a 404 that the page itself makes are seen by the per-test
log check, a declared one is not; the subtitle parser refuses broken files;
the transcript matcher refuses the wrong meeting.
"""
import pytest

from support import speech
from support.subtitles import parse_cues


@pytest.fixture(scope="module")
def browser(make_browser):
    return make_browser("selfcheck")


def test_console_errors_and_failed_requests_are_caught(browser):
    b = browser
    b.go("/login/")
    b.take_problems()  # the page as it is is judged by the other tests
    b.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        console.error('acceptance self-check: a console error');
        fetch('/acceptance-self-check-missing/').then(() => done(), () => done());""")
    problems = b.take_problems()
    assert any("acceptance self-check: a console error" in p for p in problems), problems
    assert any("HTTP 404" in p and "/acceptance-self-check-missing/" in p for p in problems), problems


def test_a_declared_failure_is_not_a_problem(browser):
    b = browser
    b.expect_response(r"^/acceptance-self-check-declared/$", {404}, "this self-check asks for a page that is not there")
    b.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/acceptance-self-check-declared/').then(() => done(), () => done());""")
    problems = b.take_problems()
    assert not [p for p in problems if "acceptance-self-check-declared" in p], problems


BROKEN = [
    ("srt", "1\n00:00:00,000 --> 00:00:02,500\nHello\n\n3\n00:00:03,000 --> 00:00:04,000\nthere\n", "numbered"),
    ("srt", "1\n00:00:00.000 --> 00:00:02.500\nHello\n", "bad timing"),
    ("srt", "1\n00:00:05,000 --> 00:00:02,500\nHello\n", "ends before"),
    ("srt", "1\n00:00:00,000 --> 00:00:02,500\n\n", "has no text"),
    ("srt", "\n\n", "no cue"),
    ("vtt", "00:00.000 --> 00:02.000\nHello\n", "WEBVTT"),
    ("vtt", "WEBVTT\n\n00:00:04.000 --> 00:00:05.000\nb\n\n00:00:01.000 --> 00:00:02.000\na\n", "time order"),
]


@pytest.mark.parametrize("fmt, body, wanted", BROKEN, ids=[f"{f}-{w.replace(' ', '-')}" for f, _, w in BROKEN])
def test_the_subtitle_parser_refuses_broken_files(fmt, body, wanted):
    with pytest.raises(AssertionError, match=wanted):
        parse_cues(body, fmt)


def test_the_subtitle_parser_reads_good_files():
    assert parse_cues("1\n00:00:00,000 --> 00:00:02,500\nHello\nthere\n\n2\n00:00:02,500 --> 00:01:00,000\nyou\n",
                      "srt") == [(0.0, 2.5, "Hello there"), (2.5, 60.0, "you")]
    assert parse_cues("WEBVTT\n\n1\n00:01.000 --> 00:02.000\nHi\n", "vtt") == [(1.0, 2.0, "Hi")]


def test_the_transcript_matcher_refuses_another_meeting():
    en = speech.PASSAGES["en"]
    with pytest.raises(AssertionError, match="expected words"):
        speech.check_transcript(en["upload"], en["mic"].text, "self-check")
    assert speech.check_transcript(en["upload"], en["upload"].text.upper(), "self-check")
