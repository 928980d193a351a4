"""segment_lift: exported customers against the holdout, per segment, export and period.

Reads the counts of int_activation__lift_outcomes and adds, per row, the conversion rates
and revenue per customer of both groups, the absolute and relative lift of conversion,
Pearson's chi-square test of the 2x2 table (converted or not, exported or holdout; no
continuity correction, 1 degree of freedom) with its p-value, and the Wald confidence
interval of the difference of the two conversion rates at
var activation_lift_confidence_level. docs/activation.md gives every formula.
"""

from __future__ import annotations

import math
from typing import Any

COLUMN_TYPES = [
    ("as_of_date", "date"),
    ("segment_family", "string"),
    ("segment_name", "string"),
    ("period_number", "integer"),
    ("period_start_date", "date"),
    ("period_end_date", "date"),
    ("exported_customers", "bigint"),
    ("holdout_customers", "bigint"),
    ("exported_converted_customers", "bigint"),
    ("holdout_converted_customers", "bigint"),
    ("exported_conversion_rate", "double"),
    ("holdout_conversion_rate", "double"),
    ("absolute_lift", "double"),
    ("relative_lift", "double"),
    ("lift_ci_lower", "double"),
    ("lift_ci_upper", "double"),
    ("confidence_level", "double"),
    ("chi_square", "double"),
    ("p_value", "double"),
    ("exported_revenue_per_customer", "double"),
    ("holdout_revenue_per_customer", "double"),
    ("revenue_lift_per_customer", "double"),
]


def statistics(row: Any, z: float) -> dict[str, Any]:
    from scipy.stats import chi2

    n_exported, n_holdout = int(row.exported_customers), int(row.holdout_customers)
    a, c = int(row.exported_converted_customers), int(row.holdout_converted_customers)
    b, d = n_exported - a, n_holdout - c
    p_exported = a / n_exported if n_exported else None
    p_holdout = c / n_holdout if n_holdout else None
    result: dict[str, Any] = {
        "exported_conversion_rate": p_exported,
        "holdout_conversion_rate": p_holdout,
        "exported_revenue_per_customer": float(row.exported_revenue) / n_exported if n_exported else None,
        "holdout_revenue_per_customer": float(row.holdout_revenue) / n_holdout if n_holdout else None,
        "absolute_lift": None,
        "relative_lift": None,
        "lift_ci_lower": None,
        "lift_ci_upper": None,
        "chi_square": None,
        "p_value": None,
    }
    if p_exported is None or p_holdout is None:
        return result
    lift = p_exported - p_holdout
    margin = z * math.sqrt(p_exported * (1 - p_exported) / n_exported + p_holdout * (1 - p_holdout) / n_holdout)
    result.update(
        absolute_lift=lift,
        relative_lift=lift / p_holdout if p_holdout else None,
        lift_ci_lower=lift - margin,
        lift_ci_upper=lift + margin,
    )
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    if denominator:
        chi_square = (a + b + c + d) * (a * d - b * c) ** 2 / denominator
        result.update(chi_square=chi_square, p_value=float(chi2.sf(chi_square, 1)))
    return result


def model(dbt: Any, session: Any) -> Any:
    import pandas as pd
    from scipy.stats import norm

    from segments.model_inputs import model_result, ref_frame

    confidence = float(dbt.config.get("confidence_level"))
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    outcomes = ref_frame(session, dbt.ref("int_activation__lift_outcomes"))
    columns = [name for name, _ in COLUMN_TYPES[:10]]
    rows = [
        {
            **{column: getattr(row, column) for column in columns},
            **statistics(row, z),
            "confidence_level": confidence,
        }
        for row in outcomes.itertuples(index=False)
    ]
    frame = pd.DataFrame(rows, columns=[name for name, _ in COLUMN_TYPES[:-1]])
    frame["revenue_lift_per_customer"] = frame["exported_revenue_per_customer"] - frame["holdout_revenue_per_customer"]
    # typed explicitly, so an empty result (no complete period yet) keeps its column types
    return model_result(session, frame, COLUMN_TYPES)
