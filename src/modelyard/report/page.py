"""A plain self-contained HTML page of sections (tables, figures, links, text) for the pages
that summarise several runs: `modelyard cv`'s report and `modelyard compare --html`. Same look
as report.html (its CSS), no scripts, figures inline as PNG."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

_TEMPLATE = "page.html.j2"


def write_page(
    path: Path, title: str, facts: list[tuple[str, str]], sections: list[dict[str, Any]]
) -> Path:
    """Write `path`. Each section: `title` and any of `note` (text), `tables` (each
    {caption, header: [str], rows: [[str]]}), `figures` (each {caption, png: base64 text or
    None, which is skipped}), `links` ([(text, href)]), `pre` (preformatted text)."""
    import jinja2

    text = resources.files("modelyard.report").joinpath(_TEMPLATE).read_text(encoding="utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
    for section in sections:
        section["figures"] = [f for f in section.get("figures", []) if f.get("png")]
    html = environment.from_string(text).render(title=title, facts=facts, sections=sections)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
