"""What the dbt Python models run: fit the three models as of a date, and score every customer.

models/intermediate/predictive/int_predictive__fits.py and int_predictive__scores.py are thin
wrappers around fit_all and score_all. Both read the orders and daily-activity models (as SQL
table expressions) for the point-in-time summaries, and the feature marts for the features at
the as-of date. fit_all returns the long statistics table (parameters, metrics and centroids);
score_all reads it back, so scoring everyone never refits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from segments.predictive import bgnbd, churn, clusters, features, gamma_gamma
from segments.predictive.errors import FitError
from segments.predictive.sampling import sample_mask

STATISTIC_COLUMNS = (
    "as_of_date",
    "model_name",
    "statistic_kind",
    "statistic_name",
    "segment_name",
    "threshold",
    "value",
    "standard_error",
)


@dataclass(frozen=True)
class Settings:
    """The vars the models read (dbt_project.yml, passed through the models' config)."""

    horizon_days: int
    engagement_weights: Mapping[str, float]
    engagement_half_life_days: float
    fit_sample_customers: int
    churn_thresholds: tuple[float, float]
    churn_holdout_share: float
    churn_max_training_customers: int
    cluster_k_min: int
    cluster_k_max: int
    cluster_min_share: float
    cluster_fit_sample_customers: int
    cluster_silhouette_sample_customers: int
    cluster_initialisations: int
    seed: int


@dataclass(frozen=True)
class Sources:
    """SQL table expressions of the models read."""

    orders: str
    activity: str
    customer_rfm: str
    customer_engagement: str


def _summaries(
    connection: duckdb.DuckDBPyConnection, sources: Sources, as_of: dt.date, settings: Settings
) -> pd.DataFrame:
    return features.customer_summaries(
        connection,
        sources.orders,
        sources.activity,
        as_of,
        settings.engagement_weights,
        settings.engagement_half_life_days,
        settings.horizon_days,
    )


def mart_features(connection: duckdb.DuckDBPyConnection, sources: Sources, settings: Settings) -> pd.DataFrame:
    """Buyers at the as-of date with the churn and cluster features, from customer_rfm and customer_engagement."""
    window = int(settings.horizon_days)
    query = f"""
select rfm.customer_key, rfm.recency_days, rfm.frequency, cast(rfm.monetary as double) as monetary,
    cast(rfm.avg_order_value as double) as avg_order_value, rfm.tenure_days,
    rfm.frequency_{window}d, engagement.engagement_score
from {sources.customer_rfm} as rfm
inner join {sources.customer_engagement} as engagement on rfm.customer_key = engagement.customer_key
where rfm.frequency > 0
order by rfm.customer_key
"""
    frame: pd.DataFrame = connection.execute(query).df()
    return frame


def _rows(
    as_of: dt.date,
    model: str,
    kind: str,
    values: Mapping[str, float],
    errors: Mapping[str, float] | None = None,
    segment: str | None = None,
    threshold: float | None = None,
) -> list[dict[str, object]]:
    return [
        {
            "as_of_date": as_of,
            "model_name": model,
            "statistic_kind": kind,
            "statistic_name": name,
            "segment_name": segment,
            "threshold": threshold,
            "value": float(value),
            "standard_error": None if errors is None else float(errors[name]),
        }
        for name, value in values.items()
    ]


def _bgnbd_inputs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        frame.repeat_purchases.to_numpy(np.float64),
        frame.recency_time.to_numpy(np.float64),
        frame.age.to_numpy(np.float64),
    )


def _fit_value_models(summary: pd.DataFrame, settings: Settings) -> tuple[bgnbd.BgNbdFit, gamma_gamma.GammaGammaFit]:
    sampled = summary[sample_mask(summary.customer_key, settings.fit_sample_customers, "clv_fit")]
    purchases = bgnbd.fit(*_bgnbd_inputs(sampled))
    repeaters = sampled[sampled.repeat_purchases > 0]
    spend = gamma_gamma.fit(
        repeaters.repeat_purchases.to_numpy(np.float64), repeaters.repeat_mean_spend.to_numpy(np.float64)
    )
    return purchases, spend


