"""OpenAI's answer shapes for a finished transcription: json, text, srt, vtt, verbose_json."""
from __future__ import annotations

from django.http import HttpResponse, JsonResponse

from ..summaries.exports import ExportDocument, ExportError, cues, to_srt, to_vtt

FORMATS = ("json", "text", "srt", "vtt", "verbose_json")

# OpenAI names the language in verbose_json ("english"); codes without a name here stay codes.
LANGUAGE_NAMES = {
    "en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian", "pt": "portuguese",
    "nl": "dutch", "pl": "polish", "ru": "russian", "uk": "ukrainian", "ar": "arabic", "zh": "chinese",
    "ja": "japanese", "ko": "korean", "tr": "turkish", "sv": "swedish", "da": "danish", "no": "norwegian",
    "fi": "finnish", "cs": "czech", "el": "greek", "he": "hebrew", "hi": "hindi", "ca": "catalan",
}


def render(fmt: str, rec, segments, *, granularities: set[str]) -> HttpResponse:
    """The answer for recording ``rec`` (its transcript done) in OpenAI's ``response_format``."""
    text = rec.transcript.strip()
    duration = round(float(rec.duration or 0.0), 3)
    usage = {"type": "duration", "seconds": int(duration + 0.999)}
    if fmt == "json":
        return JsonResponse({"text": text, "usage": usage})
    if fmt == "text":
        return HttpResponse(text + "\n" if text else "", content_type="text/plain; charset=utf-8")
    if fmt in ("srt", "vtt"):
        doc = ExportDocument(title=rec.display_title, created=rec.created_at, transcript=text,
                             segments=[{"start": s.start, "end": s.end, "text": s.text} for s in segments])
        try:
            body = (to_srt if fmt == "srt" else to_vtt)(doc)
        except ExportError:  # nothing was said: an empty subtitle file, as OpenAI answers silence
            body = b"WEBVTT\n\n" if fmt == "vtt" else b""
        return HttpResponse(body, content_type="text/vtt; charset=utf-8" if fmt == "vtt"
                            else "application/x-subrip; charset=utf-8")
    # verbose_json
    body = {
        "task": "transcribe",
        "language": LANGUAGE_NAMES.get(rec.language, rec.language or ""),
        "duration": duration,
        "text": text,
        "usage": usage,
    }
    if "segment" in granularities:
        timed = cues({"start": s.start, "end": s.end, "text": s.text} for s in segments)
        by_start = {(round(s.start, 3)): s for s in segments}
        body["segments"] = [
            {
                "id": i,
                "seek": 0,
                "start": round(c.start, 3),
                "end": round(c.end, 3),
                "text": " " + c.text,  # Whisper's segments start with a space; clients join them as they are
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": round(getattr(by_start.get(round(c.start, 3)), "avg_logprob", 0.0), 4),
                "compression_ratio": 0.0,
                "no_speech_prob": round(getattr(by_start.get(round(c.start, 3)), "no_speech_prob", 0.0), 4),
            }
            for i, c in enumerate(timed)
        ]
    return JsonResponse(body)
