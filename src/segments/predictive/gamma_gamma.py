"""The Gamma-Gamma model of spend per order (Colombo and Jiang, 1999; Fader, Hardie and Lee, 2005, "RFM and CLV").

Each order of a customer is worth z ~ Gamma(p, nu) (shape p, rate nu), and nu varies across
customers as Gamma(q, gamma) (shape q, rate gamma). The mean m of a customer's x orders then has,
given nu, the distribution Gamma(p x, nu x); integrating nu out gives the likelihood of one
customer

    f(m | x) = Gamma(p x + q) / (Gamma(p x) Gamma(q)) * gamma^q * m^(p x - 1) * x^(p x)
               / (gamma + m x)^(p x + q)

and the expected spend per order of a customer with mean m over x orders is
(gamma + m x) p / (p x + q - 1) (needs q > 1). Fitted on customers with at least one repeat order,
on the mean of their repeat orders, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from segments.predictive.errors import FitError
from segments.predictive.mle import FloatArray, fit_positive

PARAMETERS = ("p", "q", "gamma")


@dataclass(frozen=True)
class GammaGammaFit:
    """Fitted Gamma-Gamma parameters with standard errors."""

    p: float
    q: float
    gamma: float
    standard_errors: dict[str, float]
    log_likelihood: float
    customers: int


def log_likelihood_terms(theta: FloatArray, frequency: FloatArray, mean_spend: FloatArray) -> FloatArray:
    """Log density of each customer's mean spend m over x orders under theta = (p, q, gamma)."""
    p, q, gamma = (float(v) for v in theta)
    x = frequency
    m = mean_spend
    px = p * x
    result: FloatArray = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x)
    )
    return result


def log_likelihood(theta: FloatArray, frequency: FloatArray, mean_spend: FloatArray) -> float:
    """Total log-likelihood under theta = (p, q, gamma)."""
    return float(np.sum(log_likelihood_terms(theta, frequency, mean_spend)))


def fit(frequency: FloatArray, mean_spend: FloatArray) -> GammaGammaFit:
    """Maximum likelihood fit of (p, q, gamma) on customers with x >= 1 orders and mean spend > 0."""
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(mean_spend, dtype=np.float64)
    if x.shape != m.shape:
        raise FitError("gamma_gamma: frequency and mean spend must have the same length")
    if x.size < 2:
        raise FitError("gamma_gamma: fewer than two customers with repeat orders to fit")
    if np.any(~np.isfinite(x)) or np.any(~np.isfinite(m)) or np.any(x < 1) or np.any(m <= 0):
        raise FitError("gamma_gamma: every customer needs at least one order and a positive finite mean spend")
    if np.allclose(m, m[0]):
        raise FitError("gamma_gamma: every customer has the same mean spend; the spread is not identified")

    def negative(theta: FloatArray) -> float:
        return -log_likelihood(theta, x, m)

    # method of moments start: p from the mean/variance of spend, gamma scaled to the mean
    mean = float(np.mean(m))
    start = np.array([1.0, 2.0, mean])
    result = fit_positive("gamma_gamma", PARAMETERS, negative, start)
    e = result.estimates
    return GammaGammaFit(
        p=e["p"],
        q=e["q"],
        gamma=e["gamma"],
        standard_errors=result.standard_errors,
        log_likelihood=result.log_likelihood,
        customers=int(x.size),
    )


def expected_spend(fit: GammaGammaFit, frequency: FloatArray, mean_spend: FloatArray) -> FloatArray:
    """E[spend per order | m, x]; customers with x = 0 get the population mean p gamma / (q - 1)."""
    if fit.q <= 1:
        raise FitError(f"gamma_gamma: q = {fit.q:.4g} <= 1, the expected spend is undefined")
    x = np.asarray(frequency, dtype=np.float64)
    m = np.nan_to_num(np.asarray(mean_spend, dtype=np.float64), nan=0.0)
    population = fit.p * fit.gamma / (fit.q - 1)
    conditional = (fit.gamma + m * x) * fit.p / (fit.p * x + fit.q - 1)
    result: FloatArray = np.where(x > 0, conditional, population)
    return result


def simulate(p: float, q: float, gamma: float, frequency: FloatArray, seed: int) -> FloatArray:
    """Draw each customer's mean spend over frequency orders from the Gamma-Gamma process (for tests)."""
    generator = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=np.int64)
    rates = generator.gamma(q, 1.0 / gamma, size=x.size)
    means = np.array([generator.gamma(p, 1.0 / rate, size=n).mean() for rate, n in zip(rates, x, strict=True)])
    return means