def fit_all(
    connection: duckdb.DuckDBPyConnection, sources: Sources, as_of: dt.date, settings: Settings
) -> pd.DataFrame:
    """Fit BG/NBD, Gamma-Gamma, churn and clusters as of the date; the long statistics table."""
    horizon = settings.horizon_days
    cut_off = as_of - dt.timedelta(days=horizon)
    rows: list[dict[str, object]] = []

    # lifetime value at the date, and the same fit at the cut-off checked on the next horizon
    now = _summaries(connection, sources, as_of, settings)
    purchases, spend = _fit_value_models(now, settings)
    rows += _rows(as_of, "bgnbd", "parameter", purchases.parameters(), purchases.standard_errors)
    rows += _rows(
        as_of,
        "bgnbd",
        "metric",
        {
            "log_likelihood": purchases.log_likelihood,
            "customers": purchases.customers,
            "has_dropout": float(purchases.has_dropout),
        },
    )
    rows += _rows(as_of, "gamma_gamma", "parameter", spend.parameters(), spend.standard_errors)
    rows += _rows(
        as_of,
        "gamma_gamma",
        "metric",
        {
            "log_likelihood": spend.log_likelihood,
            "customers": spend.customers,
            "heterogeneous": float(spend.heterogeneous),
        },
    )

    before = _summaries(connection, sources, cut_off, settings)
    future = features.future_purchases(connection, sources.orders, cut_off, horizon).set_index("customer_key")
    actual_days = future.future_purchase_days.reindex(before.customer_key).fillna(0).to_numpy(np.float64)
    actual_orders = future.future_orders.reindex(before.customer_key).fillna(0).to_numpy(np.float64)
    if len(before) > 0:
        holdout_purchases, _ = _fit_value_models(before, settings)
        predicted = bgnbd.expected_purchases(holdout_purchases, horizon, *_bgnbd_inputs(before))
        previous_period = before[f"purchase_days_{horizon}d"].to_numpy(np.float64)
        rows += _rows(
            as_of,
            "bgnbd",
            "metric",
            {
                "holdout_mae": float(np.mean(np.abs(predicted - actual_days))),
                "naive_mae": float(np.mean(np.abs(previous_period - actual_days))),
                "holdout_customers": float(len(before)),
            },
        )

        # churn: trained on features at the cut-off, label = no qualifying order in the horizon after it
        churned = actual_orders == 0
        model = churn.fit(
            before.customer_key,
            before,
            churned,
            settings.churn_thresholds,
            settings.churn_holdout_share,
            settings.churn_max_training_customers,
            settings.seed,
        )
        rows += _rows(as_of, "churn", "parameter", {"intercept": model.intercept})
        for name in churn.FEATURES:
            rows += _rows(as_of, "churn", "coefficient", {name: model.coefficients[name]})
            rows += _rows(as_of, "churn", "feature_mean", {name: model.means[name]})
            rows += _rows(as_of, "churn", "feature_scale", {name: model.scales[name]})
        rows += _rows(
            as_of,
            "churn",
            "metric",
            {
                "auc": model.auc,
                "baseline_auc": model.baseline_auc,
                "churn_rate": model.churn_rate,
                "training_customers": model.training_customers,
                "holdout_customers": model.holdout_customers,
            },
        )
        for level, threshold in zip(("high", "medium"), settings.churn_thresholds, strict=True):
            precision, recall = model.threshold_metrics[threshold]
            rows += _rows(
                as_of, "churn", "metric", {"precision": precision, "recall": recall}, segment=level, threshold=threshold
            )
    else:
        raise FitError(
            f"churn: no customer had bought by the training cut-off {cut_off} (as-of date minus the horizon)"
        )

    # clusters on the features at the date (the feature marts)
    current = mart_features(connection, sources, settings)
    found = clusters.fit(
        current.customer_key,
        current,
        settings.cluster_k_min,
        settings.cluster_k_max,
        settings.cluster_min_share,
        settings.cluster_fit_sample_customers,
        settings.cluster_silhouette_sample_customers,
        settings.cluster_initialisations,
        settings.seed,
    )
    rows += _rows(
        as_of,
        "clusters",
        "metric",
        {"k": found.k, "silhouette": found.silhouette, "davies_bouldin": found.davies_bouldin},
    )
    for k, value in found.silhouettes.items():
        rows += _rows(as_of, "clusters", "silhouette_by_k", {f"k{k}": value})
    for index, name in enumerate(found.names):
        for position, feature in enumerate(clusters.FEATURES):
            rows += _rows(
                as_of,
                "clusters",
                "centroid_standardised",
                {feature: found.centroids[index, position]},
                segment=name,
            )
        rows += _rows(as_of, "clusters", "rank", {"cluster_rank": index + 1}, segment=name)
    original = clusters.centroids_in_original_units(found)
    for record in original.to_dict("records"):
        rows += _rows(
            as_of,
            "clusters",
            "centroid",
            {f: record[f] for f in clusters.FEATURES},
            segment=str(record["cluster_name"]),
        )
    for position, feature in enumerate(clusters.FEATURES):
        rows += _rows(as_of, "clusters", "feature_mean", {feature: found.means[position]})
        rows += _rows(as_of, "clusters", "feature_scale", {feature: found.scales[position]})
    frame = pd.DataFrame(rows, columns=list(STATISTIC_COLUMNS))
    if not np.all(np.isfinite(frame.value.to_numpy(np.float64))):
        raise FitError("predictive: a fitted statistic is not finite")
    return frame


