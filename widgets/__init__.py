"""Interactive ipywidgets + plotly tools for mlkit (threshold, SHAP, fairness, carbon)."""

__all__: list[str] = []
