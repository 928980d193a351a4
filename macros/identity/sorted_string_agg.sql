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

{#- Spark: collect_list (collect_set for distinct) skips nulls; an array of strings sorts
    by UTF-8 bytes, as DuckDB's list_sort does. A group with no value gives null. -#}
{% macro spark__sorted_string_agg(expression, delimiter, distinct) -%}
    case
        when count({{ expression }}) > 0
            then array_join(
                array_sort({{ 'collect_set' if distinct else 'collect_list' }}({{ expression }})), {{ delimiter }}
            )
    end
{%- endmacro %}

{#-
    The values of expression in one group joined with delimiter, in the ascending order of
    the numeric sort_keys (a list of SQL expressions; negate one to sort it descending).
    Dispatched: DuckDB orders inside string_agg; Spark sorts an array of structs (keys
    first) and joins the values.
-#}
{% macro ordered_string_agg(expression, delimiter, sort_keys) -%}
    {{ return(adapter.dispatch('ordered_string_agg', 'segments_warehouse')(expression, delimiter, sort_keys)) }}
{%- endmacro %}

{% macro default__ordered_string_agg(expression, delimiter, sort_keys) -%}
    string_agg({{ expression }}, {{ delimiter }} order by {{ sort_keys | join(', ') }})
{%- endmacro %}

{% macro spark__ordered_string_agg(expression, delimiter, sort_keys) -%}
    array_join(
        transform(
            array_sort(collect_list(named_struct(
                {%- for key in sort_keys %}
                'key_{{ loop.index }}', {{ key }},
                {%- endfor %}
                'value', {{ expression }}
            ))),
            sorted -> sorted.value
        ),
        {{ delimiter }}
    )
{%- endmacro %}
