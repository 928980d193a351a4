{#-
    Money arithmetic. Amounts load as decimal(18, 2); a sum of several of them does not fit
    that type, so every sum and average of money is computed and stored as money_type()
    (decimal(38, 2)): about 10^36, enough for any count of loadable amounts.
-#}
{% macro money_type() -%}
    decimal(38, 2)
{%- endmacro %}

{#-
    Sum of a money expression, each term widened to money_type() first (the sum of a
    money_type() is a money_type()); null when no row, like sum. A filter clause may follow.
-#}
{% macro money_sum(expression) -%}
    sum(cast({{ expression }} as {{ money_type() }}))
{%- endmacro %}

{#-
    money_total / item_count as an exact money_type() value, rounded half away from zero
    to the cent; null when item_count is 0 or null. Exact even at the contract's maximum
    amounts (a division through double would lose cents above 2^53 cents, about 9e13).
    Dispatched: the wide integer type and integer division are engine specific.
-#}
{% macro money_ratio(money_total, item_count) -%}
    {{ return(adapter.dispatch('money_ratio', 'customer_segments')(money_total, item_count)) }}
{%- endmacro %}

{% macro default__money_ratio(money_total, item_count) -%}
    cast(
        cast(
            (
                2 * cast(cast({{ money_total }} as {{ money_type() }}) * 100 as hugeint)
                + sign(cast({{ money_total }} as {{ money_type() }})) * nullif({{ item_count }}, 0)
            ) // (2 * cast(nullif({{ item_count }}, 0) as hugeint))
            as {{ money_type() }}
        ) * 0.01
        as {{ money_type() }}
    )
{%- endmacro %}
