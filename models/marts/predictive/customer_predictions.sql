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
{#-
    Every customer of the as-of date with the predictions of int_predictive__scores and the
    three predictive families: clv_band, churn_risk and cluster_name, 'not_scored' without a
    qualifying order or when the family's model was not fitted at the date (its scores are
    null; model_metrics says why). History: each build replaces the rows of its as-of date.
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
    where predicted_clv is not null
),

customer_predictions as (
    select
        customer_rfm.as_of_date,
        customer_rfm.customer_key,
        cast(scores.repeat_purchases as bigint) as repeat_purchases,
        cast(scores.expected_purchases as double) as expected_purchases,
        cast(scores.probability_alive as double) as probability_alive,
        cast(scores.expected_order_value as double) as expected_order_value,
        cast(scores.predicted_clv as double) as predicted_clv,
        cast(scores.churn_probability as double) as churn_probability,
        case
            when clv_positions.clv_position is null then 'not_scored'
            when clv_positions.clv_position <= {{ var('clv_high_share') }} then 'high'
            when
                clv_positions.clv_position
                <= {{ var('clv_high_share') }} + {{ var('clv_medium_share') }}
                then 'medium'
            else 'low'
        end as clv_band,
        case
            when scores.churn_probability is null then 'not_scored'
            when scores.churn_probability >= {{ var('churn_high_threshold') }} then 'high'
            when scores.churn_probability >= {{ var('churn_medium_threshold') }} then 'medium'
            else 'low'
        end as churn_risk,
        coalesce(cast(scores.cluster_name as string), 'not_scored') as cluster_name
    from customer_rfm
    left join scores
        on customer_rfm.customer_key = scores.customer_key
    left join clv_positions
        on customer_rfm.customer_key = clv_positions.customer_key
)

select * from customer_predictions
