"""The benchmark report of scripts/render_benchmarks.py: loading a run
(loading), writing numbers (formatting), the goals as a table of data
(goals), the plots (plots), one module per section of the page (sections/),
the page they write to (page) and the order they are put together in
(report).
"""
