{{
    config(
        materialized='incremental',
        incremental_strategy=history_strategy(),
        partition_by=history_partition_by(),
        unique_key='as_of_date',
        on_schema_change='fail',
        post_hook="{{ delete_erased_customers() }}",
    )
}}
-- depends_on: {{ ref('int_identity__erased_customer_keys') }}
{#- Long form of customer_segments, for activation lists and BI filters. -#}
{%- set behavioural_segments = behavioural_segments() %}
with

customer_segments as (
    select * from {{ ref('customer_segments') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

customer_predictions as (
    select * from {{ ref('customer_predictions') }}
),

current_segments as (
    select customer_segments.*
    from customer_segments
    inner join as_of_dates
        on customer_segments.as_of_date = as_of_dates.as_of_date
),

current_predictions as (
    select customer_predictions.*
    from customer_predictions
    inner join as_of_dates
        on customer_predictions.as_of_date = as_of_dates.as_of_date
),

memberships as (
    select
        as_of_date,
        customer_key,
        'rfm' as segment_family,
        rfm_segment as segment_name
    from current_segments
    union all
    select
        as_of_date,
        customer_key,
        'lifecycle' as segment_family,
        lifecycle_stage as segment_name
    from current_segments
    {% for segment in behavioural_segments %}
        union all
        select
            as_of_date,
            customer_key,
            'behavioural' as segment_family,
            '{{ segment.name }}' as segment_name
        from current_segments
        where {{ segment.flag }}
    {% endfor %}
    {% for family, column in [
        ('clv_band', 'clv_band'), ('churn_risk', 'churn_risk'), ('cluster', 'cluster_name')
    ] %}
        union all
        select
            as_of_date,
            customer_key,
            '{{ family }}' as segment_family,
            {{ column }} as segment_name
        from current_predictions
    {% endfor %}
)

select * from memberships
