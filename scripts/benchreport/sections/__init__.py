"""One module per section of the report, each with render(page)."""
