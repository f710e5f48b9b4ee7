"""The "Not measured" section: the programs without JSON in this run and the
benchmarks that ended with an error; absent when there are none."""


def render(page):
    errors = page.r.errors()
    missing = page.r.missing
    if not errors and not missing:
        return
    page.w("## Not measured")
    page.w()
    for program in missing:
        page.w(f"- `{program}`: no `{program}.json` in this run.")
    for program, res in errors:
        threads = f" ({res.threads} threads)" if res.threads > 1 else ""
        page.w(f"- `{program}` `{res.key}`{threads}: {res.error}")
    page.w()
