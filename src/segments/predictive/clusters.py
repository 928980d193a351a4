"""Discovered customer archetypes: k-means on standardised log features, k by silhouette, stable names.

Features (log1p of recency days, frequency, monetary, average order value and engagement score)
are standardised over the customers scored. k-means runs for every k from k_min to k_max on a
sample chosen by a hash of the customer key (the same customers on every run, whatever the row
order), with several initialisations and a fixed seed; the silhouette score is measured on a
further fixed sub-sample. Only a k whose smallest cluster (over all customers) holds at least
min_share of them is eligible; the eligible k with the highest silhouette wins (FitError when none
is eligible).

k-means numbers its clusters arbitrarily, so clusters are ordered by their centroids (monetary,
then frequency, then engagement, highest first; recency lowest first) and named from them: each
centroid's standardised value of recency, frequency and monetary is read as a word (recent /
cooling / lapsed, frequent / regular / infrequent, high_spend / mid_spend / low_spend) plus
engaged / unengaged when engagement stands out. Two clusters with the same words get a suffix _2,
_3 in that order. Same features in, same names out: on the next run, and on the next date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import davies_bouldin_score, silhouette_score
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from segments.predictive.errors import FitError, InadequateData
from segments.predictive.sampling import key_hashes, mask_below, salted_buckets

FloatArray = npt.NDArray[np.float64]
FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "engagement_score")
# a standardised centroid coordinate beyond this many standard deviations is "high" or "low"
_WORD_CUTOFF = 0.5


@dataclass(frozen=True)
class ClusterFit:
    """The chosen clustering: centroids (standardised, in name order), their names and the scores."""

    k: int
    names: tuple[str, ...]
    centroids: FloatArray
    means: FloatArray
    scales: FloatArray
    silhouette: float
    davies_bouldin: float
    silhouettes: dict[int, float]
    smallest_shares: dict[int, float]


def design_matrix(features: pd.DataFrame) -> FloatArray:
    """log1p of the cluster features (negative values clipped at 0, missing as 0)."""
    missing = [name for name in FEATURES if name not in features.columns]
    if missing:
        raise FitError(f"clusters: feature columns missing: {', '.join(missing)}")
    values = features[list(FEATURES)].astype("float64").fillna(0.0).to_numpy()
    matrix: FloatArray = np.log1p(np.clip(values, 0.0, None))
    return matrix


def _nearest(points: FloatArray, centroids: FloatArray) -> npt.NDArray[np.int64]:
    # squared distance less the point's own squared norm (the same for every centroid):
    # |c|^2 - 2 x.c, one matrix product instead of an n x k x d array
    scores = np.einsum("kd,kd->k", centroids, centroids)[None, :] - 2.0 * (points @ centroids.T)
    result: npt.NDArray[np.int64] = np.argmin(scores, axis=1)
    return result


def _word(value: float, high: str, middle: str, low: str) -> str:
    if value >= _WORD_CUTOFF:
        return high
    if value <= -_WORD_CUTOFF:
        return low
    return middle


def centroid_name(centroid: FloatArray) -> str:
    """Readable name of a standardised centroid (in FEATURES order)."""
    recency, frequency, monetary, _, engagement = (float(v) for v in centroid)
    words = [
        _word(-recency, "recent", "cooling", "lapsed"),
        _word(frequency, "frequent", "regular", "infrequent"),
        _word(monetary, "high_spend", "mid_spend", "low_spend"),
    ]
    engagement_word = _word(engagement, "engaged", "", "unengaged")
    if engagement_word:
        words.append(engagement_word)
    return "_".join(words)


def _order_and_name(centroids: FloatArray) -> tuple[npt.NDArray[np.int64], tuple[str, ...]]:
    # lexsort sorts by the last key first: monetary desc, frequency desc, engagement desc, recency asc
    order = np.lexsort((centroids[:, 0], -centroids[:, 4], -centroids[:, 1], -centroids[:, 2]))
    names: list[str] = []
    for index in order:
        base = centroid_name(centroids[index])
        name = base
        suffix = 2
        while name in names:
            name = f"{base}_{suffix}"
            suffix += 1
        names.append(name)
    return np.asarray(order, dtype=np.int64), tuple(names)


def fit(
    customer_keys: pd.Series,
    features: pd.DataFrame,
    k_min: int,
    k_max: int,
    min_share: float,
    max_fit_customers: int,
    max_silhouette_customers: int,
    initialisations: int,
    seed: int,
) -> ClusterFit:
    """Choose k by silhouette among the k whose clusters all hold at least min_share; InadequateData if none."""
    # one OpenMP and one BLAS thread: on samples this small, threads spinning on shared cores
    # cost more CPU than they save
    with threadpool_limits(limits=1):
        return _fit(
            customer_keys,
            features,
            k_min,
            k_max,
            min_share,
            max_fit_customers,
            max_silhouette_customers,
            initialisations,
            seed,
        )


def _fit(
    customer_keys: pd.Series,
    features: pd.DataFrame,
    k_min: int,
    k_max: int,
    min_share: float,
    max_fit_customers: int,
    max_silhouette_customers: int,
    initialisations: int,
    seed: int,
) -> ClusterFit:
    if k_min < 2 or k_max < k_min:
        raise FitError(f"clusters: need 2 <= k_min <= k_max, got {k_min} and {k_max}")
    order = np.argsort(customer_keys.astype(str).to_numpy(), kind="stable")
    keys = customer_keys.iloc[order].reset_index(drop=True)
    matrix = design_matrix(features.iloc[order])
    if len(keys) <= k_max:
        raise InadequateData(f"{len(keys)} customers are too few for k up to {k_max}")
    means = matrix.mean(axis=0)
    scales = matrix.std(axis=0)
    scales = np.where(scales > 0, scales, 1.0)
    standardised = (matrix - means) / scales
    hashes = key_hashes(keys)
    fit_rows = standardised[mask_below(salted_buckets(hashes, "cluster_fit"), max_fit_customers)]
    silhouette_rows = mask_below(salted_buckets(hashes, "cluster_silhouette"), max_silhouette_customers)
    silhouette_points = standardised[silhouette_rows]
    distinct = np.unique(fit_rows, axis=0).shape[0]
    silhouettes: dict[int, float] = {}
    smallest: dict[int, float] = {}
    best: tuple[float, int, FloatArray] | None = None
    for k in range(k_min, k_max + 1):
        if distinct < k:
            break
        model = KMeans(n_clusters=k, n_init=initialisations, random_state=seed).fit(fit_rows)
        centroids = np.asarray(model.cluster_centers_, dtype=np.float64)
        everyone = _nearest(standardised, centroids)
        shares = np.bincount(everyone, minlength=k) / everyone.size
        smallest[k] = float(shares.min())
        labels = _nearest(silhouette_points, centroids)
        if np.unique(labels).size < 2:
            continue
        silhouettes[k] = float(silhouette_score(silhouette_points, labels))
        if smallest[k] >= min_share and (best is None or silhouettes[k] > best[0]):
            best = (silhouettes[k], k, centroids)
    if best is None:
        raise InadequateData(f"no k in {k_min}..{k_max} keeps every cluster at or above the minimum share {min_share}")
    silhouette, k, centroids = best
    ordering, names = _order_and_name(centroids)
    ordered = centroids[ordering]
    labels = _nearest(silhouette_points, ordered)
    davies_bouldin = float(davies_bouldin_score(silhouette_points, labels))
    if not np.isfinite(silhouette) or not np.isfinite(davies_bouldin):
        raise FitError("clusters: the silhouette or Davies-Bouldin score is not finite")
    return ClusterFit(
        k=k,
        names=names,
        centroids=ordered,
        means=means,
        scales=scales,
        silhouette=silhouette,
        davies_bouldin=davies_bouldin,
        silhouettes=silhouettes,
        smallest_shares=smallest,
    )


def assign(fit: ClusterFit, features: pd.DataFrame, chunk: int = 200_000) -> npt.NDArray[np.object_]:
    """The cluster name of each row: its nearest centroid."""
    standardised = (design_matrix(features) - fit.means) / fit.scales
    with threadpool_limits(limits=1):
        labels = np.concatenate(
            [
                _nearest(standardised[start : start + chunk], fit.centroids)
                for start in range(0, len(standardised), chunk)
            ]
            or [np.zeros(0, dtype=np.int64)]
        )
    names: npt.NDArray[np.object_] = np.asarray(fit.names, dtype=object)[labels]
    return names


def centroids_in_original_units(fit: ClusterFit) -> pd.DataFrame:
    """One row per cluster (in name order): the centroid back in the features' own units."""
    original = np.expm1(fit.centroids * fit.scales + fit.means)
    frame = pd.DataFrame(original, columns=list(FEATURES))
    frame.insert(0, "cluster_name", list(fit.names))
    frame.insert(1, "cluster_rank", np.arange(1, fit.k + 1))
    return frame
