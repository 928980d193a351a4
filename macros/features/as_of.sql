{#-
    The end of the as-of day as an exclusive bound: rows with a timestamp before it are
    "known by the end of as_of_date". Reads the one-row model int_as_of_date, aliased
    as_of_dates in the calling model.
-#}
{% macro as_of_end(as_of_alias='as_of_dates') -%}
    ({{ as_of_alias }}.as_of_date + interval 1 day)
{%- endmacro %}

{#- Days from a date (or timestamp, taken as its date) to the as-of date (a bigint on every
    engine: Spark's datediff is an int). -#}
{% macro days_before_as_of(column, as_of_alias='as_of_dates') -%}
    cast({{ dbt.datediff('cast(' ~ column ~ ' as date)', as_of_alias ~ '.as_of_date', 'day') }} as bigint)
{%- endmacro %}

{#- True when a date lies in the window of n days ending on the as-of date (inclusive). -#}
{% macro in_window(date_column, days, as_of_alias='as_of_dates') -%}
    ({{ date_column }} > {{ as_of_alias }}.as_of_date - {{ days }}
        and {{ date_column }} <= {{ as_of_alias }}.as_of_date)
{%- endmacro %}

{#- Fails compilation unless a window a rule needs is one the features compute. -#}
{% macro require_window(list_var, days) -%}
    {%- if days not in var(list_var) -%}
        {{ exceptions.raise_compiler_error("window " ~ days ~ " days is not in var " ~ list_var ~ " " ~ var(list_var)) }}
    {%- endif -%}
{%- endmacro %}


{#- Joins one row per day from start_date to end_date, both included, to the relation before
    it, as alias(column): a clause after the from clause (the dates may be columns of that
    relation). Dispatched: DuckDB cross joins generate_series, Spark explodes a sequence in a
    lateral view. -#}
{% macro join_day_series(start_date, end_date, alias, column) -%}
    {{ return(adapter.dispatch('join_day_series', 'segments_warehouse')(start_date, end_date, alias, column)) }}
{%- endmacro %}

{% macro duckdb__join_day_series(start_date, end_date, alias, column) -%}
    cross join generate_series(
        cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp), interval 1 day
    ) as {{ alias }} ({{ column }})
{%- endmacro %}

{% macro spark__join_day_series(start_date, end_date, alias, column) -%}
    lateral view explode(
        sequence(cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 day)
    ) {{ alias }} as {{ column }}
{%- endmacro %}

{#- Whole seconds from one timestamp to another (second boundaries crossed), a bigint.
    Dispatched: DuckDB's date_diff; Spark subtracts the epoch seconds (truncated the same). -#}
{% macro seconds_between(start_timestamp, end_timestamp) -%}
    {{ return(adapter.dispatch('seconds_between', 'segments_warehouse')(start_timestamp, end_timestamp)) }}
{%- endmacro %}

{% macro default__seconds_between(start_timestamp, end_timestamp) -%}
    date_diff('second', {{ start_timestamp }}, {{ end_timestamp }})
{%- endmacro %}

{% macro spark__seconds_between(start_timestamp, end_timestamp) -%}
    cast(unix_timestamp({{ end_timestamp }}) - unix_timestamp({{ start_timestamp }}) as bigint)
{%- endmacro %}
