#!/usr/bin/env python3
"""Checks that every relative link in README.md and docs/*.md resolves.

    scripts/check_doc_links.py [ROOT]     (ROOT: the repository, default ..)

A link resolves when the file or directory it names exists inside ROOT and,
when it carries an anchor (`file.md#heading`, or `#heading` in the same
file), the Markdown file it names has a heading (or an `<a id=...>` /
`<a name=...>`) with that anchor. Anchors are made as GitHub makes them: the
heading's text lowercased, every character other than a letter, a digit,
'-', '_' or a space removed, each space turned into '-'; a heading repeated
in the same file gets -1, -2, ... after the first. Links with a scheme
(https:, mailto:) are not checked; links inside code blocks and code spans
are not links. Inline links, images, reference definitions and
reference-style uses ([text][label]) are checked.

Prints one line per broken link (FILE:LINE: target: why) and exits 1 if
there is any, else prints a count and exits 0.
"""

import os
import re
import sys
import unicodedata

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# [text](target "title") and ![alt](target); text may hold one level of
# brackets ([`a[0]`](x) once code spans are blanked has none left).
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REF_USE = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])+)\]\[([^\[\]]*)\]")
REF_DEF = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*(<[^>]*>|\S+)")
HTML_ANCHOR = re.compile(r"<a\s[^>]*\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.I)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
GITHUB_LINE = re.compile(r"^L\d+(?:-L\d+)?$")


def slug(text):
    """GitHub's anchor for a heading whose rendered text is `text`."""
    out = []
    for ch in text.lower():
        if ch in "-_ " or unicodedata.category(ch)[0] in "LNM":
            out.append("-" if ch == " " else ch)
    return "".join(out)


def heading_text(raw):
    """The text a heading renders as: code spans keep their content, links
    their text, emphasis markers and HTML tags go."""
    text = CODE_SPAN.sub(lambda m: m.group(2).strip(), raw)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"(\*+|(?<!\w)_+|_+(?!\w))", "", text)
    return text.strip()


def blank_code_spans(line):
    """The line with each code span's content replaced by spaces (so link
    syntax inside code is not seen, and columns stay put)."""
    return CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


class Doc:
    """One Markdown file: its anchors, its links and reference definitions."""

    def __init__(self, path):
        self.path = path
        self.anchors = set()
        self.links = []  # (line number, target)
        self.ref_defs = {}  # label (lowercase) -> (line number, target)
        self.ref_uses = []  # (line number, label)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        self._parse(lines)

    def _add_heading(self, raw, seen):
        base = slug(heading_text(raw))
        n = seen.get(base, 0)
        seen[base] = n + 1
        self.anchors.add(base if n == 0 else f"{base}-{n}")

    def _parse(self, lines):
        seen = {}
        fence = None
        prev_paragraph = None  # the previous line, if it could be a setext title
        for number, line in enumerate(lines, start=1):
            m = FENCE.match(line)
            if fence is not None:
                if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                    fence = None
                continue
            if m:
                fence = m.group(1)
                prev_paragraph = None
                continue
            if SETEXT.match(line) and prev_paragraph is not None:
                self._add_heading(prev_paragraph, seen)
                prev_paragraph = None
                continue
            atx = ATX.match(line)
            if atx:
                self._add_heading(atx.group(2) or "", seen)
                prev_paragraph = None
            else:
                stripped = line.strip()
                paragraph = stripped and not re.match(r"([-*+>|]|\d+[.)])(\s|$)", stripped)
                prev_paragraph = stripped if paragraph else None
            for anchor in HTML_ANCHOR.findall(line):
                self.anchors.add(anchor)
            text = blank_code_spans(line)
            d = REF_DEF.match(text)
            if d:
                self.ref_defs.setdefault(d.group(1).strip().lower(),
                                         (number, d.group(2).strip("<>")))
                continue
            for target in INLINE_LINK.findall(text):
                self.links.append((number, target.strip("<>")))
            for label_text, label in REF_USE.findall(text):
                self.ref_uses.append((number, (label or label_text).strip().lower()))


def check(root):
    """Returns (problems, links checked) for README.md and docs/*.md."""
    root = os.path.realpath(root)
    files = [os.path.join(root, "README.md")]
    docs_dir = os.path.join(root, "docs")
    if os.path.isdir(docs_dir):
        files += sorted(os.path.join(docs_dir, f) for f in os.listdir(docs_dir)
                        if f.endswith(".md"))
    cache = {}

    def doc(path):
        if path not in cache:
            cache[path] = Doc(path)
        return cache[path]

    problems = []
    checked = 0
    for path in files:
        if not os.path.isfile(path):
            problems.append(f"{os.path.relpath(path, root)}: missing")
            continue
        d = doc(path)
        rel = os.path.relpath(path, root)
        links = list(d.links) + list(d.ref_defs.values())
        for number, label in d.ref_uses:
            if label not in d.ref_defs:
                problems.append(f"{rel}:{number}: [{label}]: no reference definition")
        for number, target in links:
            if not target or SCHEME.match(target) or target.startswith("//"):
                continue
            checked += 1
            why = resolve(root, path, target, doc)
            if why:
                problems.append(f"{rel}:{number}: {target}: {why}")
    return problems, checked


def resolve(root, source, target, doc):
    """None if `target`, linked from the file `source`, resolves; else why not."""
    file_part, _, anchor = target.partition("#")
    if file_part.startswith("/"):
        dest = os.path.join(root, file_part.lstrip("/"))
    elif file_part:
        dest = os.path.join(os.path.dirname(source), file_part)
    else:
        dest = source
    dest = os.path.realpath(dest.split("?", 1)[0])
    if dest != root and not dest.startswith(root + os.sep):
        return "points outside the repository"
    if not os.path.exists(dest):
        return "no such file or directory"
    if not anchor:
        return None
    if not dest.endswith(".md"):
        if os.path.isfile(dest) and GITHUB_LINE.match(anchor):
            return None
        return f"anchor #{anchor} in a file that is not Markdown"
    if anchor not in doc(dest).anchors:
        return f"no heading with anchor #{anchor} in {os.path.relpath(dest, root)}"
    return None


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print("usage: check_doc_links.py [ROOT]", file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(__file__), "..")
    problems, checked = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} broken link(s)", file=sys.stderr)
        return 1
    print(f"{checked} relative links checked, all resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
