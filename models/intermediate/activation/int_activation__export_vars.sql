{{
    config(
        materialized='incremental',
        incremental_strategy=history_strategy(),
        partition_by=history_partition_by(),
        unique_key='as_of_date',
        on_schema_change='fail',
    )
}}
{#- History: the vars in force when each as-of date's audiences were built (the manifest
    of segments export records them). The holdout salt is left out: an export never says
    how its control group was drawn. -#}
{%- set names = [
    'activation_holdout_share', 'activation_min_audience_size',
    'rfm_score_cutoffs', 'lifecycle_new_days', 'lifecycle_active_days',
    'lifecycle_dormant_days', 'lifecycle_lapsed_days',
] -%}
{%- for segment in behavioural_segments() -%}
    {%- for name in segment.vars -%}
        {%- if name not in names -%}{%- do names.append(name) -%}{%- endif -%}
    {%- endfor -%}
{%- endfor -%}
{%- set values = {} -%}
{%- for name in names -%}{%- do values.update({name: var(name)}) -%}{%- endfor %}
with

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

export_vars as (
    select
        as_of_date,
        '{{ tojson(values, sort_keys=true) | replace("'", "''") }}' as vars_json
    from as_of_dates
)

select * from export_vars
