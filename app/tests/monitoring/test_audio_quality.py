"""The recording quality score on real decoded speech (espeak-ng, decoded by PyAV),
and on the same speech made noisy, clipped or too quiet."""
from __future__ import annotations

import numpy as np
import pytest

from brefboard.monitoring.audio_quality import measure
from brefboard.monitoring.jobs import transcription_quality
from brefboard.recordings import audio
from brefboard.transcription.base import Segment


@pytest.fixture(scope="module")
def speech(english_webm):
    pcm = audio.decode_mono16k(str(english_webm))
    assert pcm.size > 16000 * 3
    return pcm / max(1e-6, float(np.max(np.abs(pcm)))) * 0.5  # peaks at -6 dBFS


def test_clean_speech_scores_high(speech):
    q = measure(speech)
    assert q.score > 0.8, q
    assert -35 < q.rms_dbfs < -6 and q.clipping_ratio == 0 and q.snr_db > 30


def test_noise_clipping_and_low_level_each_pull_the_score_down(speech):
    clean = measure(speech).score
    rng = np.random.default_rng(0)
    speech_rms = float(np.sqrt(np.mean(speech ** 2)))
    noisy = measure(speech + rng.normal(0, speech_rms / 2, speech.size).astype(np.float32))  # ~6 dB SNR
    clipped = measure(np.clip(speech * 20, -1, 1))
    quiet = measure(speech * 10 ** (-45 / 20))  # 45 dB down: barely audible
    assert noisy.snr_db < 15 and noisy.score < clean / 2, noisy
    assert clipped.clipping_ratio > 0.01 and clipped.score < 0.1, clipped
    assert quiet.rms_dbfs < -50 and quiet.score < 0.3, quiet
    assert measure(np.zeros(16000, dtype=np.float32)).score == 0.0  # silence
    assert measure(np.zeros(10, dtype=np.float32)).score == 0.0  # too short to judge


def test_transcription_quality_from_whisper_numbers():
    sure = [Segment(0, 4, "a", avg_logprob=-0.1, no_speech_prob=0.01)]
    unsure = [Segment(0, 4, "a", avg_logprob=-1.2, no_speech_prob=0.6)]
    assert transcription_quality(sure) == pytest.approx(np.exp(-0.1) * 0.99)
    assert transcription_quality(unsure) < 0.2
    # Duration-weighted: a long good segment outweighs a short bad one.
    mixed = [Segment(0, 9, "a", avg_logprob=-0.1), Segment(9, 10, "b", avg_logprob=-3.0, no_speech_prob=0.9)]
    assert transcription_quality(mixed) > 0.8
    assert transcription_quality([]) is None


def test_file_measured_while_decoding_matches_the_whole_signal(english_webm):
    """The worker measures files frame by frame (constant memory); same numbers as all at once."""
    from brefboard.monitoring.audio_quality import measure_file

    streamed = measure_file(str(english_webm))
    whole = measure(audio.decode_mono16k(str(english_webm)))
    assert streamed.score == pytest.approx(whole.score, abs=0.02)
    assert streamed.rms_dbfs == pytest.approx(whole.rms_dbfs, abs=0.5)
    assert streamed.snr_db == pytest.approx(whole.snr_db, abs=1.0)
