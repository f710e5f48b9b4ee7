"""The benchmark report of scripts/render_benchmarks.py: loading a run
(loading), writing numbers (formatting), the goals (goals), the plots (plots),
and one module per section of the page (sections/), put together by document.
"""
