"""Exports of a recording: PDF, TXT, Markdown, SRT and VTT; safe file names.

Every export is built from an ``ExportDocument`` (no Django here), so the
views only fetch the owner's row, build one, and stream the bytes.

PDF: fpdf2 with a TrueType font, because the PDF core fonts only cover
Latin-1 and would lose "œ", "’", "€"... The DejaVu fonts cover Latin,
Greek and Cyrillic; they come from Debian's ``fonts-dejavu-core`` (the
app's role installs it) or any folder named by ``BREFBOARD_PDF_FONT_DIR``;
extra fonts for other scripts can be given in ``BREFBOARD_PDF_FALLBACK_FONTS``
(``os.pathsep``-separated .ttf paths).

File names come from user-typed titles, so they go through
``content_disposition``: no quotes, line breaks or path separators can reach
the header, and Unicode names travel in RFC 6266 / RFC 8187 ``filename*``.
"""
from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

from django.utils.translation import gettext_lazy


class ExportError(Exception):
    """An export cannot be produced; the message is safe to show a user."""


# --------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------
@dataclass
class ExportDocument:
    title: str
    created: datetime  # already in the zone the reader expects
    transcript: str
    summary: str = ""
    # transcription.base.Segment or {"start","end","text"[,"speaker"]}; "speaker": the speaker's name
    # (diarized recordings), put before the cue's text in SRT ("Name: "), VTT (<v Name>) and Markdown.
    segments: Sequence[Any] = ()
    language: str = "fr"
    key_points: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    action_items: list[str] = field(default_factory=list)
    extractive: bool = False  # the summary was picked, not written, by a model


_LABELS = {
    "fr": {
        "summary": "Résumé",
        "extractive": "Résumé extractif (phrases choisies dans la transcription, sans modèle de langue)",
        "key_points": "Points clés",
        "decisions": "Décisions",
        "action_items": "Actions",
        "transcript": "Transcription",
        "no_summary": "Pas encore de résumé.",
        "months": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet",
                   "août", "septembre", "octobre", "novembre", "décembre"],
        "date": "{day} {month} {year} à {hh:02d}:{mm:02d}",
    },
    "en": {
        "summary": "Summary",
        "extractive": "Extractive summary (sentences picked from the transcript, no language model)",
        "key_points": "Key points",
        "decisions": "Decisions",
        "action_items": "Action items",
        "transcript": "Transcript",
        "no_summary": "No summary yet.",
        "months": ["January", "February", "March", "April", "May", "June", "July",
                   "August", "September", "October", "November", "December"],
        "date": "{month} {day}, {year} at {hh:02d}:{mm:02d}",
    },
}


def _labels(language: str) -> dict:
    return _LABELS.get((language or "fr")[:2].lower(), _LABELS["en"])


