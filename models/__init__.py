"""Risk selectors: XGBoost training, metrics at inspection rates, selection policy, MLflow registry."""
