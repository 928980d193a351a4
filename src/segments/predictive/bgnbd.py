"""The BG/NBD model of repeat purchases (Fader, Hardie and Lee, 2005, "Counting your customers the easy way").

A customer's summary as of a date: x repeat purchases (purchase days after the first), t_x the
time from the first purchase to the last, T the time from the first purchase to the date (here in
days). While alive, purchases are Poisson with rate lambda ~ Gamma(r, alpha); after each purchase
the customer drops out with probability p ~ Beta(a, b). The likelihood of one customer is
equation (6) of the paper:

    L = B(a, b + x) / B(a, b) * Gamma(r + x) alpha^r / (Gamma(r) (alpha + T)^(r + x))
      + [x > 0] B(a + 1, b + x - 1) / B(a, b) * Gamma(r + x) alpha^r / (Gamma(r) (alpha + t_x)^(r + x))

computed in logs. Customers with the same (x, t_x, T) are fitted once, weighted by their count.

When customers hardly ever seem to drop out within the data (a year of a retailer's history, say),
the likelihood keeps rising towards p = 0 (a -> 0 with b large): the dropout is not identified, and
the fit has no interior maximum. Its limit is the NBD model (purchases Poisson with gamma rates, no
dropout): likelihood Gamma(r + x) alpha^r / (Gamma(r) (alpha + T)^(r + x)), everyone alive, and
expected purchases (r + x) / (alpha + T) * t. Both are fitted; BG/NBD is kept only when it
converges and its likelihood-ratio statistic against NBD, 2 (LL_bgnbd - LL_nbd), reaches
DROPOUT_MIN_LR (3.84, the 5 % point of chi-square with one degree of freedom); `has_dropout` says
which model was used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from segments.predictive.errors import FitError, InadequateData
from segments.predictive.mle import FloatArray, MleResult, fit_positive

PARAMETERS = ("r", "alpha", "a", "b")
DROPOUT_MIN_LR = 3.84


@dataclass(frozen=True)
class BgNbdFit:
    """Fitted BG/NBD parameters with standard errors."""

    r: float
    alpha: float
    a: float
    b: float
    standard_errors: dict[str, float]
    log_likelihood: float
    customers: int
    # False: the NBD limit (no dropout, a and b are then 0)
    has_dropout: bool = True

    def parameters(self) -> dict[str, float]:
        """The fitted parameters by name: r, alpha, a, b, or r and alpha for the NBD limit."""
        if self.has_dropout:
            return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}
        return {"r": self.r, "alpha": self.alpha}


def log_likelihood_terms(theta: FloatArray, frequency: FloatArray, recency: FloatArray, age: FloatArray) -> FloatArray:
    """Log-likelihood of each customer under theta = (r, alpha, a, b)."""
    r, alpha, a, b = (float(v) for v in theta)
    x = frequency
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + age)
    has_repeat = x > 0
    # the second term exists only for x > 0; b + x - 1 > 0 there
    safe_x = np.where(has_repeat, x, 1.0)
    a4 = np.where(
        has_repeat,
        np.log(a) - np.log(b + safe_x - 1) - (r + x) * np.log(alpha + recency),
        -np.inf,
    )
    result: FloatArray = a1 + a2 + np.logaddexp(a3, a4)
    return result


def nbd_log_likelihood_terms(theta: FloatArray, frequency: FloatArray, age: FloatArray) -> FloatArray:
    """Log-likelihood of each customer under the NBD limit (no dropout), theta = (r, alpha)."""
    r, alpha = (float(v) for v in theta)
    result: FloatArray = (
        special.gammaln(r + frequency) - special.gammaln(r) + r * np.log(alpha) - (r + frequency) * np.log(alpha + age)
    )
    return result


def log_likelihood(theta: FloatArray, frequency: FloatArray, recency: FloatArray, age: FloatArray) -> float:
    """Total log-likelihood of the customers under theta = (r, alpha, a, b)."""
    return float(np.sum(log_likelihood_terms(theta, frequency, recency, age)))


def _validate(frequency: FloatArray, recency: FloatArray, age: FloatArray) -> None:
    if not (frequency.shape == recency.shape == age.shape):
        raise FitError("bgnbd: frequency, recency and age must have the same length")
    if frequency.size == 0:
        raise InadequateData("no customer with a purchase to fit")
    if np.any(~np.isfinite(frequency)) or np.any(~np.isfinite(recency)) or np.any(~np.isfinite(age)):
        raise FitError("bgnbd: frequency, recency and age must be finite")
    if np.any(frequency < 0) or np.any(recency < 0) or np.any(recency > age):
        raise FitError("bgnbd: need 0 <= recency <= age and frequency >= 0 for every customer")
    if np.any((frequency > 0) & (recency <= 0)):
        raise FitError("bgnbd: a customer with repeat purchases needs a positive recency")


def fit(frequency: FloatArray, recency: FloatArray, age: FloatArray) -> BgNbdFit:
    """Maximum likelihood fit of (r, alpha, a, b); FitError when it does not converge.

    InadequateData when no customer made a repeat purchase (nothing identifies the rates)."""
    frequency, recency, age = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, age))
    _validate(frequency, recency, age)
    if not np.any(frequency > 0):
        raise InadequateData("no customer made a repeat purchase; the purchase rates are not identified")
    summary = np.stack([frequency, recency, age], axis=1)
    unique, counts = np.unique(summary, axis=0, return_counts=True)
    weights = counts.astype(np.float64)
    ux, ut, uT = unique[:, 0], unique[:, 1], unique[:, 2]

    def negative(theta: FloatArray) -> float:
        return -float(np.sum(weights * log_likelihood_terms(theta, ux, ut, uT)))

    def negative_nbd(theta: FloatArray) -> float:
        return -float(np.sum(weights * nbd_log_likelihood_terms(theta, ux, uT)))

    scale = max(float(np.mean(age)), 1.0)
    nbd = fit_positive("bgnbd (NBD limit, no dropout)", ("r", "alpha"), negative_nbd, np.array([1.0, scale]))
    nbd_fit = BgNbdFit(
        r=nbd.estimates["r"],
        alpha=nbd.estimates["alpha"],
        a=0.0,
        b=0.0,
        standard_errors=nbd.standard_errors,
        log_likelihood=nbd.log_likelihood,
        customers=int(frequency.size),
        has_dropout=False,
    )
    start = np.array([nbd.estimates["r"], nbd.estimates["alpha"], 1.0, 1.0])
    try:
        result: MleResult = fit_positive("bgnbd", PARAMETERS, negative, start)
    except FitError:
        return nbd_fit
    if 2 * (result.log_likelihood - nbd.log_likelihood) < DROPOUT_MIN_LR:
        return nbd_fit
    e = result.estimates
    return BgNbdFit(
        r=e["r"],
        alpha=e["alpha"],
        a=e["a"],
        b=e["b"],
        standard_errors=result.standard_errors,
        log_likelihood=result.log_likelihood,
        customers=int(frequency.size),
    )


def probability_alive(fit: BgNbdFit, frequency: FloatArray, recency: FloatArray, age: FloatArray) -> FloatArray:
    """P(alive at the date | x, t_x, T), equation (11) of the paper; 1 for customers without repeats."""
    x = np.asarray(frequency, dtype=np.float64)
    if not fit.has_dropout:
        return np.ones_like(x)
    has_repeat = x > 0
    safe_x = np.where(has_repeat, x, 1.0)
    log_ratio = (
        np.log(fit.a)
        - np.log(fit.b + safe_x - 1)
        + (fit.r + x) * (np.log(fit.alpha + np.asarray(age)) - np.log(fit.alpha + np.asarray(recency)))
    )
    result: FloatArray = np.where(has_repeat, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)
    return result


def expected_purchases(
    fit: BgNbdFit, horizon: float, frequency: FloatArray, recency: FloatArray, age: FloatArray
) -> FloatArray:
    """E[purchases in (T, T + horizon] | x, t_x, T], equation (10) of the paper (any a but 1)."""
    if not fit.has_dropout:
        limit: FloatArray = (fit.r + np.asarray(frequency, dtype=np.float64)) / (fit.alpha + np.asarray(age)) * horizon
        return limit
    if abs(fit.a - 1) < 1e-9:
        raise FitError("bgnbd: a = 1, equation (10) divides by a - 1")
    x = np.asarray(frequency, dtype=np.float64)
    T = np.asarray(age, dtype=np.float64)
    t = float(horizon)
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    z = t / (alpha + T + t)
    hypergeometric = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    numerator = (
        (a + b + x - 1) / (a - 1) * (1 - np.exp((r + x) * np.log((alpha + T) / (alpha + T + t))) * hypergeometric)
    )
    result: FloatArray = numerator * probability_alive(fit, x, recency, T)
    if not np.all(np.isfinite(result)):
        raise FitError("bgnbd: expected purchases are not finite for some customers (hypergeometric overflow)")
    return result


def simulate(
    r: float, alpha: float, a: float, b: float, ages: FloatArray, seed: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Draw (x, t_x, T) for customers of the given ages from the BG/NBD process (for tests)."""
    generator = np.random.default_rng(seed)
    count = ages.size
    rates = generator.gamma(r, 1.0 / alpha, size=count)
    dropouts = generator.beta(a, b, size=count)
    frequency = np.zeros(count)
    recency = np.zeros(count)
    for i in range(count):
        time = 0.0
        while True:
            time += generator.exponential(1.0 / rates[i]) if rates[i] > 0 else np.inf
            if time > ages[i]:
                break
            frequency[i] += 1
            recency[i] = time
            if generator.random() < dropouts[i]:
                break
    return frequency, recency, np.asarray(ages, dtype=np.float64)
