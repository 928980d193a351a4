{#- One bin of a population stability index: (a - e) * ln(a / e), both shares floored. -#}
{% macro psi_bin(actual_share, expected_share) -%}
    (
        greatest({{ actual_share }}, {{ var('drift_share_floor') }})
        - greatest({{ expected_share }}, {{ var('drift_share_floor') }})
    )
    * ln(
        greatest({{ actual_share }}, {{ var('drift_share_floor') }})
        / greatest({{ expected_share }}, {{ var('drift_share_floor') }})
    )
{%- endmacro %}

{#- One bin of a chi-square: (observed - expected)^2 / expected, expected = floored share * total. -#}
{% macro chi_square_bin(observed, expected_share, total) -%}
    power(
        {{ observed }} - greatest({{ expected_share }}, {{ var('drift_share_floor') }}) * {{ total }}, 2
    )
    / (greatest({{ expected_share }}, {{ var('drift_share_floor') }}) * {{ total }})
{%- endmacro %}
