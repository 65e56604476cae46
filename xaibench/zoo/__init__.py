"""Built-in models: recipes, builds (training from real review text), the planted-cause
counterfactual check and model-card quality numbers. Its modules register the recipes in
``xaibench.core.registry.models`` when discovered."""
