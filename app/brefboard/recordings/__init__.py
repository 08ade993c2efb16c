"""Recordings: browser recording sessions, uploads, transcription jobs."""
