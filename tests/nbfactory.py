"""Build small notebooks for runner tests."""

from __future__ import annotations

from pathlib import Path

import nbformat as nbf


def make_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    """cells: ("params" | "code" | "md", source)."""
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, src in cells:
        if kind == "md":
            nb.cells.append(nbf.v4.new_markdown_cell(src))
            continue
        cell = nbf.v4.new_code_cell(src)
        if kind == "params":
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nbf.write(nb, path)
    return path
