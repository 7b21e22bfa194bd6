"""Interactive ipywidgets + plotly tools for mlkit (threshold, SHAP, fairness, carbon)."""

from .carbon_meter import CarbonMeter
from .fairness_dashboard import FairnessDashboard
from .shap_explorer import ShapExplorer
from .threshold_explorer import ThresholdExplorer

__all__: list[str] = ["CarbonMeter", "FairnessDashboard", "ShapExplorer", "ThresholdExplorer"]
