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

When customers' spend does not vary more than chance allows, the likelihood keeps rising as q and
gamma grow together (gamma / q -> nu): the heterogeneity is not identified, and the fit has no
interior maximum. That limit is the homogeneous model, every order Gamma(p, nu) for everyone (the
mean of x orders Gamma(p x, nu x)). Both are fitted; the heterogeneous model is kept only when it
converges and its likelihood-ratio statistic against the homogeneous one, 2 (LL_het - LL_hom),
reaches HETEROGENEITY_MIN_LR (3.84, the 5 % point of chi-square with one degree of freedom);
otherwise the homogeneous model is used and every customer's expected spend per order is
then p / nu, the limit of the conditional expectation. `heterogeneous` says which model was used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from segments.predictive.errors import FitError, InadequateData
from segments.predictive.mle import FloatArray, fit_positive

PARAMETERS = ("p", "q", "gamma")
HETEROGENEITY_MIN_LR = 3.84


@dataclass(frozen=True)
class GammaGammaFit:
    """Fitted Gamma-Gamma parameters with standard errors."""

    p: float
    q: float
    gamma: float
    standard_errors: dict[str, float]
    log_likelihood: float
    customers: int
    # False: the homogeneous limit (q and gamma infinite, gamma / q = nu); q and gamma are then 0
    heterogeneous: bool = True
    nu: float = 0.0

    def parameters(self) -> dict[str, float]:
        """The fitted parameters by name: p, q, gamma, or p and nu for the homogeneous limit."""
        if self.heterogeneous:
            return {"p": self.p, "q": self.q, "gamma": self.gamma}
        return {"p": self.p, "nu": self.nu}


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
        raise InadequateData("fewer than two customers with repeat orders to fit")
    if np.any(~np.isfinite(x)) or np.any(~np.isfinite(m)) or np.any(x < 1) or np.any(m <= 0):
        raise FitError("gamma_gamma: every customer needs at least one order and a positive finite mean spend")
    if np.allclose(m, m[0]):
        raise InadequateData("every customer has the same mean spend; the spread is not identified")

    def negative(theta: FloatArray) -> float:
        return -log_likelihood(theta, x, m)

    # method of moments start: p from the mean/variance of spend, gamma scaled to the mean
    mean = float(np.mean(m))
    start = np.array([1.0, 2.0, mean])
    try:
        result = fit_positive("gamma_gamma", PARAMETERS, negative, start)
    except FitError as heterogeneous_error:
        return _fit_homogeneous(x, m, heterogeneous_error)
    homogeneous = _fit_homogeneous(x, m, None)
    if 2 * (result.log_likelihood - homogeneous.log_likelihood) < HETEROGENEITY_MIN_LR:
        return homogeneous
    e = result.estimates
    return GammaGammaFit(
        p=e["p"],
        q=e["q"],
        gamma=e["gamma"],
        standard_errors=result.standard_errors,
        log_likelihood=result.log_likelihood,
        customers=int(x.size),
    )


def homogeneous_log_likelihood_terms(theta: FloatArray, frequency: FloatArray, mean_spend: FloatArray) -> FloatArray:
    """Log density of each mean m of x orders when every order is Gamma(p, nu): m ~ Gamma(p x, nu x)."""
    p, nu = (float(v) for v in theta)
    shape = p * frequency
    rate = nu * frequency
    result: FloatArray = (
        shape * np.log(rate) - special.gammaln(shape) + (shape - 1) * np.log(mean_spend) - rate * mean_spend
    )
    return result


def _fit_homogeneous(x: FloatArray, m: FloatArray, cause: FitError | None) -> GammaGammaFit:
    def negative(theta: FloatArray) -> float:
        return -float(np.sum(homogeneous_log_likelihood_terms(theta, x, m)))

    mean = float(np.mean(m))
    try:
        result = fit_positive("gamma_gamma (homogeneous spend)", ("p", "nu"), negative, np.array([1.0, 1.0 / mean]))
    except FitError as error:
        raise FitError(f"{cause}; and {error}" if cause else str(error)) from error
    return GammaGammaFit(
        p=result.estimates["p"],
        q=0.0,
        gamma=0.0,
        standard_errors=result.standard_errors,
        log_likelihood=result.log_likelihood,
        customers=int(x.size),
        heterogeneous=False,
        nu=result.estimates["nu"],
    )


def expected_spend(fit: GammaGammaFit, frequency: FloatArray, mean_spend: FloatArray) -> FloatArray:
    """E[spend per order | m, x]; customers with x = 0 get the population mean p gamma / (q - 1)."""
    if not fit.heterogeneous:
        result_homogeneous: FloatArray = np.full(np.shape(frequency), fit.p / fit.nu)
        return result_homogeneous
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
