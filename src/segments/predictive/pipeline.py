"""What the dbt Python models run: fit the three models as of a date, and score every customer.

models/intermediate/predictive/int_predictive__fits.py and int_predictive__scores.py are thin
wrappers around fit_all and score_all. Both read the orders and daily-activity models (as SQL
table expressions) for the point-in-time summaries, and the feature marts for the features at
the as-of date. fit_all returns the long statistics table (parameters, metrics and centroids);
score_all reads it back, so scoring everyone never refits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd

from segments.predictive import bgnbd, churn, clusters, features, gamma_gamma
from segments.predictive.errors import FitError, InadequateData
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
    "reason",
)
# explicit types, so that a date with few statistics (or none fitted) gives the same table
STATISTIC_TYPES = {
    "model_name": "string",
    "statistic_kind": "string",
    "statistic_name": "string",
    "segment_name": "string",
    "threshold": "float64",
    "value": "float64",
    "standard_error": "float64",
    "reason": "string",
}
FITTED = "fitted"
NOT_FITTED = "not_fitted"
MODELS = ("bgnbd", "gamma_gamma", "churn", "clusters")
Fitted = TypeVar("Fitted")


@dataclass(frozen=True)
class Settings:
    """The vars the models read (dbt_project.yml, passed through the models' config)."""

    horizon_days: int
    min_fit_customers: int
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

    @classmethod
    def from_vars(cls, v: Mapping[str, Any]) -> Settings:
        """Settings from the project's vars by their dbt names (VAR_NAMES)."""
        return cls(
            horizon_days=int(v["predictive_horizon_days"]),
            min_fit_customers=int(v["predictive_min_fit_customers"]),
            engagement_weights={str(name): float(weight) for name, weight in dict(v["engagement_weights"]).items()},
            engagement_half_life_days=float(v["engagement_half_life_days"]),
            fit_sample_customers=int(v["clv_fit_sample_customers"]),
            churn_thresholds=(float(v["churn_high_threshold"]), float(v["churn_medium_threshold"])),
            churn_holdout_share=float(v["churn_holdout_share"]),
            churn_max_training_customers=int(v["churn_max_training_customers"]),
            cluster_k_min=int(v["cluster_k_min"]),
            cluster_k_max=int(v["cluster_k_max"]),
            cluster_min_share=float(v["min_segment_share"]),
            cluster_fit_sample_customers=int(v["cluster_fit_sample_customers"]),
            cluster_silhouette_sample_customers=int(v["cluster_silhouette_sample_customers"]),
            cluster_initialisations=int(v["cluster_initialisations"]),
            seed=int(v["predictive_seed"]),
        )


# the dbt vars Settings.from_vars reads (the dbt models pass them as one JSON config value)
VAR_NAMES = (
    "predictive_horizon_days",
    "predictive_min_fit_customers",
    "engagement_weights",
    "engagement_half_life_days",
    "clv_fit_sample_customers",
    "churn_high_threshold",
    "churn_medium_threshold",
    "churn_holdout_share",
    "churn_max_training_customers",
    "cluster_k_min",
    "cluster_k_max",
    "min_segment_share",
    "cluster_fit_sample_customers",
    "cluster_silhouette_sample_customers",
    "cluster_initialisations",
    "predictive_seed",
)


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
            "reason": None,
        }
        for name, value in values.items()
    ]


def _status(as_of: dt.date, model: str, fitted: bool, reason: str) -> dict[str, object]:
    """The model's status row of the date: fitted (value 1) or not_fitted (value 0), and why."""
    return {
        "as_of_date": as_of,
        "model_name": model,
        "statistic_kind": "status",
        "statistic_name": FITTED if fitted else NOT_FITTED,
        "segment_name": None,
        "threshold": None,
        "value": 1.0 if fitted else 0.0,
        "standard_error": None,
        "reason": reason,
    }


def _attempt(model: str, as_of: dt.date, work: Callable[[], Fitted]) -> Fitted | InadequateData:
    """Run one fit: its result, or the InadequateData saying why it was not fitted. A FitError
    (adequate data that did not converge) is raised again naming the model and the date."""
    try:
        return work()
    except InadequateData as reason:
        return reason
    except FitError as error:
        raise FitError(f"{model} as of {as_of}: {error}") from error


