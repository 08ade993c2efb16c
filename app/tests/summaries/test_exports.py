"""Exports read back by real parsers: pypdf for the PDF, ``srt`` for SubRip,
``webvtt-py`` for WebVTT, markdown-it for Markdown, the stdlib's e-mail
header parser for Content-Disposition."""
from __future__ import annotations

import html
import io
import re
from datetime import datetime, timedelta
from email.message import Message
from urllib.parse import unquote

import pytest
import srt
import webvtt
from markdown_it import MarkdownIt
from pypdf import PdfReader

from brefboard.summaries import exports
from brefboard.summaries.exports import ExportDocument, ExportError, content_disposition, safe_filename
from brefboard.transcription.base import Segment

TITLE = 'Réunion « été » <script>alert("x")</script> & co'
SUMMARY = "Le comité a décidé d’augmenter le budget de 12 € par poste ; l’œuvre est validée."
TRANSCRIPT = (
    "Bonjour à tous. Ça commence : élève, cœur, naïf, façade, Œdipe, «guillemets», ‘apostrophes’.\n"
    "Ελληνικά και Кириллица тоже. Ähnliche Überraschung, ß. Ðoàn Việt Nam. Čeština.\n"
    "Le bloc <b>gras</b> et --> flèche et & esperluette."
)
SEGMENTS = [
    Segment(0.0, 2.5, " Bonjour à tous."),
    Segment(2.5, 61.04, "Ça commence : élève, cœur <i>naïf</i> --> & fin"),
    Segment(61.04, 3723.999, "Ελληνικά и Кириллица"),
    Segment(3724.0, 3725.0, "   "),  # silence: no cue
]


def doc(**kw) -> ExportDocument:
    values = dict(title=TITLE, created=datetime(2026, 3, 5, 9, 7), transcript=TRANSCRIPT,
                  summary=SUMMARY, segments=SEGMENTS, language="fr",
                  key_points=["Budget en hausse"], decisions=["Validation de l’œuvre"],
                  action_items=["Paul envoie le planning"])
    values.update(kw)
    return ExportDocument(**values)


def squash(text: str) -> str:
    return " ".join(text.split())


# --- PDF ------------------------------------------------------------------------------


def test_pdf_text_round_trips_with_accents_and_unicode():
    data = exports.to_pdf(doc())
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    text = squash("\n".join(page.extract_text() for page in reader.pages))
    assert squash(TITLE) in text
    assert "5 mars 2026 à 09:07" in text
    assert "Résumé" in text and squash(SUMMARY) in text
    for line in TRANSCRIPT.splitlines():
        assert squash(line) in text, line
    assert "Points clés" in text and "Validation de l’œuvre" in text
    assert "Transcription" in text
    assert reader.metadata.title == squash(TITLE)


def test_pdf_in_english_with_extractive_note_and_many_pages():
    long = " ".join(f"Sentence {i} of a long meeting about the budget." for i in range(1500))
    data = exports.to_pdf(doc(language="en", summary="", transcript=long, extractive=True,
                              key_points=[], decisions=[], action_items=[]))
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 3
    text = squash(" ".join(p.extract_text() for p in reader.pages))
    assert "Extractive summary" in text and "No summary yet." in text
    assert "Sentence 0 of a long" in text and "Sentence 1499 of a long meeting" in text
    assert "March 5, 2026 at 09:07" in text


def test_pdf_survives_an_unbroken_word_and_control_characters():
    data = exports.to_pdf(doc(transcript="x" * 3000 + "\x00\x07 fin\u202e", summary="a\tb"))
    text = squash(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))
    assert text.replace(" ", "").count("x") >= 3000 and "fin" in text


def test_pdf_without_a_unicode_font_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(exports, "FONT_DIRS", (str(tmp_path),))
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-match either
    with pytest.raises(ExportError, match="fonts-dejavu-core"):
        exports.to_pdf(doc(), env={})


def test_pdf_font_found_through_fontconfig_elsewhere(monkeypatch, tmp_path):
    """Another layout than Debian's: fontconfig (fc-match, a real lookup) finds it."""
    import shutil

    if shutil.which("fc-match") is None:
        pytest.skip("fontconfig's fc-match is not installed")
    monkeypatch.setattr(exports, "FONT_DIRS", (str(tmp_path),))
    regular, bold = exports.find_font({})
    assert regular.endswith((".ttf", ".otf")) and "Bold" not in regular
    text = " ".join(PdfReader(io.BytesIO(exports.to_pdf(doc(), env={}))).pages[0].extract_text().split())
    assert squash(SUMMARY) in text


def test_pdf_font_dir_setting_is_honoured(monkeypatch, tmp_path):
    regular, bold = exports.find_font({})
    (tmp_path / "DejaVuSans.ttf").write_bytes(open(regular, "rb").read())
    monkeypatch.setattr(exports, "FONT_DIRS", ())
    assert exports.find_font({"BREFBOARD_PDF_FONT_DIR": str(tmp_path)})[0] == str(tmp_path / "DejaVuSans.ttf")


# --- Subtitles ------------------------------------------------------------------------


def test_srt_parsed_by_the_srt_library():
    subs = list(srt.parse(exports.to_srt(doc()).decode("utf-8")))
    assert [s.index for s in subs] == [1, 2, 3]
    assert subs[0].start == timedelta(0) and subs[0].end == timedelta(seconds=2.5)
    assert subs[1].end == timedelta(seconds=61, milliseconds=40)
    assert subs[2].end == timedelta(hours=1, minutes=2, seconds=3, milliseconds=999)
    assert subs[0].content == "Bonjour à tous."
    assert subs[1].content == "Ça commence : élève, cœur <i>naïf</i> → & fin"
    assert subs[2].content == "Ελληνικά и Кириллица"


