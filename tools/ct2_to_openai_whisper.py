#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model (faster-whisper's format) into an openai-whisper checkpoint.

    tools/ct2_to_openai_whisper.py MODEL_DIR -o tiny.en.pt
    tools/ct2_to_openai_whisper.py model.bin.part1 model.bin.part2 -o base.pt

openai-whisper's own checkpoints live on a CDN our hosts cannot reach; the
same weights ship on PyPI for faster-whisper. The work is done by
brefboard.transcription.convert (also ``python -m brefboard.transcription.convert``);
this script only makes it runnable from a checkout without installing the app.
Needs NumPy and PyTorch, not CTranslate2.
"""
import sys
from pathlib import Path

try:
    from brefboard.transcription.convert import main
except ImportError:  # running from a checkout: the package lives in app/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))
    from brefboard.transcription.convert import main

if __name__ == "__main__":
    sys.exit(main())
