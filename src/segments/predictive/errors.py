"""The one failure the predictive models raise: a fit that cannot be trusted."""

from __future__ import annotations


class FitError(RuntimeError):
    """A model did not converge, or produced a non-finite estimate: never NaNs downstream."""
