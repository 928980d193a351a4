{#-
    A SQL expression that aborts the query with message when condition is true, and
    is true otherwise. Used in a where clause so the optimizer cannot drop it.
    Dispatched: every engine spells "raise an error from SQL" differently.
-#}
{% macro assert_true_or_raise(condition, message) -%}
    {{ return(adapter.dispatch('assert_true_or_raise', 'customer_segments')(condition, message)) }}
{%- endmacro %}

{% macro duckdb__assert_true_or_raise(condition, message) -%}
    (case when {{ condition }} then error('{{ message }}') else true end)
{%- endmacro %}

{% macro default__assert_true_or_raise(condition, message) -%}
    {{ exceptions.raise_compiler_error("assert_true_or_raise is not implemented for " ~ adapter.type()) }}
{%- endmacro %}

{#- A stable surrogate key from an identifier type and value (md5 of "type:value"). -#}
{% macro identifier_key(type_column, value_column) -%}
    md5({{ type_column }} || ':' || {{ value_column }})
{%- endmacro %}