def test_vtt_parsed_by_webvtt_py():
    data = exports.to_vtt(doc())
    assert data.startswith(b"WEBVTT\n")
    captions = list(webvtt.from_buffer(io.StringIO(data.decode("utf-8"))))
    assert [(c.start, c.end) for c in captions] == [
        ("00:00:00.000", "00:00:02.500"),
        ("00:00:02.500", "00:01:01.040"),
        ("00:01:01.040", "01:02:03.999"),
    ]
    # cue text is markup: escaped on the way out, the same text once unescaped
    assert html.unescape(captions[1].text) == "Ça commence : élève, cœur <i>naïf</i> --> & fin"
    assert "<i>" not in captions[1].text and "-->" not in captions[1].text


def test_segments_as_stored_json_and_odd_values():
    rows = [{"start": 1, "end": 0.5, "text": "fin avant début"}, {"start": "x", "end": 2, "text": "bad"},
            {"start": 2, "end": 3, "text": "ligne\n\nsautée"}]
    subs = list(srt.parse(exports.to_srt(doc(segments=rows)).decode()))
    assert [s.content for s in subs] == ["fin avant début", "ligne sautée"]
    assert subs[0].end > subs[0].start


def test_subtitles_need_segments():
    with pytest.raises(ExportError, match="segments"):
        exports.to_srt(doc(segments=[]))
    with pytest.raises(ExportError):
        exports.render(doc(segments=[]), "vtt")


# --- Text formats ---------------------------------------------------------------------


def test_txt_has_everything_verbatim():
    text = exports.to_txt(doc()).decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == TITLE and set(lines[1]) == {"="}
    assert lines[2] == "5 mars 2026 à 09:07"
    assert SUMMARY in text and TRANSCRIPT in text
    assert "- Paul envoie le planning" in text


def test_markdown_renders_the_text_and_no_markup_from_users():
    source = exports.to_markdown(doc()).decode("utf-8")
    md = MarkdownIt("commonmark")
    rendered = md.render(source)
    assert "<script" not in rendered and "<b>" not in rendered and "<i>" not in rendered
    tokens = md.parse(source)
    h1 = next(tokens[i + 1].content for i, t in enumerate(tokens) if t.tag == "h1" and t.nesting == 1)
    unescaped = html.unescape(re.sub(r"<[^>]+>", "", md.renderInline(h1)))
    assert unescaped == TITLE  # the title, exactly, as a reader sees it
    plain = html.unescape(re.sub(r"<[^>]+>", "", rendered))
    assert SUMMARY in plain and "Ça commence : élève, cœur <i>naïf</i> --> & fin" in plain
    assert "00:01:01" in plain


def test_markdown_keeps_entities_as_text():
    source = exports.to_markdown(doc(segments=[], transcript="AT&T écrit &lt;b&gt; et &amp; tel quel")).decode()
    plain = html.unescape(re.sub(r"<[^>]+>", "", MarkdownIt("commonmark").render(source)))
    assert "AT&T écrit &lt;b&gt; et &amp; tel quel" in plain


def test_markdown_escapes_line_starts():
    source = exports.to_markdown(doc(segments=[], transcript="# pas un titre\n- pas une liste\n1. non")).decode()
    rendered = MarkdownIt("commonmark").render(source)
    assert "<h1>pas un titre" not in rendered and "<li>pas une liste" not in rendered
    assert "# pas un titre" in html.unescape(rendered)


def test_render_knows_every_format():
    for fmt in ("pdf", "txt", "md", "srt", "vtt"):
        body, content_type = exports.render(doc(), fmt)
        assert body and content_type
    with pytest.raises(ExportError, match="Unknown export format"):
        exports.render(doc(), "exe")


# --- File names -----------------------------------------------------------------------


def parse_disposition(value: str) -> Message:
    msg = Message()
    msg["Content-Disposition"] = value
    return msg


@pytest.mark.parametrize(
    "title",
    [
        "../../etc/passwd",
        "..\\..\\windows\\system32",
        'a"; filename="evil.exe',
        "line\r\nSet-Cookie: x=1",
        "tab\there\x00nul\x7f",
        "/absolute/path",
        ".hidden",
        "CON",
        "",
        "   ...   ",
        "x" * 500,
        "é" * 500,
        "emoji 🎙️ meeting\u202eexe.pdf",
    ],
)
def test_download_names_are_safe(title):
    value = content_disposition(title, "pdf")
    assert "\r" not in value and "\n" not in value and "\x00" not in value
    parsed = parse_disposition(value)
    assert parsed.get_content_disposition() == "attachment"
    name = parsed.get_filename()
    assert name.endswith(".pdf")
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert '"' not in name and "\u202e" not in name
    assert len(name.encode("utf-8")) <= exports.MAX_NAME_BYTES + 4
    assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL"}
    # the header is pure ASCII and has exactly one plain filename parameter
    value.encode("ascii")
    assert len(re.findall(r'(?:^|; )filename="', value)) == 1


def test_unicode_names_use_rfc_8187_filename_star():
    value = content_disposition("Réunion budgétaire — été", "pdf")
    assert 'filename="Reunion budgetaire - ete.pdf"' in value
    assert unquote(value.split("filename*=UTF-8''")[1]) == "Réunion budgétaire — été.pdf"
    # RFC 6266 user agents prefer filename*; the stdlib's RFC 2231 parser reads it alone
    star = "attachment; " + value.split("; ", 2)[2]
    assert parse_disposition(star).get_filename() == "Réunion budgétaire — été.pdf"
    plain = content_disposition("Weekly sync", "txt")
    assert plain == 'attachment; filename="Weekly sync.txt"'
    assert safe_filename("a/b", "PDF") == "a b.pdf"
