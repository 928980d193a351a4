"""The predictive models' maths, without dbt: likelihoods against direct integration, recovery of
simulated parameters, held-out accuracy against naive forecasts, stable clusters, no leakage."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from segments.predictive import bgnbd, churn, clusters, features, gamma_gamma, pipeline
from segments.predictive.errors import FitError, InadequateData
from segments.predictive.mle import fit_positive

# Fader, Hardie and Lee (2005): CDNOW estimates (weeks), and the Gamma-Gamma estimates of "RFM and CLV"
CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
SPEND = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def bgnbd_likelihood_by_integration(theta: tuple[float, float, float, float], x: int, t_x: float, T: float) -> float:
    """L(x, t_x, T) = E over lambda ~ Gamma(r, alpha), p ~ Beta(a, b) of the individual likelihood,
    integrated numerically: Gauss-Legendre nodes over p (the Beta density is smooth for a, b > 1),
    adaptive quadrature over lambda for all nodes at once."""
    r, alpha, a, b = theta
    nodes, weights = np.polynomial.legendre.leggauss(200)
    p = (nodes + 1) / 2
    p_weights = weights / 2 * stats.beta.pdf(p, a, b)

    def over_p(lam: float) -> np.ndarray:
        alive = (1 - p) ** x * lam**x * np.exp(-lam * T)
        dropped = p * (1 - p) ** (x - 1) * lam**x * np.exp(-lam * t_x) if x > 0 else 0.0
        return (alive + dropped) * stats.gamma.pdf(lam, r, scale=1 / alpha) * p_weights

    value, _ = integrate.quad_vec(over_p, 0, np.inf, epsabs=1e-14, epsrel=1e-10)
    return float(np.sum(value))


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 30.0), (1, 10.0, 38.0), (4, 31.5, 40.0), (2, 3.0, 70.0)])
def test_bgnbd_log_likelihood_matches_numeric_integration(x: int, t_x: float, T: float) -> None:
    theta = (1.3, 6.0, 1.7, 2.9)
    direct = np.log(bgnbd_likelihood_by_integration(theta, x, t_x, T))
    formula = bgnbd.log_likelihood(np.array(theta), np.array([x]), np.array([t_x]), np.array([T]))
    assert formula == pytest.approx(direct, abs=1e-6)


@pytest.mark.parametrize(("x", "m"), [(1, 20.0), (3, 35.5), (8, 12.0)])
def test_gamma_gamma_log_likelihood_matches_numeric_integration(x: int, m: float) -> None:
    p, q, gamma = 4.0, 3.0, 30.0
    # given nu, the mean of x orders is Gamma(p x, rate nu x); nu ~ Gamma(q, rate gamma)
    density, _ = integrate.quad(
        lambda nu: stats.gamma.pdf(m, p * x, scale=1 / (nu * x)) * stats.gamma.pdf(nu, q, scale=1 / gamma),
        0,
        np.inf,
        epsabs=1e-14,
    )
    formula = gamma_gamma.log_likelihood(np.array([p, q, gamma]), np.array([float(x)]), np.array([m]))
    assert formula == pytest.approx(np.log(density), abs=1e-6)


def test_bgnbd_fit_recovers_simulated_parameters_within_standard_errors() -> None:
    ages = np.random.default_rng(1).uniform(30, 78, size=6000)
    x, t_x, T = bgnbd.simulate(**CDNOW, ages=ages, seed=7)
    fit = bgnbd.fit(x, t_x, T)
    assert fit.has_dropout
    for name, true in CDNOW.items():
        estimate = getattr(fit, name)
        assert abs(estimate - true) <= 2 * fit.standard_errors[name], (name, estimate, true, fit.standard_errors)
        assert 0 < fit.standard_errors[name] < true  # informative, not a huge interval


def test_gamma_gamma_fit_recovers_simulated_parameters_within_standard_errors() -> None:
    frequency = 1 + np.random.default_rng(3).poisson(2.0, size=4000)
    means = gamma_gamma.simulate(**SPEND, frequency=frequency.astype(np.float64), seed=11)
    fit = gamma_gamma.fit(frequency.astype(np.float64), means)
    for name, true in SPEND.items():
        estimate = getattr(fit, name)
        assert abs(estimate - true) <= 2 * fit.standard_errors[name], (name, estimate, true, fit.standard_errors)


def simulate_purchase_times(theta: dict[str, float], ages: np.ndarray, end: np.ndarray, seed: int) -> list[np.ndarray]:
    """Repeat-purchase times of each customer up to end (a separate simulator from bgnbd.simulate)."""
    generator = np.random.default_rng(seed)
    times = []
    for age_end in end:
        lam = generator.gamma(theta["r"], 1 / theta["alpha"])
        p = generator.beta(theta["a"], theta["b"])
        # number of repeat purchases before dropping out is geometric; the gaps are exponential
        purchases_until_dropout = generator.geometric(p)
        gaps = generator.exponential(1 / lam, size=purchases_until_dropout)
        path = np.cumsum(gaps)
        times.append(path[path <= age_end])
    return times


def test_expected_purchases_beat_the_same_as_last_period_forecast() -> None:
    theta = {"r": 0.5, "alpha": 8.0, "a": 0.8, "b": 2.5}
    generator = np.random.default_rng(5)
    ages = generator.uniform(20, 80, size=4000)
    horizon = 26.0
    times = simulate_purchase_times(theta, ages, ages + horizon, seed=9)
    calibration = [path[path <= age] for path, age in zip(times, ages, strict=True)]
    x = np.array([len(path) for path in calibration], dtype=np.float64)
    t_x = np.array([path[-1] if len(path) else 0.0 for path in calibration])
    actual = np.array([np.sum(path > age) for path, age in zip(times, ages, strict=True)], dtype=np.float64)
    last_period = np.array(
        [np.sum((path > age - horizon) & (path <= age)) for path, age in zip(times, ages, strict=True)],
        dtype=np.float64,
    )
    fit = bgnbd.fit(x, t_x, ages)
    predicted = bgnbd.expected_purchases(fit, horizon, x, t_x, ages)
    model_mae = np.mean(np.abs(predicted - actual))
    naive_mae = np.mean(np.abs(last_period - actual))
    assert model_mae < naive_mae
    # and the totals agree with what happened (the conditional expectation is unbiased)
    assert predicted.sum() == pytest.approx(actual.sum(), rel=0.1)


def test_probability_alive_is_one_without_repeats_and_falls_with_a_long_silence() -> None:
    fit = bgnbd.fit(*bgnbd.simulate(**CDNOW, ages=np.full(2000, 52.0), seed=2))
    alive = bgnbd.probability_alive(fit, np.array([0.0, 5.0, 5.0]), np.array([0.0, 50.0, 5.0]), np.array([52.0] * 3))
    assert alive[0] == 1.0
    assert 0 < alive[2] < alive[1] < 1


def test_fits_fail_clearly_instead_of_returning_nans() -> None:
    # too little or degenerate data is not a failure but a model not fitted (InadequateData)
    with pytest.raises(InadequateData, match="no customer made a repeat purchase"):
        bgnbd.fit(np.zeros(10), np.zeros(10), np.full(10, 5.0))
    with pytest.raises(FitError, match=r"recency <= age"):
        bgnbd.fit(np.array([1.0]), np.array([9.0]), np.array([5.0]))
    with pytest.raises(InadequateData, match="same mean spend"):
        gamma_gamma.fit(np.array([1.0, 2.0, 3.0]), np.array([10.0, 10.0, 10.0]))
    # a likelihood without a maximum (increasing for ever) diverges to the bound
    with pytest.raises(FitError, match=r"diverged|did not converge"):
        fit_positive("unbounded", ("theta",), lambda theta: -float(np.log(theta[0])), np.array([1.0]))


def churn_sample(count: int, seed: int) -> tuple[pd.Series, pd.DataFrame, np.ndarray]:
    generator = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "recency_days": generator.integers(0, 400, size=count),
            "frequency": 1 + generator.poisson(2, size=count),
            "tenure_days": generator.integers(0, 700, size=count),
            "engagement_score": generator.exponential(5, size=count),
        }
    )
    frame["tenure_days"] = np.maximum(frame.tenure_days, frame.recency_days)
    frame["avg_order_value"] = generator.gamma(4, 20, size=count)
    frame["monetary"] = frame.avg_order_value * frame.frequency
    frame["frequency_90d"] = generator.binomial(frame.frequency, 0.3)
    # churn depends on recency and, independently of it, on engagement and frequency
    logit = -1.0 + 0.006 * frame.recency_days - 0.25 * frame.engagement_score - 0.3 * frame.frequency
    churned = generator.random(count) < 1 / (1 + np.exp(-logit))
    keys = pd.Series([f"c{i:06d}" for i in range(count)])
    return keys, frame, churned


def test_churn_model_beats_the_recency_only_baseline() -> None:
    keys, frame, churned = churn_sample(6000, seed=4)
    fit = churn.fit(keys, frame, churned, (0.7, 0.4), 0.3, 100_000, seed=0)
    assert fit.auc > fit.baseline_auc + 0.05
    assert 0.5 < fit.baseline_auc < fit.auc < 1
    assert fit.holdout_customers == pytest.approx(0.3 * 6000, rel=0.1)
    assert fit.training_customers + fit.holdout_customers == 6000
    # precision and recall at each threshold, against a direct count on the held-out customers
    from segments.predictive.sampling import BUCKETS, key_buckets

    held = key_buckets(keys, "churn_holdout") < int(BUCKETS * 0.3)
    probabilities = churn.score(fit, frame[held])
    flagged = probabilities >= 0.4
    assert fit.threshold_metrics[0.4][0] == pytest.approx((flagged & churned[held]).sum() / flagged.sum())
    assert fit.threshold_metrics[0.4][1] == pytest.approx((flagged & churned[held]).sum() / churned[held].sum())
    levels = churn.risk_levels(np.array([0.1, 0.4, 0.69, 0.7, 0.95]), high=0.7, medium=0.4)
    assert levels.tolist() == ["low", "medium", "medium", "high", "high"]


def test_churn_fit_refuses_a_single_class() -> None:
    keys, frame, _ = churn_sample(500, seed=1)
    with pytest.raises(InadequateData, match="all churned or all retained"):
        churn.fit(keys, frame, np.ones(500, dtype=bool), (0.5,), 0.3, 1000, seed=0)


def archetypes(seed: int) -> tuple[pd.Series, pd.DataFrame]:
    """Three well-separated groups in log space (60 %, 30 %, 10 %) and a 0.5 % fringe."""
    generator = np.random.default_rng(seed)
    centres = {
        "loyal": (5, 30, 3000, 100, 40, 0.6),
        "occasional": (60, 3, 150, 50, 5, 0.3),
        "lapsed": (300, 1, 30, 30, 0.2, 0.095),
        "fringe": (1, 200, 100000, 500, 500, 0.006),
    }
    parts = []
    for recency, frequency, monetary, aov, engagement, share in centres.values():
        n = int(2000 * share)
        noise = generator.normal(0, 0.15, size=(n, 5))
        centre = np.log1p([recency, frequency, monetary, aov, engagement])
        parts.append(pd.DataFrame(np.expm1(centre + noise), columns=list(clusters.FEATURES)))
    frame = pd.concat(parts, ignore_index=True)
    keys = pd.Series([f"k{i:05d}" for i in generator.permutation(len(frame))])
    return keys, frame


def cluster_fit(keys: pd.Series, frame: pd.DataFrame, min_share: float = 0.01) -> clusters.ClusterFit:
    return clusters.fit(keys, frame, 2, 8, min_share, 1000, 800, 3, seed=0)


def test_clusters_choose_k_by_silhouette_without_a_cluster_under_the_minimum_share() -> None:
    keys, frame = archetypes(seed=1)
    fit = cluster_fit(keys, frame)
    assert fit.k == 3  # the 0.5 % fringe may not form its own cluster (min share 1 %)
    assert fit.silhouette == max(s for k, s in fit.silhouettes.items() if fit.smallest_shares[k] >= 0.01)
    labels = clusters.assign(fit, frame)
    shares = pd.Series(labels).value_counts(normalize=True)
    assert shares.min() >= 0.01
    assert len(set(fit.names)) == fit.k
    assert fit.names[0].startswith("recent_frequent_high_spend")
    assert "lapsed_infrequent_low_spend" in fit.names[-1]
    profile = clusters.centroids_in_original_units(fit)
    assert profile.monetary.iloc[0] == pytest.approx(3000 * 1.0, rel=0.5)
    with pytest.raises(InadequateData, match="minimum share"):
        cluster_fit(keys, frame, min_share=0.7)


def test_cluster_names_are_stable_across_runs_row_orders_and_dates() -> None:
    keys, frame = archetypes(seed=2)
    first = clusters.assign(cluster_fit(keys, frame), frame)
    again = clusters.assign(cluster_fit(keys, frame), frame)
    assert (first == again).all()
    # the next date: the same customers with the same features, in another row order
    order = np.random.default_rng(0).permutation(len(frame))
    shuffled_keys, shuffled = keys.iloc[order].reset_index(drop=True), frame.iloc[order].reset_index(drop=True)
    later = clusters.assign(cluster_fit(shuffled_keys, shuffled), shuffled)
    assert dict(zip(shuffled_keys, later, strict=True)) == dict(zip(keys, first, strict=True))


ORDERS = [
    # customer, ordered_at, status, total
    ("a", "2026-01-05 10:00", "completed", 10.00),
    ("a", "2026-01-05 18:00", "completed", 5.00),  # same day: one purchase day of 15
    ("a", "2026-02-10 09:00", "completed", 30.00),
    ("a", "2026-03-01 23:59", "completed", 50.00),  # on the cut-off day: in
    ("a", "2026-02-11 09:00", "cancelled", 99.00),  # not qualifying
    ("b", "2026-02-20 12:00", "completed", 20.00),
    ("b", "2026-02-21 12:00", "completed", 0.00),  # zero total: not qualifying
    ("c", "2026-03-02 00:00", "completed", 70.00),  # after the cut-off
]
ACTIVITY = [("a", "2026-03-01", 2, 1, 0), ("b", "2026-02-15", 4, 0, 0), ("c", "2026-03-02", 9, 9, 9)]


def toy_warehouse(
    orders: list[tuple[str, str, str, float]], activity: list[tuple[str, str, int, int, int]]
) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(
        "create table orders (customer_key varchar, ordered_at timestamp, order_status varchar, order_total decimal(18, 2))"
    )
    frame = pd.DataFrame(orders, columns=["customer_key", "ordered_at", "order_status", "order_total"])
    connection.register("order_rows", frame)
    connection.execute("insert into orders select * from order_rows")
    connection.execute(
        """create table activity (customer_key varchar, activity_date date, page_views bigint, web_product_views bigint,
        email_opens bigint, app_product_views bigint default 0, web_add_to_carts bigint default 0,
        app_add_to_carts bigint default 0, web_purchases bigint default 0, app_purchases bigint default 0,
        app_opens bigint default 0, email_clicks bigint default 0)"""
    )
    if activity:
        connection.executemany(
            "insert into activity (customer_key, activity_date, page_views, web_product_views, email_opens)"
            " values (?, ?, ?, ?, ?)",
            activity,
        )
    return connection


WEIGHTS = {"page_view": 1, "product_view": 2, "email_open": 1}


def summaries(connection: duckdb.DuckDBPyConnection, cut_off: dt.date) -> pd.DataFrame:
    return features.customer_summaries(connection, "orders", "activity", cut_off, WEIGHTS, 30.0, 90)


def test_point_in_time_summaries_by_hand() -> None:
    frame = summaries(toy_warehouse(ORDERS, ACTIVITY), dt.date(2026, 3, 1)).set_index("customer_key")
    assert list(frame.index) == ["a", "b"]  # c bought after the cut-off
    a = frame.loc["a"]
    assert (a.frequency, a.monetary, a.recency_days, a.tenure_days) == (4, 95.0, 0, 55)
    assert (a.repeat_purchases, a.recency_time, a.age, a.repeat_mean_spend) == (2, 55, 55, 40.0)
    assert a.purchase_days_90d == 3
    assert a.engagement_score == pytest.approx(2 * 1 + 1 * 2)
    b = frame.loc["b"]
    assert (b.frequency, b.repeat_purchases, b.recency_days, b.age) == (1, 0, 9, 9)
    assert np.isnan(b.repeat_mean_spend)
    assert b.engagement_score == pytest.approx(4 * 0.5 ** (14 / 30))


def test_nothing_after_the_cut_off_reaches_the_training_features() -> None:
    cut_off = dt.date(2026, 3, 1)
    before = summaries(toy_warehouse(ORDERS, ACTIVITY), cut_off)
    # after the cut-off: new orders for everyone, changed totals and statuses, new activity
    later_orders = [(c, t, s, v * 3 if t > "2026-03-02" else v) for c, t, s, v in ORDERS] + [
        ("a", "2026-03-02 00:00", "completed", 500.0),
        ("b", "2026-04-01 10:00", "completed", 1.0),
        ("d", "2026-03-05 10:00", "completed", 8.0),
    ]
    later_activity = [*ACTIVITY, ("a", "2026-03-02", 100, 100, 100), ("b", "2026-06-01", 1, 1, 1)]
    after = summaries(toy_warehouse(later_orders, later_activity), cut_off)
    pd.testing.assert_frame_equal(before, after)
    # the label window starts the day after the cut-off
    future = features.future_purchases(toy_warehouse(later_orders, later_activity), "orders", cut_off, 30)
    assert future.set_index("customer_key").future_orders.to_dict() == {"a": 1, "c": 1, "d": 1}


def test_gamma_gamma_falls_back_to_homogeneous_spend_when_heterogeneity_is_not_identified() -> None:
    # every customer's orders are Gamma(p = 3, nu = 0.05): no spread between customers beyond chance
    generator = np.random.default_rng(8)
    frequency = 1 + generator.poisson(2.0, size=3000)
    means = np.array([generator.gamma(3.0, 1 / 0.05, size=n).mean() for n in frequency])
    fit = gamma_gamma.fit(frequency.astype(np.float64), means)
    assert not fit.heterogeneous
    assert abs(fit.p - 3.0) <= 2 * fit.standard_errors["p"]
    assert abs(fit.nu - 0.05) <= 2 * fit.standard_errors["nu"]
    assert (
        gamma_gamma.expected_spend(fit, np.array([1.0, 5.0]), np.array([10.0, 99.0])).tolist() == [fit.p / fit.nu] * 2
    )
    # the heterogeneous likelihood at large q and gamma = q * nu approaches the homogeneous one
    limit = gamma_gamma.log_likelihood(np.array([fit.p, 1e7, 1e7 / fit.nu]), frequency.astype(np.float64), means)
    homogeneous = np.sum(
        gamma_gamma.homogeneous_log_likelihood_terms(np.array([fit.p, fit.nu]), frequency.astype(np.float64), means)
    )
    assert limit == pytest.approx(homogeneous, abs=1e-2)


def test_a_flat_likelihood_where_l_bfgs_b_stalls_still_reaches_the_maximum() -> None:
    # homogeneous spend (each order Gamma(p = 1.6, nu = 0.01)) on which L-BFGS-B's line search
    # stops "ABNORMAL" next to the optimum (seed 105 of this simulation; a backfill of the
    # generator's purchase collapse met the same): the fit must still converge, to the maximum
    # found independently from the profile likelihood (nu = p sum x / sum x m, then p alone)
    generator = np.random.default_rng(105)
    x = generator.geometric(0.4, 600).astype(np.float64)
    m = generator.gamma(1.6 * x, 1 / (0.01 * x))

    def negative(theta: np.ndarray) -> float:
        return -float(np.sum(gamma_gamma.homogeneous_log_likelihood_terms(theta, x, m)))

    def profile(p: float) -> float:
        return negative(np.array([p, p * x.sum() / (x * m).sum()]))

    best = optimize.minimize_scalar(profile, bounds=(1e-3, 1e3), method="bounded", options={"xatol": 1e-10})
    fit = fit_positive("homogeneous spend", ("p", "nu"), negative, np.array([1.0, 1.0 / m.mean()]))
    assert fit.estimates["p"] == pytest.approx(best.x, rel=1e-6)
    assert fit.estimates["nu"] == pytest.approx(best.x * x.sum() / (x * m).sum(), rel=1e-6)
    assert fit.log_likelihood == pytest.approx(-best.fun, abs=1e-6)
    assert abs(fit.estimates["p"] - 1.6) <= 3 * fit.standard_errors["p"]


def test_bgnbd_falls_back_to_nbd_when_dropout_is_not_identified() -> None:
    # customers (almost) never drop out: p ~ Beta(0.01, 1000), mean 1e-5
    ages = np.random.default_rng(4).uniform(30, 78, size=3000)
    x, t_x, T = bgnbd.simulate(r=0.8, alpha=6.0, a=0.01, b=1000.0, ages=ages, seed=5)
    fit = bgnbd.fit(x, t_x, T)
    assert not fit.has_dropout
    assert abs(fit.r - 0.8) <= 2 * fit.standard_errors["r"]
    assert abs(fit.alpha - 6.0) <= 2 * fit.standard_errors["alpha"]
    assert bgnbd.probability_alive(fit, x, t_x, T).tolist() == [1.0] * x.size
    # the NBD limit's expectation, computed by hand for one customer
    expected = bgnbd.expected_purchases(fit, 10.0, np.array([3.0]), np.array([20.0]), np.array([40.0]))
    assert expected[0] == pytest.approx((fit.r + 3) / (fit.alpha + 40) * 10)
    # and the BG/NBD likelihood with p -> 0 tends to the NBD one
    bg = bgnbd.log_likelihood(np.array([fit.r, fit.alpha, 1e-9, 1.0]), x, t_x, T)
    nbd = float(np.sum(bgnbd.nbd_log_likelihood_terms(np.array([fit.r, fit.alpha]), x, T)))
    assert bg == pytest.approx(nbd, abs=1e-3)


AS_OF = dt.date(2026, 6, 30)


def project_settings(**overrides: object) -> pipeline.Settings:
    import yaml

    from dbt_runner import PROJECT_ROOT

    variables = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]
    return pipeline.Settings.from_vars({**variables, **overrides})


def test_the_dbt_models_pass_every_var_the_settings_read() -> None:
    from dbt_runner import PROJECT_ROOT

    models = (PROJECT_ROOT / "models" / "intermediate" / "predictive" / "_predictive__models.yml").read_text()
    block = models[models.index("predictive_vars: &predictive_vars") :].split("}) }}", 1)[0]
    listed = re.findall(r"'([a-z0-9_]+)': var\('\1'\)", block)
    assert tuple(listed) == pipeline.VAR_NAMES


def with_marts(connection: duckdb.DuckDBPyConnection, as_of: dt.date) -> duckdb.DuckDBPyConnection:
    """customer_rfm and customer_engagement at as_of, from the point-in-time summaries (equal to
    the marts, test_predictive_warehouse.py)."""
    summary = features.customer_summaries(connection, "orders", "activity", as_of, WEIGHTS, 30.0, 90)
    connection.register("summary", summary)
    connection.execute(
        """create or replace table customer_rfm as select customer_key, recency_days, frequency, monetary,
        avg_order_value, tenure_days, frequency_90d from summary"""
    )
    connection.execute(
        "create or replace table customer_engagement as select customer_key, engagement_score from summary"
    )
    return connection


SOURCES = pipeline.Sources("orders", "activity", "customer_rfm", "customer_engagement")


def synthetic_orders(customers: int, seed: int) -> list[tuple[str, str, str, float]]:
    """Customers buying at personal Poisson rates from a start day over a year, some stopping."""
    generator = np.random.default_rng(seed)
    rows = []
    for index in range(customers):
        start = int(generator.integers(0, 330))
        stop = 365 if generator.random() < 0.6 else int(generator.integers(start + 1, 366))
        rate = generator.gamma(1.0, 1 / 40)
        days = sorted(
            {start, *(int(d) for d in generator.uniform(start, stop, generator.poisson(rate * (stop - start))))}
        )
        for day in days:
            when = dt.datetime(2025, 7, 1, 12) + dt.timedelta(days=day)
            rows.append((f"c{index:04d}", when.isoformat(" "), "completed", round(float(generator.gamma(3, 20)), 2)))
    return rows


def test_too_little_data_leaves_every_model_not_fitted_with_its_reason() -> None:
    connection = with_marts(toy_warehouse(ORDERS, ACTIVITY), AS_OF)
    fits = pipeline.fit_all(connection, SOURCES, AS_OF, project_settings(engagement_weights=WEIGHTS))
    status = fits[fits.statistic_kind == "status"].set_index("model_name")
    assert sorted(status.index) == sorted(pipeline.MODELS)
    assert (status.statistic_name == "not_fitted").all() and (status.value == 0).all()
    assert len(fits) == len(status)  # nothing but the status rows
    # three buyers, one of them (a) with repeat purchases: each reason names its shortfall
    assert status.reason["bgnbd"] == "1 customers with a repeat purchase, fewer than predictive_min_fit_customers (50)"
    assert status.reason["gamma_gamma"].startswith("1 customers with a repeat purchase")
    assert status.reason["churn"].startswith("3 customers had bought by the cut-off 2026-04-01")
    assert status.reason["clusters"].startswith("3 buyers at the date")
    scores = pipeline.score_all(connection, SOURCES, AS_OF, project_settings(engagement_weights=WEIGHTS), fits)
    assert scores.customer_key.tolist() == ["a", "b", "c"]
    assert (
        scores[["expected_purchases", "expected_order_value", "predicted_clv", "churn_probability"]].isna().all().all()
    )
    assert scores.cluster_name.isna().all()


def test_a_degenerate_model_is_not_fitted_while_the_others_are() -> None:
    # nobody orders after the cut-off: churn has one class only; the value models and clusters fit
    orders = [row for row in synthetic_orders(400, seed=3) if row[1] < "2026-04-01"]
    connection = with_marts(toy_warehouse(orders, []), AS_OF)
    fits = pipeline.fit_all(connection, SOURCES, AS_OF, project_settings(engagement_weights=WEIGHTS))
    status = fits[fits.statistic_kind == "status"].set_index("model_name")
    assert status.statistic_name.to_dict() == {
        "bgnbd": "fitted",
        "gamma_gamma": "fitted",
        "churn": "not_fitted",
        "clusters": "fitted",
    }
    assert "one churn class only" in status.reason["churn"]
    scores = pipeline.score_all(connection, SOURCES, AS_OF, project_settings(engagement_weights=WEIGHTS), fits)
    assert scores.churn_probability.isna().all()
    assert scores.predicted_clv.notna().all() and scores.cluster_name.notna().all()


def test_non_convergence_on_adequate_data_fails_naming_the_model_and_the_date(monkeypatch: pytest.MonkeyPatch) -> None:
    connection = with_marts(toy_warehouse(synthetic_orders(400, seed=3), []), AS_OF)
    settings = project_settings(engagement_weights=WEIGHTS)
    assert set(pipeline.fitted_models(pipeline.fit_all(connection, SOURCES, AS_OF, settings))) == set(pipeline.MODELS)

    def diverging(*_: object) -> gamma_gamma.GammaGammaFit:
        raise FitError("gamma_gamma: maximum likelihood did not converge (ABNORMAL)")

    monkeypatch.setattr(gamma_gamma, "fit", diverging)
    with pytest.raises(FitError, match=r"^gamma_gamma as of 2026-06-30: .*did not converge"):
        pipeline.fit_all(connection, SOURCES, AS_OF, settings)


def test_samples_are_fixed_by_key_whatever_the_row_order_and_independent_across_purposes() -> None:
    from segments.predictive.sampling import key_buckets, sample_mask

    keys = pd.Series([f"{i:032x}" for i in range(100_000)])
    shuffled = keys.sample(frac=1.0, random_state=1)
    first = pd.Series(key_buckets(keys, "clv_fit"), index=keys)
    assert (pd.Series(key_buckets(shuffled, "clv_fit"), index=shuffled).loc[keys] == first).all()
    fit = sample_mask(keys, 20_000, "clv_fit")
    held = sample_mask(keys, 30_000, "churn_holdout")
    assert fit.sum() == pytest.approx(20_000, rel=0.03) and held.sum() == pytest.approx(30_000, rel=0.03)
    # independent purposes: the overlap is the product of the shares, within sampling error
    assert (fit & held).mean() == pytest.approx(0.2 * 0.3, abs=0.004)
    # buckets are uniform (chi-square over 10 groups of 1,000 buckets)
    counts = np.bincount(first.to_numpy() // 1000, minlength=10)
    assert stats.chisquare(counts).pvalue > 0.001
    assert sample_mask(keys[:10], 50, "clv_fit").all()  # fewer keys than the limit: all of them
