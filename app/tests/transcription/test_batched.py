"""The batched pipeline (BREFBOARD_WHISPER_PIPELINE=batched) against the sequential one, real tiny.en.

The speech file has silence before, between and after two passages, so the
speech Whisper is given (joined by the VAD) is on another clock than the
recording: segment times must still be the recording's, in both modes.
"""
import os
import wave

import numpy as np
import pytest
from django.test import override_settings

from brefboard.recordings import jobs
from brefboard.transcription import pipeline
from tests.helpers import ENGLISH_TEXT, words

LEAD, GAP, TAIL = 5.0, 10.0, 3.0  # seconds of silence


@pytest.fixture(scope="module")
def spaced_wav(medium_english_wav, tmp_path_factory):
    speech = pipeline.load_audio(str(medium_english_wav))
    rate = pipeline.SAMPLE_RATE

    def silence(seconds):
        return np.zeros(int(seconds * rate), dtype=np.float32)

    samples = np.concatenate([silence(LEAD), speech, silence(GAP), speech, silence(TAIL)])
    path = tmp_path_factory.mktemp("batched") / "spaced.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path, len(speech) / rate


@pytest.fixture(scope="module")
def runs(spaced_wav):
    """Each mode as a worker builds it from the settings, with the batch sizes CTranslate2 was given."""
    path, _ = spaced_wav
    model = os.environ["BREFBOARD_MODEL"]
    out = {}
    for mode in ("sequential", "batched"):
        with override_settings(BREFBOARD_ENGINE="faster-whisper", BREFBOARD_MODEL=model, BREFBOARD_DEVICE="cpu",
                               BREFBOARD_COMPUTE_TYPE="", BREFBOARD_WHISPER_PIPELINE=mode,
                               BREFBOARD_WHISPER_BATCH_SIZE=8):
            engine = jobs.engine_for_worker()
        wrapped = engine._model.model  # pipeline.DeterministicFallback: every generate() goes through it
        sizes = []
        original = wrapped.generate

        def generate(features, prompts, **kwargs):
            sizes.append(len(prompts))
            return original(features, prompts, **kwargs)

        wrapped.generate = generate
        try:
            fractions = []
            result = engine.transcribe(str(path), language="en", beam_size=1, on_progress=fractions.append)
        finally:
            del wrapped.generate
        out[mode] = (engine, result, sizes, fractions)
    return out


def test_the_setting_reaches_the_engine(runs):
    sequential, batched = runs["sequential"][0], runs["batched"][0]
    assert sequential is not batched  # the mode is part of the engine cache key
    assert (sequential.pipeline_mode, batched.pipeline_mode) == ("sequential", "batched")
    # Sequential decodes one window at a time; batched gave both passages to CTranslate2 at once.
    assert max(runs["sequential"][2]) == 1
    assert max(runs["batched"][2]) >= 2, runs["batched"][2]


def test_batched_gives_the_same_words_at_the_same_times(runs, spaced_wav):
    _, passage = spaced_wav
    second = LEAD + passage + GAP  # where the second passage starts on the recording's clock
    for mode in ("sequential", "batched"):
        result, fractions = runs[mode][1], runs[mode][3]
        said = words(result.text)
        # No sentence lost at a piece's end: three a passage, two passages (tiny.en may mishear one word).
        for word in ("budget", "marketing", "northern"):
            assert said.count(word) >= 5, (mode, word, result.text)
        first = [s for s in result.segments if s.start < second - GAP / 2]
        later = [s for s in result.segments if s.start >= second - GAP / 2]
        assert first and later, (mode, result.segments)
        # Absolute times: after the leading silence, nothing in the gap, the second passage where it is.
        assert first[0].start == pytest.approx(LEAD, abs=1.0), (mode, first[0])
        if mode == "batched":  # a piece ends where its speech ends (sequential may stretch a segment's end)
            assert first[-1].end <= LEAD + passage + 1.0, (mode, first[-1])
        assert later[0].start == pytest.approx(second, abs=1.0), (mode, later[0])
        assert later[-1].end <= second + passage + 1.0
        starts = [s.start for s in result.segments]
        assert starts == sorted(starts)
        assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    # Against what espeak-ng read: batched no worse than sequential (one tiny.en mishearing of slack).
    reference = words(" ".join([ENGLISH_TEXT] * 6))
    wer = {mode: word_errors(reference, words(runs[mode][1].text)) / len(reference) for mode in runs}
    assert wer["batched"] <= wer["sequential"] + 0.05, wer


def word_errors(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


def test_batch_clips_cut_only_between_regions():
    prepared = pipeline.Prepared(100.0, np.zeros(int(70 * pipeline.SAMPLE_RATE), dtype=np.float32),
                                 [(0.0, 2.0, 12.0), (12.0, 20.0, 14.0), (26.0, 50.0, 6.0), (32.0, 60.0, 38.0)])
    clips = pipeline.batch_clips(prepared)
    assert clips[:2] == [{"start": 0.0, "end": 26.0}, {"start": 26.0, "end": 32.0}]
    # A region longer than a window (no VAD split) is cut every 30 s, and nothing is left out.
    assert clips[2:] == [{"start": 32.0, "end": 62.0}, {"start": 62.0, "end": 70.0}]
