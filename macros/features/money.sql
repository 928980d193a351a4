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
    {{ return(adapter.dispatch('money_ratio', 'segments_warehouse')(money_total, item_count)) }}
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

{#- Spark has no 128-bit integer: the numerator and denominator are decimal(38, 0) and
    div (integral division, truncating like DuckDB's //) returns a 64-bit integer, exact for
    totals below about 4.6e16 (beyond it ANSI mode fails the query: never a wrong cent). -#}
{% macro spark__money_ratio(money_total, item_count) -%}
    {%- set total = 'cast(' ~ money_total ~ ' as ' ~ money_type() ~ ')' -%}
    cast(
        cast(
            (
                2 * cast({{ total }} * 100 as decimal(38, 0))
                + case when {{ total }} > 0 then 1 when {{ total }} < 0 then -1 else 0 end
                * nullif({{ item_count }}, 0)
            ) div (2 * cast(nullif({{ item_count }}, 0) as decimal(38, 0)))
            as {{ money_type() }}
        ) * 0.01
        as {{ money_type() }}
    )
{%- endmacro %}
