"""Maximum likelihood on positive parameters: optimise in log space, standard errors from the Hessian.

Shared by bgnbd and gamma_gamma. The negative log-likelihood is minimised over log(theta) with
L-BFGS-B; the observed information is the numerical Hessian of the negative log-likelihood in
log space, and the standard error of each parameter is theta * sqrt(diag(inverse Hessian)) (the
delta method). Where L-BFGS-B stops without converging (its line search stalls on a flat
likelihood), a Nelder-Mead simplex continues from where it stopped. A fit that does not
converge, or whose estimate, likelihood or standard errors are not finite, raises FitError naming
the model: no NaN ever reaches a table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize

from segments.predictive.errors import FitError

FloatArray = npt.NDArray[np.float64]
# log-parameters above this are treated as divergence (exp(30) ~ 1e13)
_LOG_BOUND = 30.0


@dataclass(frozen=True)
class MleResult:
    """Estimates and standard errors by parameter name, and the maximised log-likelihood."""

    estimates: dict[str, float]
    standard_errors: dict[str, float]
    log_likelihood: float
    iterations: int


# the Nelder-Mead polish after a stalled L-BFGS-B: iterations per parameter (scipy's default)
POLISH_ITERATIONS_PER_PARAMETER = 200


def hessian(function: Callable[[FloatArray], float], point: FloatArray, step: float = 1e-4) -> FloatArray:
    """Central-difference Hessian of a scalar function at point."""
    size = point.size
    result = np.zeros((size, size))
    for i in range(size):
        for j in range(i, size):
            shift_i = np.zeros(size)
            shift_j = np.zeros(size)
            shift_i[i] = step
            shift_j[j] = step
            value = (
                function(point + shift_i + shift_j)
                - function(point + shift_i - shift_j)
                - function(point - shift_i + shift_j)
                + function(point - shift_i - shift_j)
            ) / (4 * step * step)
            result[i, j] = value
            result[j, i] = value
    return result


def fit_positive(
    model: str,
    names: tuple[str, ...],
    negative_log_likelihood: Callable[[FloatArray], float],
    start: FloatArray,
    max_iterations: int = 1000,
) -> MleResult:
    """Minimise negative_log_likelihood(theta) over theta > 0 (names in order); FitError if it fails."""

    def objective(log_theta: FloatArray) -> float:
        value = negative_log_likelihood(np.exp(log_theta))
        return value if np.isfinite(value) else 1e300

    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(names)
    solution = optimize.minimize(
        objective,
        np.log(start),
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-9},
    )
    if not solution.success:
        # L-BFGS-B's line search stalls ("ABNORMAL") where its finite-difference gradient is
        # noise, typically at the optimum of a flat likelihood: polish from where it stopped
        # with a derivative-free simplex, which needs no gradient and converges there. The
        # polish gets scipy's default budget (200 iterations per parameter) and a tolerance
        # relative to the likelihood's size: a simplex that has not converged by then is on a
        # ridge to the boundary, not near an optimum (at 1M customers an absolute 1e-10 and
        # 20,000 iterations cost 270 s before failing anyway)
        solution = optimize.minimize(
            objective,
            solution.x,
            method="Nelder-Mead",
            bounds=bounds,
            options={
                "maxiter": POLISH_ITERATIONS_PER_PARAMETER * len(names),
                "xatol": 1e-8,
                "fatol": 1e-12 * max(1.0, abs(float(solution.fun))),
                "adaptive": True,
            },
        )
    log_theta = np.asarray(solution.x, dtype=np.float64)
    value = float(solution.fun)
    if not solution.success or not np.isfinite(value) or value >= 1e300:
        raise FitError(f"{model}: maximum likelihood did not converge ({solution.message})")
    if np.any(np.abs(log_theta) >= _LOG_BOUND - 1e-6):
        raise FitError(f"{model}: a parameter diverged to the bound (estimates {np.exp(log_theta).tolist()})")
    information = hessian(objective, log_theta)
    try:
        covariance = np.linalg.inv(information)
    except np.linalg.LinAlgError as error:
        raise FitError(f"{model}: the information matrix is singular, the parameters are not identified") from error
    variances = np.diag(covariance)
    if not np.all(np.isfinite(variances)) or np.any(variances <= 0):
        raise FitError(f"{model}: the fit is not at a maximum (non-positive variance), not identified by the data")
    theta = np.exp(log_theta)
    errors = theta * np.sqrt(variances)
    return MleResult(
        estimates={name: float(v) for name, v in zip(names, theta, strict=True)},
        standard_errors={name: float(v) for name, v in zip(names, errors, strict=True)},
        log_likelihood=-value,
        iterations=int(solution.nit),
    )
