{#- Whole years from start_date to end_date (an age: 17 until the day before the 18th birthday). -#}
{% macro full_years_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('full_years_between', 'segments_warehouse')(start_date, end_date)) }}
{%- endmacro %}

{% macro duckdb__full_years_between(start_date, end_date) -%}
    cast(date_part('year', age(cast({{ end_date }} as timestamp), cast({{ start_date }} as timestamp))) as integer)
{%- endmacro %}