def _statistics(fits: pd.DataFrame, model: str, kind: str) -> dict[str, float]:
    chosen = fits[(fits.model_name == model) & (fits.statistic_kind == kind)]
    return dict(zip(chosen.statistic_name, chosen.value.astype(float), strict=True))


def score_all(
    connection: duckdb.DuckDBPyConnection, sources: Sources, as_of: dt.date, settings: Settings, fits: pd.DataFrame
) -> pd.DataFrame:
    """Every buyer at the date: expected purchases, probability alive, CLV, churn probability, cluster."""
    value = _statistics(fits, "bgnbd", "parameter")
    purchases = bgnbd.BgNbdFit(
        value["r"], value["alpha"], value.get("a", 0.0), value.get("b", 0.0), {}, 0.0, 0, "a" in value
    )
    money = _statistics(fits, "gamma_gamma", "parameter")
    spend = gamma_gamma.GammaGammaFit(
        money["p"], money.get("q", 0.0), money.get("gamma", 0.0), {}, 0.0, 0, "nu" not in money, money.get("nu", 0.0)
    )
    summary = _summaries(connection, sources, as_of, settings)
    inputs = _bgnbd_inputs(summary)
    expected = bgnbd.expected_purchases(purchases, settings.horizon_days, *inputs)
    order_value = gamma_gamma.expected_spend(spend, inputs[0], summary.repeat_mean_spend.to_numpy(np.float64))
    scores = pd.DataFrame(
        {
            "customer_key": summary.customer_key,
            "repeat_purchases": summary.repeat_purchases.astype("int64"),
            "expected_purchases": expected,
            "probability_alive": bgnbd.probability_alive(purchases, *inputs),
            "expected_order_value": order_value,
            "predicted_clv": expected * order_value,
        }
    )

    current = mart_features(connection, sources, settings)
    model = churn.ChurnFit(
        intercept=_statistics(fits, "churn", "parameter")["intercept"],
        coefficients=_statistics(fits, "churn", "coefficient"),
        means=_statistics(fits, "churn", "feature_mean"),
        scales=_statistics(fits, "churn", "feature_scale"),
        auc=0.0,
        baseline_auc=0.0,
        training_customers=0,
        holdout_customers=0,
        churn_rate=0.0,
    )
    centroid_rows = fits[(fits.model_name == "clusters") & (fits.statistic_kind == "centroid_standardised")]
    ranks = fits[(fits.model_name == "clusters") & (fits.statistic_kind == "rank")]
    names = tuple(ranks.sort_values("value").segment_name)
    centroids = np.array(
        [
            [
                float(
                    centroid_rows[
                        (centroid_rows.segment_name == name) & (centroid_rows.statistic_name == f)
                    ].value.iloc[0]
                )
                for f in clusters.FEATURES
            ]
            for name in names
        ]
    )
    cluster_means = _statistics(fits, "clusters", "feature_mean")
    cluster_scales = _statistics(fits, "clusters", "feature_scale")
    found = clusters.ClusterFit(
        k=len(names),
        names=names,
        centroids=centroids,
        means=np.array([cluster_means[f] for f in clusters.FEATURES]),
        scales=np.array([cluster_scales[f] for f in clusters.FEATURES]),
        silhouette=0.0,
        davies_bouldin=0.0,
        silhouettes={},
        smallest_shares={},
    )
    scored = pd.DataFrame(
        {
            "customer_key": current.customer_key,
            "churn_probability": churn.score(model, current),
            "cluster_name": clusters.assign(found, current),
        }
    )
    result = scores.merge(scored, on="customer_key", how="outer", validate="one_to_one")
    result.insert(0, "as_of_date", as_of)
    numeric = result[
        ["expected_purchases", "probability_alive", "expected_order_value", "predicted_clv", "churn_probability"]
    ]
    if numeric.isna().any().any() or not np.all(np.isfinite(numeric.to_numpy(np.float64))):
        raise FitError("predictive: a score is missing or not finite for some customers")
    return result.sort_values("customer_key").reset_index(drop=True)
