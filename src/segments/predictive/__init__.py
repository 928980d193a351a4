"""Predictive and discovered segments: the maths behind the dbt Python models in models/marts/predictive.

bgnbd (repeat purchases and probability alive), gamma_gamma (spend per order), churn (logistic
regression trained point-in-time), clusters (k-means with k by silhouette and stable names) and
features (the point-in-time customer summaries they read). Pure functions on numpy arrays and
pandas frames, unit-tested without dbt (python_tests/test_predictive.py).
"""
