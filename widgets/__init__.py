"""Interactive ipywidgets + plotly tools for mlkit (threshold, SHAP, fairness, carbon)."""

from .carbon_meter import CarbonMeter

__all__: list[str] = ["CarbonMeter"]
