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
-- depends_on: {{ ref('int_history_dataset_guard') }}
{#-
    Every segment rule in one place. History: each build replaces the rows of its as-of
    date and keeps the other dates.
-#}
{{ require_window('order_windows_days', var('high_spender_window_days')) }}
{{ require_window('order_windows_days', var('recent_buyer_window_days')) }}
{{ require_window('order_windows_days', var('high_value_engaged_order_window_days')) }}
{{ require_window('order_windows_days', var('premium_spend_window_days')) }}
{{ require_window('event_windows_days', var('high_value_engaged_product_view_window_days')) }}
{{ require_window('event_windows_days', var('premium_product_view_window_days')) }}
{{ require_window('event_windows_days', var('win_back_product_view_window_days')) }}
with

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

customer_engagement as (
    select * from {{ ref('customer_engagement') }}
),

customer_recency as (
    select * from {{ ref('customer_recency') }}
),

rfm_scores as (
    select * from {{ ref('int_rfm_scores') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

-- Customers with sessions, and how many of them have a strictly longer average session:
-- ties at the top-share boundary all qualify.
session_duration_ranks as (
    select
        customer_key,
        rank() over (order by avg_session_duration_seconds desc) - 1 as customers_longer,
        count(*) over () as customers_with_sessions
    from customer_engagement
    where avg_session_duration_seconds is not null
),

customer_segments as (
    select
        customer_rfm.as_of_date,
        customer_rfm.customer_key,
        rfm_scores.r_score,
        rfm_scores.f_score,
        rfm_scores.m_score,
        rfm_scores.fm_score,
        coalesce(rfm_scores.rfm_segment, 'prospects') as rfm_segment,
        customer_recency.lifecycle_stage,

        -- High spenders: average order value above the threshold over the window, compared
        -- unrounded (spend > threshold * orders) so 300.01 over 3 orders qualifies.
        coalesce(
            customer_rfm.frequency_{{ var('high_spender_window_days') }}d > 0
            and customer_rfm.monetary_{{ var('high_spender_window_days') }}d
            > {{ var('high_spender_min_avg_order_value') }}
            * customer_rfm.frequency_{{ var('high_spender_window_days') }}d,
            false
        ) as is_high_spender,

        -- Recent buyers: a qualifying order within the window.
        customer_rfm.frequency_{{ var('recent_buyer_window_days') }}d > 0 as is_recent_buyer,

        -- High-value engaged: many orders, many product views, and a high open rate.
        coalesce(
            customer_rfm.frequency_{{ var('high_value_engaged_order_window_days') }}d
            > {{ var('high_value_engaged_min_orders') }}
            and customer_engagement.product_views_{{
                var('high_value_engaged_product_view_window_days') }}d
            > {{ var('high_value_engaged_min_product_views') }}
            and customer_engagement.email_open_rate
            > {{ var('high_value_engaged_min_open_rate') }},
            false
        ) as is_high_value_engaged,

        -- Premium shoppers: high spend and at least a few product views in the window.
        customer_rfm.monetary_{{ var('premium_spend_window_days') }}d
        > {{ var('premium_min_spend') }}
        and customer_engagement.product_views_{{ var('premium_product_view_window_days') }}d
        >= {{ var('premium_min_product_views') }} as is_premium_shopper,

        -- Highly engaged: fewer than the top share of customers with sessions have a strictly
        -- longer average session (so a block tied at the boundary is in, whole).
        coalesce(
            session_duration_ranks.customers_longer
            < {{ var('highly_engaged_top_share') }}
            * session_duration_ranks.customers_with_sessions,
            false
        ) as is_highly_engaged,

        -- Cart abandoners: abandoned a cart within the window and not bought since.
        coalesce(
            {{ in_window(
                'cast(customer_engagement.last_abandoned_cart_at as date)',
                var('cart_abandoner_window_days')
            ) }}
            and not customer_engagement.has_purchased_since_abandonment
            and (
                customer_rfm.last_order_at is null
                or customer_rfm.last_order_at <= customer_engagement.last_abandoned_cart_at
            ),
            false
        ) as is_cart_abandoner,

        -- At risk, disengaging: no order for a long time and low engagement.
        coalesce(
            customer_rfm.recency_days > {{ var('disengaging_min_days_without_order') }}
            and customer_engagement.engagement_score
            < {{ var('disengaging_max_engagement_score') }},
            false
        ) as is_disengaging,

        -- Win-back: valuable but slipping RFM segment, and still browsing products.
        coalesce(
            {{ in_var_list('rfm_scores.rfm_segment', 'win_back_rfm_segments') }}
            and customer_engagement.product_views_{{
                var('win_back_product_view_window_days') }}d > 0,
            false
        ) as is_win_back,

        customer_rfm.monetary,
        customer_rfm.frequency
    from customer_rfm
    cross join as_of_dates
    inner join customer_engagement
        on customer_rfm.customer_key = customer_engagement.customer_key
    inner join customer_recency
        on customer_rfm.customer_key = customer_recency.customer_key
    left join rfm_scores
        on customer_rfm.customer_key = rfm_scores.customer_key
    left join session_duration_ranks
        on customer_rfm.customer_key = session_duration_ranks.customer_key
)

select * from customer_segments
