"""Every Markdown link in README.md and docs/*.md points at a file that exists and, when it
names a heading (#anchor), at a heading that exists in that file, by GitHub's anchor rules:
the heading's text in lowercase, punctuation removed (Chinese characters kept), each space
a '-', and '-1', '-2', ... after a repeated one. And the README stays a newcomer's page that
links to every doc."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(
    r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]"  # the text, which may hold [brackets]
    r"\(\s*<?([^()\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"  # (target "title")
)
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading's Markdown text."""
    text = CODE_SPAN.sub(lambda code: code.group(2), heading)
    text = INLINE_LINK.sub(lambda link: link.group(1), text)
    text = re.sub(r"[*~]|<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(text):
        heading = HEADING.match(line)
        if not heading:
            continue
        slug = anchor(heading.group(2))
        repeat = seen.get(slug, 0)
        seen[slug] = repeat + 1
        found.add(slug if repeat == 0 else f"{slug}-{repeat}")
    return found


def links(text: str) -> Iterator[tuple[int, str]]:
    for number, line in prose_lines(text):
        definition = REFERENCE_DEFINITION.match(line)
        if definition:
            yield number, definition.group(1)
            continue
        for link in INLINE_LINK.finditer(CODE_SPAN.sub("", line)):
            yield number, link.group(2)


def broken_links(document: Path) -> list[str]:
    """Each link of the document whose file or heading does not exist, with why."""
    broken = []
    for number, target in links(document.read_text(encoding="utf-8")):
        if EXTERNAL.match(target):
            continue
        path_part, _, fragment = target.partition("#")
        path = (document.parent / path_part).resolve() if path_part else document
        where = f"{document.name}:{number}: {target}"
        if not path.exists():
            broken.append(f"{where}: no file {path_part}")
        elif fragment and path.suffix == ".md" and fragment not in anchors(
            path.read_text(encoding="utf-8")
        ):
            broken.append(f"{where}: no heading #{fragment} in {path.name}")
        elif fragment and path.suffix != ".md":
            broken.append(f"{where}: #{fragment} in a file that has no headings")
    return broken


@pytest.mark.parametrize("document", documents(), ids=lambda path: path.name)
def test_every_link_points_at_a_file_and_heading_that_exist(document: Path) -> None:
    assert broken_links(document) == []


def test_the_readme_links_to_every_doc() -> None:
    readme = ROOT / "README.md"
    linked = {(readme.parent / target.partition("#")[0]).resolve()
              for _, target in links(readme.read_text(encoding="utf-8"))}
    assert sorted((ROOT / "docs").glob("*.md")) == sorted(
        doc for doc in (ROOT / "docs").glob("*.md") if doc.resolve() in linked
    )


def test_the_readme_is_a_newcomers_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    first = "\n".join(lines[:40])
    assert "make run" in first and "make test" in first
    assert len(lines) <= 200, "measurements and stories belong in docs/"
    dated = [line for line in lines if re.search(r"\b20\d\d-\d\d-\d\d\b", line)]
    assert dated == [], "the README holds no dated history: docs/benchmarks.md does"


def test_anchors_follow_githubs_rules() -> None:
    assert anchor("What `make run` shows") == "what-make-run-shows"
    assert anchor("The workers' web port") == "the-workers-web-port"
    assert anchor("2026-12-06 13:19: Apache Kafka beside the embedded broker") == (
        "2026-12-06-1319-apache-kafka-beside-the-embedded-broker"
    )
    assert anchor("撤回结果（发错患者、删除）") == "撤回结果发错患者删除"
    assert anchor("HL7 v2（MLLP）") == "hl7-v2mllp"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_a_broken_file_or_heading_is_reported(tmp_path: Path) -> None:
    (tmp_path / "guide.md").write_text("# 成员接入指南\n\n## The workers' web port\n",
                                       encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](guide.md#the-workers-web-port), [中文](guide.md#成员接入指南), [self](#page),\n"
        "[web](https://example.org/x#y), `[code](missing.md)`\n\n"
        "```\n[fenced](missing.md)\n```\n\n"
        "[gone](missing.md) and [wrong](guide.md#the-workers-port) and [here](#nowhere)\n\n"
        "[ref]: other/missing.md\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "page.md:10: missing.md: no file missing.md",
        "page.md:10: guide.md#the-workers-port: no heading #the-workers-port in guide.md",
        "page.md:10: #nowhere: no heading #nowhere in page.md",
        "page.md:12: other/missing.md: no file other/missing.md",
    ]
