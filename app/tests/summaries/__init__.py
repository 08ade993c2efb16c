"""Tests of brefboard.summaries and brefboard.library."""
