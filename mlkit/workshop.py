"""Workshop mode: student copies of the notebooks with the exercise solutions emptied.

An exercise is a markdown cell asking a question followed by one or more code cells
tagged ``solution``. The committed notebooks keep the solutions (the tests execute them);
``mlkit workshop prepare DIR`` writes copies where each solution cell is replaced by a
placeholder, keeping its tags so instructors can find the answers again.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

from .atomic import atomic_write_text
from .manifest import load_manifest

__all__ = ["PLACEHOLDER", "SOLUTION_TAG", "prepare", "solution_cells", "strip_solutions"]

SOLUTION_TAG = "solution"
PLACEHOLDER = "# Exercise: write your solution here, then run the cell.\n"


def solution_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if SOLUTION_TAG in c.get("metadata", {}).get("tags", [])]


def strip_solutions(nb):
    """A copy of ``nb`` whose ``solution`` cells are placeholders (outputs cleared)."""
    nb = nbformat.from_dict(nb)
    for i in solution_cells(nb):
        cell = nb.cells[i]
        cell.source = PLACEHOLDER if cell.cell_type == "code" else "*Your answer here.*"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def prepare(out_dir: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write student copies of every manifest notebook into ``out_dir``."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} exists and is not empty; choose another folder or pass --force")
    written = []
    for entry in load_manifest():
        if entry.kind != "notebook":
            continue
        nb = nbformat.read(entry.path, as_version=4)
        student = strip_solutions(nb)
        written.append(atomic_write_text(out / entry.path.name, nbformat.writes(student)))
    return written
