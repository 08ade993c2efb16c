"""The library: summaries and titles as queue jobs, the `profil` page, exports."""
