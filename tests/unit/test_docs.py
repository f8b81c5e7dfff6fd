"""The README and docs/ stay true: every relative link resolves (the file, and the heading an #anchor names),
every `python -m restorers` command shown in a shell code block parses with the real argument parser (none is
run), the README stays short and names the test command that CI runs, and keeps the Space's front matter."""
from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path

import pytest

from restorers.cli.commands import build_parser

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
SHELL_LANGUAGES = {"bash", "shell", "sh", "console"}
MAX_README_LINES = 250

FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+).+?\1")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def split_blocks(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The prose lines of a Markdown page, and its fenced code blocks as (language, lines)."""
    prose: list[str] = []
    blocks: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    fence = ""
    for line in text.splitlines():
        match = FENCE.match(line)
        if current is None and match:
            fence, current = match.group(1), (match.group(2).lower(), [])
        elif current is not None and line.strip().startswith(fence) and not line.strip()[len(fence):].strip():
            blocks.append(current)
            current = None
        elif current is not None:
            current[1].append(line)
        else:
            prose.append(line)
    assert current is None, "a code block is never closed"
    return prose, blocks


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__|\*", "", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    text = unicodedata.normalize("NFC", text).strip().lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a page (outside code blocks), with GitHub's -1, -2 suffixes for repeats."""
    prose, _ = split_blocks(page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in prose:
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(page: Path) -> list[str]:
    """Link targets of a page that point inside the repository (not URLs, not inside code)."""
    prose, _ = split_blocks(page.read_text(encoding="utf-8"))
    targets = []
    for line in prose:
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                continue
            targets.append(target)
    return targets


def link_problem(page: Path, target: str, root: Path = REPO) -> str | None:
    """What is wrong with one link of a page (a missing file or heading, a path out of the repository), or None."""
    path_part, _, anchor = target.partition("#")
    destination = (page.parent / path_part).resolve() if path_part else page
    where = page.relative_to(root)
    if not destination.exists():
        return f"{where}: link to a missing file: {target}"
    if root not in destination.parents:
        return f"{where}: link leaves the repository: {target}"
    if anchor:
        if destination.suffix != ".md":
            return f"{where}: an #anchor into a file that is not Markdown: {target}"
        if anchor not in anchors(destination):
            return f"{where}: no heading for #{anchor} in {destination.relative_to(root)}"
    return None


def shell_commands(page: Path) -> list[str]:
    """Commands in a page's shell code blocks, continuation lines joined and prompts dropped."""
    _, blocks = split_blocks(page.read_text(encoding="utf-8"))
    commands: list[str] = []
    for language, lines in blocks:
        if language not in SHELL_LANGUAGES:
            continue
        pending = ""
        for line in lines:
            line = pending + line.strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            if line.startswith("$ "):
                line = line[2:]
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def restorers_args(command: str) -> list[str] | None:
    """The arguments after `python -m restorers` or `restorers` (environment assignments skipped), or None."""
    words = shlex.split(command, comments=True)
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words = words[1:]
    if words[:3] == ["python", "-m", "restorers"]:
        return words[3:]
    if words[:1] == ["restorers"]:
        return words[1:]
    return None


def test_the_link_checker_sees_what_github_sees(tmp_path):
    assert slug("Degrade & Measure") == "degrade--measure"
    assert slug("The app's API (gradio_client)") == "the-apps-api-gradio_client"
    assert slug("Hostile inputs: bombs refused before allocation, nothing lost") == \
        "hostile-inputs-bombs-refused-before-allocation-nothing-lost"
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n```bash\n# not a heading\n```\n\n## Title\n\nSee [a](#title-1), `[b](nowhere.md)`,"
                    " [c](https://example.com) and ![d](other.md#x).\n", encoding="utf-8")
    assert anchors(page) == {"title", "title-1"}
    assert relative_links(page) == ["#title-1", "other.md#x"]
    assert link_problem(page, "#title-1", tmp_path) is None
    assert "missing file" in link_problem(page, "other.md#x", tmp_path)
    assert "no heading" in link_problem(page, "#not-a-heading", tmp_path)
    assert "leaves the repository" in link_problem(page, "..", tmp_path)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path):
    problems = [problem for target in relative_links(page) if (problem := link_problem(page, target))]
    assert problems == []


def test_every_docs_page_is_listed_in_the_index():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    listed = {target.partition("#")[0] for target in relative_links(DOCS / "index.md")}
    missing = [p.name for p in DOCS.glob("*.md") if p.name != "index.md" and p.name not in listed]
    assert missing == [], f"docs pages not linked from docs/index.md: {missing}"
    assert "docs/index.md" in README.read_text(encoding="utf-8") and index


def test_every_cli_command_in_the_docs_parses():
    parser = build_parser()
    checked: dict[str, list[str]] = {}
    for page in sorted(DOCS.glob("*.md")):
        for command in shell_commands(page):
            args = restorers_args(command)
            if args is None:
                continue
            try:
                parser.parse_args(args)
            except SystemExit as exc:  # argparse exits: 0 after --help, 2 for a bad command line
                if exc.code != 0:
                    pytest.fail(f"{page.name}: `{command}` does not parse (exit {exc.code})")
            checked.setdefault(page.name, []).append(args[0] if args else "")
    cli_commands = set(checked.get("cli.md", []))
    # cli.md shows every command at least once; the other pages' examples are checked too.
    assert {"models", "download", "restore", "degrade", "evaluate", "loop", "interpolate", "video"} <= cli_commands
    assert "dcgan" in checked.get("dcgan.md", [])


def test_a_bad_command_would_be_caught():
    with pytest.raises(SystemExit):
        build_parser().parse_args(restorers_args("python -m restorers restore photo.jpg --no-such-option"))
    assert restorers_args("RESTORERS_MCP=1 python -m restorers models  # comment") == ["models"]
    assert restorers_args("python app.py") is None


def test_readme_is_short_and_names_the_test_command_ci_runs():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_README_LINES
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    ci_command = [line.strip() for line in ci.splitlines() if line.strip().startswith("python -m pytest")]
    assert ci_command, ".ci/run no longer runs python -m pytest"
    for command in ci_command:
        assert command in text, f"README does not show the command CI runs: {command}"
    assert 'python -m pytest -m "not browser"' in text  # the quick tier


def test_readme_keeps_the_space_front_matter():
    text = README.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front = text.split("\n---\n", 1)[0]
    for key in ("sdk: gradio", "app_file: app.py", "sdk_version:", "python_version:"):
        assert key in front
