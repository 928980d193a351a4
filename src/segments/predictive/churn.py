"""Churn risk: logistic regression trained point-in-time, scored with its stored coefficients.

Training rows are the customers who had bought by the cut-off (the as-of date minus the horizon),
with features computed as of the cut-off and the label churned = no qualifying order in the
horizon after it. Customers are split by a hash of their key into a training part and a held-out
part (var churn_holdout_share); the model is scored on the held-out part: ROC-AUC, and precision
and recall at each risk threshold, beside the AUC of a recency-only baseline (more days since the
last order = more risk). Features are log1p-transformed and standardised; the coefficients, means
and scales are stored so that scoring everyone at the as-of date is one matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from segments.predictive.errors import FitError, InadequateData
from segments.predictive.sampling import BUCKETS, key_hashes, mask_below, salted_buckets

FloatArray = npt.NDArray[np.float64]
FEATURES = (
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "tenure_days",
    "frequency_90d",
    "engagement_score",
)


@dataclass(frozen=True)
class ChurnFit:
    """Coefficients on standardised log1p features, and held-out metrics."""

    intercept: float
    coefficients: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]
    auc: float
    baseline_auc: float
    training_customers: int
    holdout_customers: int
    churn_rate: float
    threshold_metrics: dict[float, tuple[float, float]] = field(default_factory=dict)


def design_matrix(features: pd.DataFrame) -> FloatArray:
    """log1p of the model features (negative values are clipped at 0), as a float matrix."""
    missing = [name for name in FEATURES if name not in features.columns]
    if missing:
        raise FitError(f"churn: feature columns missing: {', '.join(missing)}")
    values = features[list(FEATURES)].astype("float64").fillna(0.0).to_numpy()
    matrix: FloatArray = np.log1p(np.clip(values, 0.0, None))
    return matrix


def _standardise(matrix: FloatArray, means: FloatArray, scales: FloatArray) -> FloatArray:
    result: FloatArray = (matrix - means) / scales
    return result


def fit(
    customer_keys: pd.Series,
    features: pd.DataFrame,
    churned: npt.NDArray[np.bool_],
    thresholds: tuple[float, ...],
    holdout_share: float,
    max_training_customers: int,
    seed: int,
) -> ChurnFit:
    """Train on the non-held-out customers (sampled to max_training_customers) and measure on the rest."""
    labels = np.asarray(churned, dtype=bool)
    if len(customer_keys) != len(features) or len(features) != labels.size:
        raise FitError("churn: keys, features and labels must have the same length")
    hashes = key_hashes(customer_keys.reset_index(drop=True))
    holdout = salted_buckets(hashes, "churn_holdout") < int(BUCKETS * holdout_share)
    training = ~holdout
    if labels[training].all() or not labels[training].any():
        raise InadequateData("the training customers are all churned or all retained (one churn class only)")
    if labels[holdout].all() or not labels[holdout].any():
        raise InadequateData("the held-out customers are all churned or all retained (one class: no AUC)")
    matrix = design_matrix(features)
    train_index = np.flatnonzero(training)
    sampled = mask_below(salted_buckets(hashes[train_index], "churn_training"), max_training_customers)
    train_index = train_index[sampled]
    means = matrix[train_index].mean(axis=0)
    scales = matrix[train_index].std(axis=0)
    scales = np.where(scales > 0, scales, 1.0)
    model = LogisticRegression(max_iter=1000, random_state=seed)
    model.fit(_standardise(matrix[train_index], means, scales), labels[train_index])
    intercept = float(model.intercept_[0])
    coefficients = np.asarray(model.coef_[0], dtype=np.float64)
    if not np.isfinite(intercept) or not np.all(np.isfinite(coefficients)):
        raise FitError("churn: the logistic regression produced non-finite coefficients")
    result = ChurnFit(
        intercept=intercept,
        coefficients=dict(zip(FEATURES, coefficients.tolist(), strict=True)),
        means=dict(zip(FEATURES, means.tolist(), strict=True)),
        scales=dict(zip(FEATURES, scales.tolist(), strict=True)),
        auc=0.0,
        baseline_auc=0.0,
        training_customers=int(train_index.size),
        holdout_customers=int(holdout.sum()),
        churn_rate=float(labels.mean()),
    )
    probabilities = score(result, features.iloc[np.flatnonzero(holdout)])
    held_labels = labels[holdout]
    recency = features["recency_days"].astype("float64").to_numpy()[holdout]
    metrics = {}
    for threshold in thresholds:
        predicted = probabilities >= threshold
        true_positives = float(np.sum(predicted & held_labels))
        precision = true_positives / float(predicted.sum()) if predicted.any() else 0.0
        recall = true_positives / float(held_labels.sum())
        metrics[threshold] = (precision, recall)
    return ChurnFit(
        intercept=result.intercept,
        coefficients=result.coefficients,
        means=result.means,
        scales=result.scales,
        auc=float(roc_auc_score(held_labels, probabilities)),
        baseline_auc=float(roc_auc_score(held_labels, recency)),
        training_customers=result.training_customers,
        holdout_customers=result.holdout_customers,
        churn_rate=result.churn_rate,
        threshold_metrics=metrics,
    )


def score(fit: ChurnFit, features: pd.DataFrame) -> FloatArray:
    """Churn probability of each row from the stored coefficients."""
    means = np.array([fit.means[name] for name in FEATURES])
    scales = np.array([fit.scales[name] for name in FEATURES])
    weights = np.array([fit.coefficients[name] for name in FEATURES])
    linear = _standardise(design_matrix(features), means, scales) @ weights + fit.intercept
    probabilities: FloatArray = 1.0 / (1.0 + np.exp(-linear))
    return probabilities


def risk_levels(probabilities: FloatArray, high: float, medium: float) -> npt.NDArray[np.object_]:
    """'high' at or above the high threshold, 'medium' at or above the medium one, else 'low'."""
    levels: npt.NDArray[np.object_] = np.where(
        probabilities >= high, "high", np.where(probabilities >= medium, "medium", "low")
    ).astype(object)
    return levels
