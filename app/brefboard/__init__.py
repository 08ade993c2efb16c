"""BrefBoard: record a meeting in the browser, transcribe it, summarise it."""
