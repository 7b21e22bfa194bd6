"""The per-cell carbon ledger: IPython hooks, idle rows, reloads, files, papermill."""

from __future__ import annotations

import pandas as pd
import pytest

import mlkit.carbon as mc
from mlkit.carbon.meter import Meter, Sampler
from tests.test_carbon import PROFILE, FakeClock, ScriptedUsage


def n_hooks(sh) -> int:
    return sum(
        1
        for event in ("pre_run_cell", "post_run_cell")
        for cb in sh.events.callbacks[event]
        if getattr(cb, "__self__", None).__class__.__name__ == "CellLedger"
    )


def scripted_ledger(sh, tmp_path, **kw):
    usage, clock = ScriptedUsage(), FakeClock()
    meter = Meter(rapl_root=tmp_path / "none", gpu=False, cpu_profile=PROFILE, estimate_sampler=usage, clock=clock)
    led = mc.CellLedger(meter=meter, sampler=Sampler(meter, 60.0), intensity=kw.pop("intensity", 500), **kw)
    led.start(sh)
    sh.user_ns.update(usage=usage, clock=clock)
    return led, usage, clock


def test_one_row_per_cell_and_idle_rows(shell, tmp_path):
    led, usage, clock = scripted_ledger(shell, tmp_path)
    clock.t += 5.0  # idle before the first cell
    shell.run_cell("usage.cpu += 2.0; clock.t += 1.0", store_history=True)
    clock.t += 30.0  # the user reads the output
    usage.cpu += 0.5  # background work while idle (e.g. the sampler, a thread)
    shell.run_cell("usage.cpu += 1.0; clock.t += 2.0", store_history=True)
    df = led.to_frame()
    assert list(df["kind"]) == ["idle", "cell", "idle", "cell"]
    cells = df[df["kind"] == "cell"]
    assert list(cells["cpu_s"]) == pytest.approx([2.0, 1.0])
    assert list(cells["duration_s"]) == pytest.approx([1.0, 2.0])
    assert list(cells["energy_cpu_j"]) == pytest.approx([20.0, 10.0])
    assert cells["execution_count"].tolist() == sorted(cells["execution_count"].tolist())
    assert cells["cell"].iloc[0].startswith("usage.cpu += 2.0")
    idle = df[df["kind"] == "idle"]
    assert list(idle["duration_s"]) == pytest.approx([5.0, 30.0])
    assert idle["energy_cpu_j"].iloc[1] == pytest.approx(5.0)
    assert set(df["method"]) == {"estimated"}
    assert (df["co2e_low_g"] <= df["co2e_g"]).all() and (df["co2e_g"] <= df["co2e_high_g"]).all()
    assert (df["intensity_g_per_kwh"] == 500).all() and (df["factor_source"] == "user-set").all()
    s = led.summary()
    assert s["n_cells"] == 2 and s["n_idle"] == 2
    assert s["energy_j"] == pytest.approx(df["energy_j"].sum())  # rows tile the session
    assert s["cells_energy_j"] == pytest.approx(30.0)
    assert len(led.hook_seconds) == 2


def test_reprice_save_and_read_back(shell, tmp_path):
    led, _, _ = scripted_ledger(shell, tmp_path)
    shell.run_cell("usage.cpu += 3.6", store_history=True)
    led.set_factor("FRA", pue=1.2)
    fra = mc.grid_intensity("FRA")
    row = led.rows[-1]
    assert row["co2e_g"] == pytest.approx(36.0 / 3.6e6 * 1.2 * fra.g_per_kwh)
    assert row["region"] == "FRA" and row["factor_year"] == fra.year
    for suffix, reader in ((".csv", pd.read_csv), (".parquet", pd.read_parquet)):
        path = led.save(tmp_path / "out" / f"ledger{suffix}")
        back = reader(path)
        assert len(back) == len(led.rows)
        assert back["co2e_g"].iloc[-1] == pytest.approx(row["co2e_g"])
        assert back["factor_source"].iloc[-1] == fra.source
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ledger.csv", "ledger.parquet"]
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        led.save(tmp_path / "ledger.xlsx")


def test_load_ext_is_idempotent_and_survives_reload(shell):
    shell.run_line_magic("load_ext", "mlkit.carbon")
    shell.run_line_magic("load_ext", "mlkit.carbon")
    assert n_hooks(shell) == 2
    first = mc.ledger(shell)
    shell.run_line_magic("reload_ext", "mlkit.carbon")
    assert n_hooks(shell) == 2
    shell.run_cell("x = sum(range(1000))", store_history=True)
    current = mc.ledger(shell)
    assert current.active and current.cells()
    assert not first.active or first is current
    shell.run_line_magic("unload_ext", "mlkit.carbon")
    assert n_hooks(shell) == 0
    rows_before = len(current.rows)
    shell.run_cell("y = 1", store_history=True)
    assert len(current.rows) == rows_before


def test_function_form_footprint_line_and_listener(shell, tmp_path):
    led, _, _ = scripted_ledger(shell, tmp_path)
    assert mc.ledger(shell) is led
    seen = []
    led.listeners.append(seen.append)
    led.listeners.append(lambda row: 1 / 0)  # a broken listener must not break cells
    result = shell.run_cell("usage.cpu += 1.0", store_history=True)
    assert result.success
    assert len(seen) == 1 and seen[0]["energy_cpu_j"] == pytest.approx(10.0)
    line = mc.footprint_line(led)
    assert "1 cells" in line and "estimated" in line and "range" in line and "gCO2e/kWh" in line
    assert mc.footprint_markdown(led).startswith("🌱 **Carbon footprint**")


def test_report_footprint_without_ledger_estimates_process_lifetime(monkeypatch):
    import sys

    ledger_mod = sys.modules["mlkit.carbon.ledger"]  # the package's `ledger` is the function

    monkeypatch.setattr(ledger_mod, "_current_shell", lambda: None)
    monkeypatch.setattr(ledger_mod, "_detached", None)
    text = mc.report_footprint()
    assert "since kernel start" in text and "estimated" in text


@pytest.mark.notebook
def test_load_ext_under_papermill_lands_in_the_executed_notebook(tmp_path):
    from mlkit.notebook import run
    from tests.nbfactory import make_notebook

    nb = make_notebook(
        tmp_path / "carbon_tiny.ipynb",
        [
            ("md", "# Tiny carbon notebook"),
            ("params", 'PROFILE = "ci"'),
            ("code", "%load_ext mlkit.carbon"),
            ("code", "import time\ns = time.process_time()\nwhile time.process_time() - s < 0.3: pass"),
            ("code", "import mlkit, mlkit.carbon\nled = mlkit.carbon.ledger()\nled.record()\nmlkit.carbon.report_footprint()"),
        ],
    )
    result = run(nb, profile="ci", output=tmp_path / "out.ipynb", timeout=120)
    ledger = result.records["carbon_ledger"]
    rows = ledger["rows"]
    cells = [r for r in rows if r["kind"] == "cell"]
    assert len(cells) >= 2  # the busy cell and the parameters / injected cells
    busy = max(cells, key=lambda r: r["cpu_s"])
    assert busy["cpu_s"] >= 0.25 and busy["method"] == "estimated"
    assert busy["co2e_low_g"] < busy["co2e_g"] < busy["co2e_high_g"]
    assert ledger["summary"]["n_cells"] == len(cells)
    text = (tmp_path / "out.ipynb").read_text()
    assert "Carbon footprint" in text
