{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='fail',
        post_hook="{{ delete_erased_customers() }}",
    )
}}
{#-
    Every customer of the as-of date with the predictions of int_predictive__scores and the
    three predictive families: clv_band, churn_risk and cluster_name ('not_scored' without a
    qualifying order). History: each build replaces the rows of its as-of date.
-#}
-- depends_on: {{ ref('int_identity__erased_customer_keys') }}
-- depends_on: {{ ref('int_history_dataset_guard') }}
{{ require_window('order_windows_days', var('predictive_horizon_days')) }}
with

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

scores as (
    select * from {{ ref('int_predictive__scores') }}
),

clv_positions as (
    select
        customer_key,
        cume_dist() over (order by predicted_clv desc) as clv_position
    from scores
),

customer_predictions as (
    select
        customer_rfm.as_of_date,
        customer_rfm.customer_key,
        scores.repeat_purchases,
        scores.expected_purchases,
        scores.probability_alive,
        scores.expected_order_value,
        scores.predicted_clv,
        scores.churn_probability,
        case
            when scores.customer_key is null then 'not_scored'
            when clv_positions.clv_position <= {{ var('clv_high_share') }} then 'high'
            when
                clv_positions.clv_position
                <= {{ var('clv_high_share') }} + {{ var('clv_medium_share') }}
                then 'medium'
            else 'low'
        end as clv_band,
        case
            when scores.customer_key is null then 'not_scored'
            when scores.churn_probability >= {{ var('churn_high_threshold') }} then 'high'
            when scores.churn_probability >= {{ var('churn_medium_threshold') }} then 'medium'
            else 'low'
        end as churn_risk,
        coalesce(scores.cluster_name, 'not_scored') as cluster_name
    from customer_rfm
    left join scores
        on customer_rfm.customer_key = scores.customer_key
    left join clv_positions
        on customer_rfm.customer_key = clv_positions.customer_key
)

select * from customer_predictions