def format_date(when: datetime, language: str = "fr") -> str:
    """A date in words, independent of the process locale."""
    lab = _labels(language)
    return lab["date"].format(day=when.day, month=lab["months"][when.month - 1],
                              year=when.year, hh=when.hour, mm=when.minute)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def clean_text(text: str) -> str:
    """Line breaks normalised, tabs expanded, control and bidi-override
    characters dropped: what a file viewer or a subtitle player may choke on."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _CONTROL.sub("", text)


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    speaker: str = ""


def cues(segments: Iterable[Any]) -> list[Cue]:
    """Segments (objects or mappings) as timed cues: empty ones dropped, text
    on one line (a blank line would end a cue), end never before start."""
    out = []
    for seg in segments or ():
        get = seg.get if isinstance(seg, Mapping) else lambda k, s=seg: getattr(s, k, None)
        try:
            start = max(0.0, float(get("start") or 0.0))
            end = float(get("end") or 0.0)
        except (TypeError, ValueError):
            continue
        text = " ".join(clean_text(str(get("text") or "")).split())
        if not text:
            continue
        speaker = get("speaker")
        speaker = " ".join(clean_text(speaker).split()) if isinstance(speaker, str) else ""
        out.append(Cue(start, max(end, start + 0.001), text, speaker))
    return out


def _timestamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _need_cues(doc: ExportDocument) -> list[Cue]:
    found = cues(doc.segments)
    if not found:
        raise ExportError("This recording has no timed segments to make subtitles from.")
    return found


# --------------------------------------------------------------------------
# Text formats
# --------------------------------------------------------------------------
def to_srt(doc: ExportDocument) -> bytes:
    blocks = [
        f"{i}\n{_timestamp(c.start, ',')} --> {_timestamp(c.end, ',')}\n"
        f"{(c.speaker + ': ' if c.speaker else '') + c.text.replace('-->', '→')}\n"
        for i, c in enumerate(_need_cues(doc), 1)
    ]
    return "\n".join(blocks).encode("utf-8")


def _vtt_escape(text: str) -> str:
    # Cue text is markup: &, < and > must be escaped; "-->" may not appear.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def to_vtt(doc: ExportDocument) -> bytes:
    lines = ["WEBVTT", ""]
    for c in _need_cues(doc):
        # A voice span names the speaker (WebVTT's <v>); its annotation cannot hold ">" or a line break.
        voice = f"<v {_vtt_escape(c.speaker)}>" if c.speaker else ""
        lines += [f"{_timestamp(c.start, '.')} --> {_timestamp(c.end, '.')}", voice + _vtt_escape(c.text), ""]
    return "\n".join(lines).encode("utf-8")


def _sections(doc: ExportDocument) -> list[tuple[str, list[str]]]:
    lab = _labels(doc.language)
    return [(lab[key], [clean_text(x) for x in getattr(doc, key) if x and x.strip()])
            for key in ("key_points", "decisions", "action_items")]


def to_txt(doc: ExportDocument) -> bytes:
    lab = _labels(doc.language)
    title = " ".join(clean_text(doc.title).split())
    out = [title, "=" * max(3, len(title)), format_date(doc.created, doc.language), ""]
    out += [lab["summary"], "-" * len(lab["summary"])]
    if doc.extractive:
        out.append(f"({lab['extractive']})")
    out += [clean_text(doc.summary).strip() or lab["no_summary"], ""]
    for heading, items in _sections(doc):
        if items:
            out += [heading, "-" * len(heading)] + [f"- {x}" for x in items] + [""]
    out += [lab["transcript"], "-" * len(lab["transcript"]), clean_text(doc.transcript).strip(), ""]
    return "\n".join(out).encode("utf-8")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~!&])")
_MD_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])(?=\s|$)", re.MULTILINE)


def md_escape(text: str) -> str:
    """Backslash-escape what Markdown would read as markup (CommonMark allows
    a backslash before any ASCII punctuation), including raw HTML's "<"."""
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)


def to_markdown(doc: ExportDocument) -> bytes:
    lab = _labels(doc.language)
    out = [f"# {md_escape(' '.join(clean_text(doc.title).split()))}", "",
           f"*{md_escape(format_date(doc.created, doc.language))}*", "",
           f"## {lab['summary']}", ""]
    if doc.extractive:
        out += [f"> {md_escape(lab['extractive'])}", ""]
    summary = clean_text(doc.summary).strip()
    out += [md_escape(summary) if summary else f"*{md_escape(lab['no_summary'])}*", ""]
    for heading, items in _sections(doc):
        if items:
            out += [f"## {heading}", ""] + [f"- {md_escape(' '.join(x.split()))}" for x in items] + [""]
    out += [f"## {lab['transcript']}", ""]
    timed = cues(doc.segments)
    if timed:
        out += [f"`{_timestamp(c.start, '.')[:8]}` " + (f"**{md_escape(c.speaker)}:** " if c.speaker else "")
                + f"{md_escape(c.text)}  " for c in timed]
    else:
        out.append(md_escape(clean_text(doc.transcript).strip()))
    out.append("")
    return "\n".join(out).encode("utf-8")


# --------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # Debian, Ubuntu: fonts-dejavu-core
    "/usr/share/fonts/dejavu",  # Fedora, Arch
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "/Library/Fonts",
)


