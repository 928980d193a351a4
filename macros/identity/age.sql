{#-
    Whole years from start_date to end_date (an age: 17 until the day before the 18th
    birthday); null when start_date is after end_date.
-#}
{% macro full_years_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('full_years_between', 'segments_warehouse')(start_date, end_date)) }}
{%- endmacro %}

{#- Portable: the difference of the years, less one while the end's month and day come
    before the start's (a 29 February birthday counts from 1 March in other years, as
    DuckDB's age() does). -#}
{% macro default__full_years_between(start_date, end_date) -%}
    case
        when {{ start_date }} <= {{ end_date }}
            then cast(
                extract(year from {{ end_date }}) - extract(year from {{ start_date }})
                - case
                    when extract(month from {{ end_date }}) * 100 + extract(day from {{ end_date }})
                        < extract(month from {{ start_date }}) * 100 + extract(day from {{ start_date }})
                        then 1
                    else 0
                end
                as integer
            )
    end
{%- endmacro %}

{% macro duckdb__full_years_between(start_date, end_date) -%}
    case
        when {{ start_date }} <= {{ end_date }}
            then cast(date_part(
                'year', age(cast({{ end_date }} as timestamp), cast({{ start_date }} as timestamp))
            ) as integer)
    end
{%- endmacro %}


{#-
    The age band of an age in whole years, from var customer_age_band_lower_bounds (ascending
    lower bounds): 'under <first>', '<bound>-<next bound - 1>', ..., '<last>+'; null for a
    null or negative age.
-#}
{% macro age_band(age_column) -%}
    {%- set bounds = var('customer_age_band_lower_bounds') -%}
    case
        when {{ age_column }} is null or {{ age_column }} < 0 then null
        when {{ age_column }} < {{ bounds[0] }} then 'under {{ bounds[0] }}'
        {%- for lower_bound in bounds[:-1] %}
        when {{ age_column }} < {{ bounds[loop.index] }} then '{{ lower_bound }}-{{ bounds[loop.index] - 1 }}'
        {%- endfor %}
        else '{{ bounds[-1] }}+'
    end
{%- endmacro %}
