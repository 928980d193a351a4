{#-
    The non-null values of expression in one group, sorted (byte order) and joined with
    delimiter (a quoted literal); distinct=true keeps each value once. Equal to
    string_agg([distinct] expression, delimiter order by expression). Dispatched: DuckDB's
    ordered string_agg sorts inside the aggregate, about three times the cost of
    collecting a list and sorting each group's list (int_customer_identity_fingerprints at
    250k customers: 6.6 s of CPU against 2.3 s, the same fingerprints).
-#}
{% macro sorted_string_agg(expression, delimiter, distinct=false) -%}
    {{ return(adapter.dispatch('sorted_string_agg', 'segments_warehouse')(expression, delimiter, distinct)) }}
{%- endmacro %}

{% macro default__sorted_string_agg(expression, delimiter, distinct) -%}
    string_agg({{ 'distinct ' if distinct }}{{ expression }}, {{ delimiter }} order by {{ expression }})
{%- endmacro %}

{% macro duckdb__sorted_string_agg(expression, delimiter, distinct) -%}
    {%- set values = 'list(' ~ expression ~ ') filter (where ' ~ expression ~ ' is not null)' -%}
    array_to_string(list_sort({{ 'list_distinct(' ~ values ~ ')' if distinct else values }}), {{ delimiter }})
{%- endmacro %}