# What the pages say where no PDF can be made (the export itself answers 503).
PDF_UNAVAILABLE = gettext_lazy("Export PDF indisponible : aucune police Unicode n'est installée sur le serveur "
                                "(paquet Debian fonts-dejavu-core).")


def font_dirs(env: Mapping[str, str] | None = None) -> list[str]:
    """The folders searched by default: ``BREFBOARD_PDF_FONT_DIR``, then the usual ones."""
    env = os.environ if env is None else env
    return ([env["BREFBOARD_PDF_FONT_DIR"]] if env.get("BREFBOARD_PDF_FONT_DIR") else []) + list(FONT_DIRS)


def find_font(env: Mapping[str, str] | None = None, *, dirs: Iterable[str] | None = None,
              fontconfig: bool = True) -> tuple[str, str]:
    """Paths of DejaVu Sans regular and bold; ``ExportError`` if absent.

    ``dirs`` replaces the default folders (``font_dirs(env)``) and
    ``fontconfig=False`` skips asking fc-match: what a deployment or a test
    uses to pin the lookup (Django setting ``BREFBOARD_PDF_FONT_DIRS``)."""
    for folder in (font_dirs(env) if dirs is None else list(dirs)):
        regular = os.path.join(folder, "DejaVuSans.ttf")
        bold = os.path.join(folder, "DejaVuSans-Bold.ttf")
        if os.path.isfile(regular):
            return regular, bold if os.path.isfile(bold) else regular
    regular = _fontconfig("DejaVu Sans") if fontconfig else None  # another layout, or a substitute
    if regular:
        return regular, _fontconfig("DejaVu Sans:bold") or regular
    raise ExportError(
        "No Unicode font for PDF exports: install Debian's fonts-dejavu-core "
        "or set BREFBOARD_PDF_FONT_DIR to a folder holding DejaVuSans.ttf."
    )


def _fontconfig(pattern: str) -> str | None:
    """The TrueType/OpenType file fontconfig picks for ``pattern``, if any."""
    import shutil
    import subprocess

    if shutil.which("fc-match") is None:
        return None
    try:
        path = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True,
                              text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return path if path.lower().endswith((".ttf", ".otf")) and os.path.isfile(path) else None


def to_pdf(doc: ExportDocument, *, env: Mapping[str, str] | None = None,
           fonts: tuple[str, str] | None = None) -> bytes:
    """The PDF of ``doc``; ``fonts`` (regular, bold) as ``find_font`` returns them,
    looked up when not given. ``ExportError`` when no Unicode font can be used."""
    from fpdf import FPDF  # imported here: only this export needs it

    env = os.environ if env is None else env
    regular, bold = fonts or find_font(env)
    if not os.path.isfile(regular):  # removed since it was looked up
        raise ExportError(f"The PDF font {regular} is gone: install Debian's fonts-dejavu-core.")
    if not os.path.isfile(bold):
        bold = regular
    lab = _labels(doc.language)
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_font("Body", "", regular)
    pdf.add_font("Body", "B", bold)
    fallbacks = []
    for i, path in enumerate(p for p in env.get("BREFBOARD_PDF_FALLBACK_FONTS", "").split(os.pathsep) if p):
        if os.path.isfile(path):
            pdf.add_font(f"Fallback{i}", "", path)
            fallbacks.append(f"Fallback{i}")
    if fallbacks:
        pdf.set_fallback_fonts(fallbacks)

    title = " ".join(clean_text(doc.title).split()) or "BrefBoard"
    pdf.set_title(title)
    pdf.set_creator("BrefBoard")
    pdf.set_lang(doc.language or "fr")
    pdf.add_page()

    def heading(text: str, size: float = 13) -> None:
        pdf.ln(3)
        pdf.set_font("Body", "B", size)
        pdf.multi_cell(0, size * 0.55, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)

    def para(text: str, size: float = 10.5) -> None:
        pdf.set_font("Body", "", size)
        for block in text.split("\n"):
            wrap = "CHAR" if _has_long_word(block) else "WORD"
            pdf.multi_cell(0, size * 0.5, block, new_x="LMARGIN", new_y="NEXT", align="L", wrapmode=wrap)

    heading(title, 18)
    pdf.set_font("Body", "", 10)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(0, 5, format_date(doc.created, doc.language), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)

    heading(lab["summary"])
    if doc.extractive:
        pdf.set_text_color(90, 90, 90)
        para(lab["extractive"], 9)
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1)
    para(clean_text(doc.summary).strip() or lab["no_summary"])
    for section, items in _sections(doc):
        if items:
            heading(section, 12)
            for item in items:
                para("• " + " ".join(item.split()))
    heading(lab["transcript"])
    para(clean_text(doc.transcript).strip())
    return bytes(pdf.output())