def _too_few(count: int, what: str, settings: Settings) -> None:
    if count < settings.min_fit_customers:
        raise InadequateData(f"{count} {what}, fewer than predictive_min_fit_customers ({settings.min_fit_customers})")


def _bgnbd_inputs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        frame.repeat_purchases.to_numpy(np.float64),
        frame.recency_time.to_numpy(np.float64),
        frame.age.to_numpy(np.float64),
    )


def _clv_sample(summary: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    sampled: pd.DataFrame = summary[sample_mask(summary.customer_key, settings.fit_sample_customers, "clv_fit")]
    return sampled


def fit_purchases(summary: pd.DataFrame, settings: Settings) -> bgnbd.BgNbdFit:
    """BG/NBD on the CLV sample of the buyers; InadequateData with too few repeat purchasers."""
    sampled = _clv_sample(summary, settings)
    _too_few(int((sampled.repeat_purchases > 0).sum()), "customers with a repeat purchase", settings)
    return bgnbd.fit(*_bgnbd_inputs(sampled))


def fit_spend(summary: pd.DataFrame, settings: Settings) -> gamma_gamma.GammaGammaFit:
    """Gamma-Gamma on the repeat purchasers of the CLV sample; InadequateData with too few."""
    repeaters = _clv_sample(summary, settings)
    repeaters = repeaters[repeaters.repeat_purchases > 0]
    _too_few(len(repeaters), "customers with a repeat purchase", settings)
    return gamma_gamma.fit(
        repeaters.repeat_purchases.to_numpy(np.float64), repeaters.repeat_mean_spend.to_numpy(np.float64)
    )


def fit_churn(
    before: pd.DataFrame, churned: npt.NDArray[np.bool_], cut_off: dt.date, settings: Settings
) -> churn.ChurnFit:
    """The churn model on the buyers of the cut-off; InadequateData with too few or one class."""
    _too_few(len(before), f"customers had bought by the cut-off {cut_off}", settings)
    return churn.fit(
        before.customer_key,
        before,
        churned,
        settings.churn_thresholds,
        settings.churn_holdout_share,
        settings.churn_max_training_customers,
        settings.seed,
    )


def fit_clusters(current: pd.DataFrame, settings: Settings) -> clusters.ClusterFit:
    """k-means on the buyers of the date; InadequateData with too few customers or no eligible k."""
    _too_few(len(current), "buyers at the date", settings)
    return clusters.fit(
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


def _value_rows(
    as_of: dt.date,
    purchases: bgnbd.BgNbdFit | InadequateData,
    spend: gamma_gamma.GammaGammaFit | InadequateData,
    holdout: dict[str, float] | InadequateData,
    cut_off: dt.date,
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    if isinstance(purchases, InadequateData):
        rows.append(_status(as_of, "bgnbd", False, str(purchases)))
    else:
        reason = f"fitted on {purchases.customers} buyers" + (
            "" if purchases.has_dropout else "; NBD limit (dropout not identified)"
        )
        if isinstance(holdout, InadequateData):
            reason += f"; no held-out check as of {cut_off}: {holdout}"
        rows.append(_status(as_of, "bgnbd", True, reason))
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
        if not isinstance(holdout, InadequateData):
            rows += _rows(as_of, "bgnbd", "metric", holdout)
    if isinstance(spend, InadequateData):
        rows.append(_status(as_of, "gamma_gamma", False, str(spend)))
    else:
        reason = f"fitted on {spend.customers} customers with a repeat purchase" + (
            "" if spend.heterogeneous else "; homogeneous limit (heterogeneity not identified)"
        )
        rows.append(_status(as_of, "gamma_gamma", True, reason))
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
    return rows


def _churn_rows(
    as_of: dt.date, model: churn.ChurnFit | InadequateData, cut_off: dt.date, settings: Settings
) -> list[dict[str, object]]:
    if isinstance(model, InadequateData):
        return [_status(as_of, "churn", False, str(model))]
    rows = [
        _status(
            as_of,
            "churn",
            True,
            f"trained on {model.training_customers} customers as of {cut_off}, {model.holdout_customers} held out",
        )
    ]
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
    return rows


def _cluster_rows(as_of: dt.date, found: clusters.ClusterFit | InadequateData, buyers: int) -> list[dict[str, object]]:
    if isinstance(found, InadequateData):
        return [_status(as_of, "clusters", False, str(found))]
    rows = [_status(as_of, "clusters", True, f"k = {found.k} chosen by silhouette, {buyers} buyers assigned")]
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
    return rows


def fit_all(
    connection: duckdb.DuckDBPyConnection, sources: Sources, as_of: dt.date, settings: Settings
) -> pd.DataFrame:
    """Fit BG/NBD, Gamma-Gamma, churn and clusters as of the date; the long statistics table.

    Every model gets a status row (fitted or not_fitted, with the reason). Data too small or too
    degenerate for a model leave it not fitted (its customers are not_scored); a model that does
    not converge on adequate data raises FitError naming it and the date."""
    horizon = settings.horizon_days
    cut_off = as_of - dt.timedelta(days=horizon)

    # lifetime value at the date, and the same fit at the cut-off checked on the next horizon
    now = _summaries(connection, sources, as_of, settings)
    purchases = _attempt("bgnbd", as_of, lambda: fit_purchases(now, settings))
    spend = _attempt("gamma_gamma", as_of, lambda: fit_spend(now, settings))

    before = _summaries(connection, sources, cut_off, settings)
    future = features.future_purchases(connection, sources.orders, cut_off, horizon).set_index("customer_key")
    actual_days = future.future_purchase_days.reindex(before.customer_key).fillna(0).to_numpy(np.float64)
    actual_orders = future.future_orders.reindex(before.customer_key).fillna(0).to_numpy(np.float64)

    def holdout_check() -> dict[str, float]:
        fitted = fit_purchases(before, settings)
        predicted = bgnbd.expected_purchases(fitted, horizon, *_bgnbd_inputs(before))
        previous_period = before[f"purchase_days_{horizon}d"].to_numpy(np.float64)
        return {
            "holdout_mae": float(np.mean(np.abs(predicted - actual_days))),
            "naive_mae": float(np.mean(np.abs(previous_period - actual_days))),
            "holdout_customers": float(len(before)),
        }

    holdout: dict[str, float] | InadequateData = InadequateData("BG/NBD not fitted at the date")
    if not isinstance(purchases, InadequateData):
        holdout = _attempt("bgnbd (held-out fit)", cut_off, holdout_check)
    rows = _value_rows(as_of, purchases, spend, holdout, cut_off)

    # churn: trained on features at the cut-off, label = no qualifying order in the horizon after it
    model = _attempt("churn", as_of, lambda: fit_churn(before, actual_orders == 0, cut_off, settings))
    rows += _churn_rows(as_of, model, cut_off, settings)

    # clusters on the features at the date (the feature marts)
    current = mart_features(connection, sources, settings)
    found = _attempt("clusters", as_of, lambda: fit_clusters(current, settings))
    rows += _cluster_rows(as_of, found, len(current))

    frame = pd.DataFrame(rows, columns=list(STATISTIC_COLUMNS)).astype(STATISTIC_TYPES)
    if not np.all(np.isfinite(frame.value.to_numpy(np.float64))):
        raise FitError(f"predictive as of {as_of}: a fitted statistic is not finite")
    return frame


def _statistics(fits: pd.DataFrame, model: str, kind: str) -> dict[str, float]:
    chosen = fits[(fits.model_name == model) & (fits.statistic_kind == kind)]
    return dict(zip(chosen.statistic_name, chosen.value.astype(float), strict=True))


def fitted_models(fits: pd.DataFrame) -> set[str]:
    """The models whose status row of the fits says fitted."""
    status = fits[(fits.statistic_kind == "status") & (fits.statistic_name == FITTED)]
    return set(status.model_name.astype(str))


def _stored_purchases(fits: pd.DataFrame) -> bgnbd.BgNbdFit:
    value = _statistics(fits, "bgnbd", "parameter")
    return bgnbd.BgNbdFit(
        value["r"], value["alpha"], value.get("a", 0.0), value.get("b", 0.0), {}, 0.0, 0, "a" in value
    )


def _stored_spend(fits: pd.DataFrame) -> gamma_gamma.GammaGammaFit:
    money = _statistics(fits, "gamma_gamma", "parameter")
    return gamma_gamma.GammaGammaFit(
        money["p"], money.get("q", 0.0), money.get("gamma", 0.0), {}, 0.0, 0, "nu" not in money, money.get("nu", 0.0)
    )


def _stored_churn(fits: pd.DataFrame) -> churn.ChurnFit:
    return churn.ChurnFit(
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


def _stored_clusters(fits: pd.DataFrame) -> clusters.ClusterFit:
    centroid_rows = fits[(fits.model_name == "clusters") & (fits.statistic_kind == "centroid_standardised")]
    ranks = fits[(fits.model_name == "clusters") & (fits.statistic_kind == "rank")]
    names = tuple(str(name) for name in ranks.sort_values("value").segment_name)
    lookup = {
        (str(name), str(feature)): float(value)
        for name, feature, value in zip(
            centroid_rows.segment_name, centroid_rows.statistic_name, centroid_rows.value.astype(float), strict=True
        )
    }
    centroids = np.array([[lookup[(name, f)] for f in clusters.FEATURES] for name in names])
    cluster_means = _statistics(fits, "clusters", "feature_mean")
    cluster_scales = _statistics(fits, "clusters", "feature_scale")
    return clusters.ClusterFit(
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


SCORE_COLUMNS = {
    "customer_key": "string",
    "repeat_purchases": "Int64",
    "expected_purchases": "float64",
    "probability_alive": "float64",
    "expected_order_value": "float64",
    "predicted_clv": "float64",
    "churn_probability": "float64",
    "cluster_name": "string",
}


def score_all(
    connection: duckdb.DuckDBPyConnection, sources: Sources, as_of: dt.date, settings: Settings, fits: pd.DataFrame
) -> pd.DataFrame:
    """Every buyer at the date: expected purchases, probability alive, CLV, churn probability, cluster.

    A model not fitted at the date (its status row) leaves its scores null: those customers are
    not_scored in its family (customer_predictions)."""
    fitted = fitted_models(fits)
    summary = _summaries(connection, sources, as_of, settings)
    count = len(summary)
    missing = np.full(count, np.nan)
    inputs = _bgnbd_inputs(summary)
    expected, alive, order_value = missing, missing, missing
    if "bgnbd" in fitted:
        purchases = _stored_purchases(fits)
        expected = bgnbd.expected_purchases(purchases, settings.horizon_days, *inputs)
        alive = bgnbd.probability_alive(purchases, *inputs)
    if "gamma_gamma" in fitted:
        order_value = gamma_gamma.expected_spend(
            _stored_spend(fits), inputs[0], summary.repeat_mean_spend.to_numpy(np.float64)
        )
    scores = pd.DataFrame(
        {
            "customer_key": summary.customer_key,
            "repeat_purchases": summary.repeat_purchases,
            "expected_purchases": expected,
            "probability_alive": alive,
            "expected_order_value": order_value,
            "predicted_clv": expected * order_value,
        }
    )

    current = mart_features(connection, sources, settings)
    churn_probability = np.full(len(current), np.nan)
    if "churn" in fitted:
        churn_probability = churn.score(_stored_churn(fits), current)
    cluster_names = (
        clusters.assign(_stored_clusters(fits), current)
        if "clusters" in fitted
        else np.full(len(current), None, dtype=object)
    )
    scored = pd.DataFrame(
        {"customer_key": current.customer_key, "churn_probability": churn_probability, "cluster_name": cluster_names}
    )
    result = scores.merge(scored, on="customer_key", how="outer", validate="one_to_one").astype(SCORE_COLUMNS)
    result = result[list(SCORE_COLUMNS)]
    result.insert(0, "as_of_date", as_of)
    # every score of a fitted model is there and finite; a model not fitted has none
    for columns, models in (
        (["expected_purchases", "probability_alive"], {"bgnbd"}),
        (["expected_order_value"], {"gamma_gamma"}),
        (["predicted_clv"], {"bgnbd", "gamma_gamma"}),
        (["churn_probability"], {"churn"}),
    ):
        if models <= fitted:
            values = result[columns].to_numpy(np.float64)
            if not np.all(np.isfinite(values)):
                raise FitError(
                    f"{' and '.join(sorted(models))} as of {as_of}: a score is missing or not finite for some customers"
                )
    if "clusters" in fitted and result.cluster_name.isna().any():
        raise FitError(f"clusters as of {as_of}: some buyers have no cluster")
    return result.sort_values("customer_key").reset_index(drop=True)
