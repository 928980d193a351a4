"""The two ways a predictive model does not produce a fit.

InadequateData: the data cannot identify the model (too few customers, no repeat purchases, one
churn class only, fewer customers than clusters). Not a defect: the model is not fitted at that
date, its customers are not_scored in its family, model_metrics records why and a warn-severity
dbt test reports it. The build goes on.

FitError: the data were adequate, yet the fit did not converge or gave a non-finite estimate. A
defect to look at: the build fails, naming the model, the as-of date and why; never NaNs.
"""

from __future__ import annotations


class FitError(RuntimeError):
    """A model did not converge, or produced a non-finite estimate: never NaNs downstream."""


class InadequateData(ValueError):
    """The data are too small or too degenerate to fit the model: it is not fitted (not_scored)."""
