"""Run notebooks with papermill and read back what they recorded.

``run(path, profile=..., parameters=..., output=...)`` checks the parameters
against the notebook's ``parameters`` cell *before* any kernel starts, executes
with kernel ``python3`` and a per-cell timeout, and returns the records. A
failing or hung cell raises :class:`NotebookExecutionError` naming the notebook,
the cell and the exception; the partial executed copy is kept for inspection.
"""

from __future__ import annotations

import ast
import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from .paths import build_dir
from .profiles import check_profile
from .records import RECORD_MIME, RecordError, to_json_safe

__all__ = [
    "NotebookExecutionError",
    "NotebookResult",
    "NotebookTimeoutError",
    "ParameterError",
    "coerce_parameter",
    "notebook_parameters",
    "read_records",
    "run",
]

DEFAULT_CELL_TIMEOUT = 600
KERNEL = "python3"


class ParameterError(ValueError):
    """A parameter that the notebook does not declare, or of the wrong type."""


class NotebookExecutionError(RuntimeError):
    """A cell raised while the notebook ran; the partial executed copy is kept."""

    def __init__(
        self,
        notebook: str,
        cell: int | None,
        ename: str,
        evalue: str,
        output_path: Path,
        *,
        execution_count: int | None = None,
        source: str = "",
        traceback: str = "",
    ) -> None:
        self.notebook = notebook
        self.cell = cell
        self.ename = ename
        self.evalue = evalue
        self.output_path = output_path
        self.execution_count = execution_count
        self.source = source
        self.traceback = traceback
        where = f"cell {cell}" if cell is not None else "an unknown cell"
        if execution_count is not None:
            where += f" (execution count {execution_count})"
        first_line = source.strip().splitlines()[0] if source.strip() else ""
        snippet = f"\n  cell starts: {first_line[:120]}" if first_line else ""
        super().__init__(
            f"notebook {notebook}: {where} raised {ename}: {evalue}{snippet}\n"
            f"  partial executed copy kept at {output_path}"
        )


class NotebookTimeoutError(NotebookExecutionError):
    """A cell ran past the per-cell timeout and was cut."""


@dataclass
class NotebookResult:
    """What :func:`run` returns."""

    notebook: Path
    output_path: Path
    records: dict[str, Any]
    parameters: dict[str, Any]
    profile: str | None
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- parameters


def _parameters_cell(nb) -> tuple[int, Any] | None:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return index, cell
    return None


def notebook_parameters(path: str | os.PathLike) -> dict[str, Any]:
    """Names and default values declared in the notebook's ``parameters`` cell.

    The cell must hold plain literal assignments (``N_ROWS = 10_000``), so that
    papermill's injected values replace them cleanly.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"notebook {path} does not exist")
    nb = nbformat.read(path, as_version=4)
    found = _parameters_cell(nb)
    if found is None:
        return {}
    _, cell = found
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        raise ParameterError(f"notebook {path.name}: parameters cell does not parse: {exc}") from None
    params: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value_node = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value_node = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        try:
            params[target.id] = ast.literal_eval(value_node)
        except ValueError:
            raise ParameterError(
                f"notebook {path.name}: parameter {target.id} must be a plain literal in the "
                f"parameters cell (derive values below it), got {ast.unparse(value_node)!r}"
            ) from None
    return params


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def coerce_parameter(name: str, value: Any, default: Any, notebook: str = "notebook") -> Any:
    """Check ``value`` against the type of ``default``; return it (ints widen to float).

    A ``None`` default accepts any JSON-safe value. Strings given for numeric or
    boolean parameters are *not* parsed here: the CLI parses ``-p`` values.
    """
    try:
        value = to_json_safe(value, name=name)
    except RecordError as exc:
        raise ParameterError(f"{notebook}: parameter {name}: {exc}") from None
    if default is None or value is None and default is None:
        return value
    expected = type(default)
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            value = float(value)
    elif expected in (list, tuple):
        ok = isinstance(value, list)
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise ParameterError(
            f"{notebook}: parameter {name} expects {expected.__name__} "
            f"(default {default!r}), got {_type_name(value)} {value!r}"
        )
    return value


def check_parameters(path: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``parameters`` against the notebook's parameters cell."""
    declared = notebook_parameters(path)
    checked = {}
    for name, value in parameters.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ParameterError(
                f"notebook {path.name}: unknown parameter {name!r}; it declares: {known}"
            )
        checked[name] = coerce_parameter(name, value, declared[name], notebook=f"notebook {path.name}")
    return checked


# --------------------------------------------------------------------------- records


def read_records(nb_or_path) -> dict[str, Any]:
    """Values recorded with :func:`mlkit.record` in an executed notebook, in order."""
    nb = nb_or_path
    if isinstance(nb_or_path, (str, os.PathLike)):
        nb = nbformat.read(Path(nb_or_path), as_version=4)
    records: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(RECORD_MIME)
            if payload is None:
                continue
            name = payload["name"]
            if name in records:
                raise RecordError(f"record {name!r} appears twice in the executed notebook")
            records[name] = payload["value"]
    return records


