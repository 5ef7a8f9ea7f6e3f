"""MkDocs hooks of scratchnn's site: what the pages take from the code at build time.

- The notebooks of ``notebooks/`` become pages (rendered by mkdocs-jupyter with the outputs
  they were committed with), without a copy in ``docs/``.
- ``<!-- generated: readme -->`` becomes the README's opening (up to its first section):
  the newcomer's two commands have one source.
- ``<!-- generated: command-line -->`` becomes the ``--help`` of ``scratchnn`` and of each
  of its commands, from :func:`scratchnn.cli.build_parser`, so the page never drifts from
  the program.
- The Sphinx roles of the docstrings (``:func:`name```) become cross-references where the
  name is documented, and plain code where it is not.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
from pathlib import Path
from unittest import mock

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.scratchnn")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = "notebooks"


@event_priority(50)  # before mkdocs-jupyter's on_files, which turns notebooks into pages
def on_files(files: Files, config) -> Files:
    # Files of the repository's root, not generated ones: mkdocs-jupyter reads a notebook
    # from its src_dir.
    for path in sorted((ROOT / NOTEBOOKS).glob("*.ipynb")):
        files.append(File(f"{NOTEBOOKS}/{path.name}", src_dir=str(ROOT),
                          dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    if "<!-- generated: readme -->" in markdown:
        markdown = markdown.replace("<!-- generated: readme -->", _readme_opening())
    if "<!-- generated: command-line -->" in markdown:
        markdown = markdown.replace("<!-- generated: command-line -->", _command_line())
    return markdown


def _readme_opening() -> str:
    """README.md from after its title to its first ``##`` section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^# [^\n]*\n(.*?)^## ", text, flags=re.S | re.M)
    if match is None:
        raise ValueError("README.md: expected a '# title' line and a '## ' section after it")
    return match.group(1).strip()


def _help(parser: argparse.ArgumentParser) -> str:
    with mock.patch.dict(os.environ, {"COLUMNS": "96"}):  # argparse wraps to the terminal
        return parser.format_help()


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _command_line() -> str:
    from scratchnn.cli import DELEGATED, build_parser

    parser = build_parser()
    sections = ["## scratchnn", "", "```text", f"$ scratchnn --help\n{_help(parser)}```"]
    for name in _commands(parser):
        try:
            # a delegated command's options exist only in the parser built to run it
            command = _commands(build_parser(name))[name]
        except ModuleNotFoundError as err:
            module = DELEGATED.get(name, ("",))[0]
            if err.name != module:
                raise
            log.warning("scratchnn %s: its module %s is missing, so 'scratchnn %s --help' "
                        "fails", name, module, name)
            continue
        sections += ["", f"## scratchnn {name}", "", "```text",
                     f"$ scratchnn {name} --help\n{_help(command)}```"]
    return "\n".join(sections)


_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):"
                   r"<code>(~?)([\w.]+)(\(\))?</code>")


def _reference(match: re.Match) -> str:
    short, name, call = match.groups()
    title = html.escape((name.rsplit(".", 1)[-1] if short else name) + (call or ""))
    # "optional": a name that is not documented (private, or written unqualified) stays
    # plain code instead of failing the build
    return (f'<autoref identifier="{html.escape(name)}" optional>'
            f"<code>{title}</code></autoref>")


def on_page_content(content: str, page, config, files) -> str:
    return _ROLE.sub(_reference, content)
