"""Scripted conversations with known turns (espeak-ng voices), and the diarization error rate.

Shared by the app's diarization tests and bench/diarization.py. Each turn is
synthesised alone, its leading and trailing silence cut, and the turns are
joined with pauses, so the reference (who speaks from when to when) is exact.
espeak-ng's voices differ in pitch and formants (``en-us``, ``en+f3``, ``fr``…),
which is what a voice encoder hears; they are not human voices, and that is said
wherever a number measured on them is reported.
"""
from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE = 16_000

TWO_VOICES = [
    ("en-us", "Good morning everyone, let us start with the budget for the next quarter."),
    ("en+f3", "Thank you. The marketing team needs more money for the spring campaign."),
    ("en-us", "How much more do you need compared with last year?"),
    ("en+f3", "About twenty percent more, mostly for online advertising and two new videos."),
    ("en-us", "That seems reasonable. Can you send me the detailed figures before Friday?"),
    ("en+f3", "Yes, I will send the spreadsheet tomorrow morning with the sales forecast."),
    ("en-us", "Good. Then we agree to approve the increase if the numbers hold."),
    ("en+f3", "Perfect. I will also invite the designers to the next meeting."),
]

THREE_VOICES = [
    ("en-us", "Let us review the launch plan for the new product this morning."),
    ("en+f3", "The factory can deliver the first units at the end of March."),
    ("fr+f2", "Le service commercial est prêt, mais il nous faut les brochures imprimées."),
    ("en-us", "Who is in charge of printing the brochures this time?"),
    ("en+f3", "I can handle it, the printer needs the final files two weeks ahead."),
    ("fr+f2", "Très bien, je vous envoie les textes corrigés avant la fin de la semaine."),
    ("en-us", "So we decide to launch on the first of April, with brochures ready."),
    ("en+f3", "Agreed. I will confirm the delivery date with the factory today."),
    ("fr+f2", "Et je prépare la présentation pour les clients principaux."),
]

# The same with espeak-ng's male French voice: to this encoder it sounds like en-us (cosine
# 0.8, the same-speaker range), so it is reported, not held to a target (docs/benchmarks.md).
THREE_VOICES_FR = [("fr" if v == "fr+f2" else v, t) for v, t in THREE_VOICES]


def _say(voice: str, text: str, path: Path, speed: int = 155) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is missing (scripts/test-app.sh installs it)")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    raw = path.with_suffix(".16k.wav")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(path), "-ac", "1", "-ar", str(RATE),
                    str(raw)], check=True)
    with wave.open(str(raw)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    loud = np.flatnonzero(np.abs(pcm) > 0.01)
    return pcm[loud[0]:loud[-1] + 1] if len(loud) else pcm


def conversation(script, path: Path, pauses=(0.7, 0.4, 1.0, 0.5)) -> list[tuple[float, float, str]]:
    """Write the conversation to ``path`` (16 kHz mono 16-bit WAV); returns the reference turns
    (start, end, speaker) in seconds. Speakers are named by their voice."""
    pieces, turns, t = [np.zeros(int(0.5 * RATE), np.float32)], [], 0.5
    with tempfile.TemporaryDirectory() as tmp:
        for i, (voice, text) in enumerate(script):
            speech = _say(voice, text, Path(tmp) / f"turn{i}.wav")
            turns.append((round(t, 3), round(t + len(speech) / RATE, 3), voice))
            gap = pauses[i % len(pauses)]
            pieces += [speech, np.zeros(int(gap * RATE), np.float32)]
            t += len(speech) / RATE + gap
    pcm = np.concatenate(pieces)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(pcm, -1, 1) * 32767).astype(np.int16).tobytes())
    return turns


def der(reference, hypothesis, collar: float = 0.25, step: float = 0.01) -> dict:
    """Diarization error rate: (missed speech + false alarm + speaker confusion) / reference speech.

    ``reference``, ``hypothesis``: (start, end, speaker) turns without overlap. Scored every
    ``step`` seconds; ``collar`` seconds either side of every reference boundary are not
    scored (the usual 0.25 s: a boundary cannot be placed closer than that by ear). The
    hypothesis' speakers are mapped onto the reference's by the mapping that maximises
    agreement (every permutation: a handful of speakers)."""
    end = max([e for _, e, _ in reference] + [e for _, e, _ in hypothesis] + [0.0])
    n = int(np.ceil(end / step)) + 1
    times = (np.arange(n) + 0.5) * step
    ref_names = sorted({s for *_, s in reference}, key=str)
    hyp_names = sorted({s for *_, s in hypothesis}, key=str)
    ref = np.full(n, -1)
    hyp = np.full(n, -1)
    scored = np.ones(n, bool)
    for s, e, who in reference:
        ref[(times >= s) & (times < e)] = ref_names.index(who)
        for b in (s, e):
            scored &= ~((times > b - collar) & (times < b + collar))
    for s, e, who in hypothesis:
        hyp[(times >= s) & (times < e)] = hyp_names.index(who)
    ref, hyp = ref[scored], hyp[scored]
    speech = int(np.sum(ref >= 0))
    missed = int(np.sum((ref >= 0) & (hyp < 0)))
    false_alarm = int(np.sum((ref < 0) & (hyp >= 0)))
    both = (ref >= 0) & (hyp >= 0)
    best = 0
    k = max(len(ref_names), len(hyp_names))
    for perm in itertools.permutations(range(k), len(hyp_names)):
        mapped = np.array(perm)[hyp[both]] if len(hyp_names) else np.zeros(0, int)
        best = max(best, int(np.sum(mapped == ref[both])))
    confusion = int(np.sum(both)) - best
    total = max(speech, 1)
    return {"der": (missed + false_alarm + confusion) / total, "missed": missed / total,
            "false_alarm": false_alarm / total, "confusion": confusion / total,
            "speech_seconds": speech * step, "collar": collar,
            "speakers_ref": len(ref_names), "speakers_hyp": len(hyp_names)}