# --------------------------------------------------------------------------- run


@contextlib.contextmanager
def _environ(overrides: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


_ADDED_TAGS = ("injected-parameters", "papermill-error-cell-tag")


def _executed_cells(nb) -> list:
    """Cells as papermill executed them (without the error banners it adds afterwards)."""
    return [
        c for c in nb.cells if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])
    ]


def _original_cell_number(cells: list, index: int) -> int:
    """1-based position of executed cell ``index`` in the notebook as the user sees it."""
    added = sum(
        1
        for cell in cells[:index]
        if any(tag in cell.get("metadata", {}).get("tags", []) for tag in _ADDED_TAGS)
    )
    return index - added + 1


def _failed_cell(nb) -> tuple[int | None, Any]:
    """The cell whose outputs hold an error, else the cell papermill marked as running."""
    cells = _executed_cells(nb)
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return index, cell
    for index, cell in enumerate(cells):
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if status == "running":
            return index, cell
    return None, None


def default_output(path: Path, profile: str | None) -> Path:
    return build_dir() / "executed" / (profile or "default") / path.name


def run(
    path: str | os.PathLike,
    profile: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    output: str | os.PathLike | None = None,
    *,
    timeout: float | None = DEFAULT_CELL_TIMEOUT,
    progress: bool = False,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
) -> NotebookResult:
    """Execute a notebook with papermill and return its records.

    Parameters
    ----------
    path : path to the ``.ipynb``.
    profile : {"smoke", "ci", "workshop", "full"}, optional
        Sets the notebook's ``PROFILE`` parameter.
    parameters : mapping, optional
        Other values for the ``parameters`` cell; checked before any kernel starts.
    output : path, optional
        Where the executed copy goes (default ``build/executed/<profile>/<name>``).
    timeout : float, optional
        Per-cell limit in seconds; a cell running longer is cut.
    progress : bool
        Papermill's progress bar (off in tests, on in the CLI).
    cwd : path, optional
        Kernel working directory (default: the notebook's folder).
    env : mapping, optional
        Extra environment variables for the kernel (e.g. ``MLKIT_SCHEDULER``).
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"notebook {path} does not exist")
    params = dict(parameters or {})
    if profile is not None:
        check_profile(profile)
        if "PROFILE" in params and params["PROFILE"] != profile:
            raise ParameterError(
                f"notebook {path.name}: profile={profile!r} conflicts with PROFILE={params['PROFILE']!r}"
            )
        declared = notebook_parameters(path)
        if "PROFILE" not in declared:
            raise ParameterError(
                f"notebook {path.name}: profile {profile!r} given but the parameters cell has no PROFILE"
            )
        params["PROFILE"] = profile
    params = check_parameters(path, params)
    out = Path(output).resolve() if output is not None else default_output(path, profile)
    out.parent.mkdir(parents=True, exist_ok=True)
    kernel_env = {"MLKIT_HEADLESS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    kernel_env.update(env or {})
    started = time.perf_counter()
    try:
        with _environ(kernel_env):
            pm.execute_notebook(
                str(path),
                str(out),
                parameters=params,
                kernel_name=KERNEL,
                progress_bar=progress,
                execution_timeout=timeout,
                cwd=str(cwd or path.parent),
                log_output=False,
                request_save_on_cell_execute=True,
            )
    except PapermillExecutionError as exc:
        cells = _executed_cells(nbformat.read(out, as_version=4))
        index = exc.cell_index
        raise NotebookExecutionError(
            path.name,
            _original_cell_number(cells, index) if index is not None else None,
            exc.ename,
            exc.evalue,
            out,
            execution_count=exc.exec_count,
            source=exc.source or "",
            traceback="\n".join(exc.traceback or []),
        ) from None
    except Exception as exc:
        # Timeouts (nbclient's CellTimeoutError) and kernel deaths arrive here; the
        # partial copy was saved after each cell, so point at the cell that was running.
        if not out.is_file():
            raise
        nb = nbformat.read(out, as_version=4)
        index, cell = _failed_cell(nb)
        is_timeout = type(exc).__name__ == "CellTimeoutError"
        cls = NotebookTimeoutError if is_timeout else NotebookExecutionError
        evalue = (
            f"cell exceeded the {timeout:g} s per-cell timeout and was cut"
            if is_timeout and timeout
            else str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        )
        raise cls(
            path.name,
            _original_cell_number(_executed_cells(nb), index) if index is not None else None,
            type(exc).__name__,
            evalue,
            out,
            source=cell.source if cell is not None else "",
        ) from exc
    seconds = time.perf_counter() - started
    return NotebookResult(
        notebook=path,
        output_path=out,
        records=read_records(out),
        parameters=params,
        profile=profile,
        seconds=seconds,
    )
