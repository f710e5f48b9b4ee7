#!/usr/bin/env python3
"""Tests of scripts/check_doc_links.py: GitHub's anchors, and each kind of
broken link found (and each kind of non-link left alone) in a scratch copy of
a small documentation tree."""

import contextlib
import io
import os
import shutil
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
import check_doc_links  # noqa: E402


class SlugTest(unittest.TestCase):
    def test_lowercases_and_turns_each_space_into_a_dash(self):
        self.assertEqual(check_doc_links.slug("Crash-consistency verification"),
                         "crash-consistency-verification")

    def test_removes_punctuation_but_keeps_dash_and_underscore(self):
        text = check_doc_links.heading_text(
            "Repair (`db::RepairStore`, `kv repair [--force]`)")
        self.assertEqual(check_doc_links.slug(text),
                         "repair-dbrepairstore-kv-repair---force")
        text = check_doc_links.heading_text(
            "The demo (`blockwal_kv_demo`, `scripts/demo.sh`)")
        self.assertEqual(check_doc_links.slug(text),
                         "the-demo-blockwal_kv_demo-scriptsdemosh")

    def test_removes_symbols_and_keeps_letters_of_any_script(self):
        text = check_doc_links.heading_text("CRC32C — goal: ≥ 0.9× ISA-L direct")
        self.assertEqual(check_doc_links.slug(text), "crc32c--goal--09-isa-l-direct")
        self.assertEqual(check_doc_links.slug("Größe"), "größe")

    def test_heading_text_drops_links_and_emphasis(self):
        self.assertEqual(check_doc_links.heading_text("**Bold** [link](x.md) *it*"),
                         "Bold link it")


class CheckTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="check_doc_links_test.")
        os.mkdir(os.path.join(self.root, "docs"))
        self.write("docs/guide.md", """\
            # Guide

            ## Repeated
            ## Repeated
            ## Repeated

            Setext title
            ------------

            <a id="custom"></a>
            """)
        self.write("docs/data.txt", "x\n")

    def tearDown(self):
        shutil.rmtree(self.root)

    def write(self, rel, text):
        with open(os.path.join(self.root, rel), "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))

    def problems(self, readme):
        self.write("README.md", readme)
        return check_doc_links.check(self.root)[0]

    def test_good_links_pass(self):
        self.assertEqual(self.problems("""\
            # Top
            [a](docs/guide.md) [b](docs/guide.md#guide) [c](#top)
            [d](docs/guide.md#repeated) [e](docs/guide.md#repeated-1)
            [f](docs/guide.md#repeated-2) [g](docs/guide.md#setext-title)
            [h](docs/guide.md#custom) ![i](docs/data.txt) [j](docs/)
            [k](docs/data.txt#L3) [l](<docs/guide.md> "title")
            [m](https://example.com/#nothing) [n](mailto:x@example.com)
            [ref][r] [r]
            [r]: docs/guide.md#guide
            """), [])

    def test_missing_file(self):
        self.assertEqual(self.problems("[x](docs/nope.md)\n"),
                         ["README.md:1: docs/nope.md: no such file or directory"])

    def test_missing_anchor(self):
        self.assertEqual(
            self.problems("text\n[x](docs/guide.md#repeated-3)\n"),
            ["README.md:2: docs/guide.md#repeated-3: "
             "no heading with anchor #repeated-3 in docs/guide.md"])

    def test_missing_anchor_in_the_same_file(self):
        self.assertEqual(self.problems("# Top\n[x](#bottom)\n"),
                         ["README.md:2: #bottom: no heading with anchor #bottom "
                          "in README.md"])

    def test_anchor_that_is_not_lowercase_does_not_match(self):
        self.assertEqual(len(self.problems("[x](docs/guide.md#Guide)\n")), 1)

    def test_broken_link_in_a_doc_is_reported_with_the_docs_path(self):
        self.write("docs/other.md", "# Other\n\n[back](../README.md#gone)\n")
        self.assertEqual(self.problems("# Readme\n"),
                         ["docs/other.md:3: ../README.md#gone: "
                          "no heading with anchor #gone in README.md"])

    def test_reference_definitions_and_uses(self):
        self.assertEqual(self.problems("[x][missing]\n\n[d]: docs/none.md\n"),
                         ["README.md:1: [missing]: no reference definition",
                          "README.md:3: docs/none.md: no such file or directory"])

    def test_points_outside_the_repository(self):
        self.assertEqual(self.problems("[x](../outside.md)\n"),
                         ["README.md:1: ../outside.md: points outside the repository"])

    def test_anchor_into_a_file_that_is_not_markdown(self):
        self.assertEqual(
            self.problems("[x](docs/data.txt#section)\n"),
            ["README.md:1: docs/data.txt#section: "
             "anchor #section in a file that is not Markdown"])

    def test_code_is_not_links(self):
        self.assertEqual(self.problems("""\
            `[x](missing.md)` and ``[y](missing.md)``

            ```cpp
            a[i](missing.md);
            ```

            ~~~
            [z](missing.md)
            ~~~
            """), [])

    def test_headings_in_code_blocks_are_not_anchors(self):
        self.assertEqual(len(self.problems("```\n# Fake\n```\n[x](#fake)\n")), 1)

    def test_main_exit_status(self):
        def run(*args):
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                return check_doc_links.main(["check_doc_links.py", *args])
        self.write("README.md", "[x](docs/guide.md#guide)\n")
        self.assertEqual(run(self.root), 0)
        self.write("README.md", "[x](docs/guide.md#nope)\n")
        self.assertEqual(run(self.root), 1)
        self.assertEqual(run("--help"), 2)


if __name__ == "__main__":
    unittest.main()