def _has_long_word(text: str, limit: int = 60) -> bool:
    return any(len(w) > limit for w in text.split())


# --------------------------------------------------------------------------
# Registry of formats
# --------------------------------------------------------------------------
FORMATS: dict[str, tuple[str, Any]] = {
    "pdf": ("application/pdf", to_pdf),
    "txt": ("text/plain; charset=utf-8", to_txt),
    "md": ("text/markdown; charset=utf-8", to_markdown),
    "srt": ("application/x-subrip; charset=utf-8", to_srt),
    "vtt": ("text/vtt; charset=utf-8", to_vtt),
}


def render(doc: ExportDocument, fmt: str) -> tuple[bytes, str]:
    """(body, content type) of ``doc`` in ``fmt``; ``ExportError`` otherwise."""
    try:
        content_type, build = FORMATS[fmt]
    except KeyError:
        raise ExportError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.") from None
    return build(doc), content_type


# --------------------------------------------------------------------------
# Download names
# --------------------------------------------------------------------------
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|;,=\x00-\x1f\x7f]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
MAX_NAME_BYTES = 150


def safe_filename(title: str, ext: str, *, fallback: str = "brefboard") -> str:
    """A file name built from a user's title: one line, no path separator,
    no leading dot, no reserved Windows name, at most ``MAX_NAME_BYTES`` UTF-8
    bytes, with the extension appended. Unicode letters are kept."""
    ext = re.sub(r"[^a-z0-9]", "", ext.lower())[:8]
    name = unicodedata.normalize("NFC", title or "")
    name = "".join(
        " " if unicodedata.category(ch) in ("Zs", "Zl", "Zp", "Cc") else ch
        for ch in name
        if unicodedata.category(ch) not in ("Cf", "Co", "Cs", "Cn")
    )
    name = _UNSAFE_NAME.sub(" ", name)
    name = " ".join(name.split()).strip(" .-")
    while len(name.encode("utf-8")) > MAX_NAME_BYTES:
        name = name[:-1].rstrip(" .-")
    if not name or _WINDOWS_RESERVED.match(name):
        name = fallback if not name else f"BrefBoard {name}"
    return f"{name}.{ext}" if ext else name


_TRANSLIT = str.maketrans({"Œ": "OE", "œ": "oe", "Æ": "AE", "æ": "ae", "ß": "ss", "Ø": "O",
                           "ø": "o", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "–": "-", "—": "-",
                           "’": "'", "€": "EUR"})


def ascii_filename(name: str) -> str:
    """The ASCII approximation of a safe name, for the plain ``filename=``."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    decomposed = unicodedata.normalize("NFKD", stem.translate(_TRANSLIT))
    plain = decomposed.encode("ascii", "ignore").decode("ascii")
    plain = re.sub(r"[^A-Za-z0-9 ._()+-]", "_", plain)
    plain = re.sub(r"_+", "_", " ".join(plain.split())).strip(" ._") or "download"
    ext = re.sub(r"[^A-Za-z0-9]", "", ext)
    return f"{plain}.{ext}" if ext else plain


def content_disposition(title: str, ext: str, *, inline: bool = False) -> str:
    """A ``Content-Disposition`` value for downloading ``title``.``ext``:
    a quoted ASCII ``filename`` for old clients and, when the name is not
    plain ASCII, an RFC 8187 ``filename*`` that modern browsers prefer."""
    name = safe_filename(title, ext)
    plain = ascii_filename(name)
    value = f'{"inline" if inline else "attachment"}; filename="{plain}"'
    if plain != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value
