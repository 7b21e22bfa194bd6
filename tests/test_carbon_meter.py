"""widgets.CarbonMeter: live session / per-cell figures, equivalents, method label."""

from __future__ import annotations

import pytest

from tests.test_carbon_ledger import scripted_ledger
from widgets import CarbonMeter


def test_meter_updates_after_each_cell(shell, tmp_path):
    led, _, _ = scripted_ledger(shell, tmp_path, intensity=175)
    meter = CarbonMeter(led)
    assert "No cell finished yet" in meter.last_cell.value
    assert meter.chart.outputs == ()
    shell.run_cell("usage.cpu += 36.0; clock.t += 40.0", store_history=True)  # 360 J
    assert "estimated" in meter.header.value
    assert "360 J" in meter.last_cell.value
    assert "km by car" in meter.header.value and "phone charges" in meter.header.value
    assert "range" in meter.header.value
    assert len(meter.chart.outputs) == 1
    assert "application/vnd.plotly.v1+json" in meter.chart.outputs[0]["data"]
    shell.run_cell("usage.cpu += 3.6", store_history=True)
    fig = meter.figure()
    assert list(fig.data[0].y) == pytest.approx([360.0, 36.0])
    # error bars span the estimate's range (10 W/core, 5-20 W/core)
    assert list(fig.data[0].error_y.arrayminus) == pytest.approx([180.0, 18.0])
    assert list(fig.data[0].error_y.array) == pytest.approx([360.0, 36.0])
    assert "Plotly.newPlot" in meter.to_html()
    meter.close()
    assert meter._on_row not in led.listeners
    with pytest.raises(ValueError, match="max_cells"):
        CarbonMeter(led, max_cells=0)
