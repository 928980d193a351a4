{{
    config(
        materialized='incremental',
        incremental_strategy=history_strategy(),
        partition_by=history_partition_by(),
        unique_key='as_of_date',
        on_schema_change='fail',
    )
}}
{#-
    One row per as-of date and discovered cluster: its rank (clusters ordered by their
    centroids), its customers and share of buyers, and its centroid in the features' own
    units, from which the name was derived. History: each build replaces its as-of date.
-#}
with

model_metrics as (
    select * from {{ ref('model_metrics') }}
),

customer_predictions as (
    select * from {{ ref('customer_predictions') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

current_statistics as (
    select model_metrics.*
    from model_metrics
    inner join as_of_dates
        on model_metrics.as_of_date = as_of_dates.as_of_date
    where model_metrics.model_name = 'clusters'
),

centroids as (
    select
        as_of_date,
        segment_name as cluster_name,
        max(value) filter (where statistic_kind = 'rank') as cluster_rank,
        max(value) filter (
            where statistic_kind = 'centroid' and statistic_name = 'recency_days'
        ) as centroid_recency_days,
        max(value) filter (
            where statistic_kind = 'centroid' and statistic_name = 'frequency'
        ) as centroid_frequency,
        max(value) filter (
            where statistic_kind = 'centroid' and statistic_name = 'monetary'
        ) as centroid_monetary,
        max(value) filter (
            where statistic_kind = 'centroid' and statistic_name = 'avg_order_value'
        ) as centroid_avg_order_value,
        max(value) filter (
            where statistic_kind = 'centroid' and statistic_name = 'engagement_score'
        ) as centroid_engagement_score
    from current_statistics
    where statistic_kind in ('rank', 'centroid')
    group by as_of_date, segment_name
),

cluster_sizes as (
    select
        customer_predictions.cluster_name,
        count(*) as customers
    from customer_predictions
    inner join as_of_dates
        on customer_predictions.as_of_date = as_of_dates.as_of_date
    where customer_predictions.cluster_name != 'not_scored'
    group by customer_predictions.cluster_name
),

cluster_profiles as (
    select
        centroids.as_of_date,
        centroids.cluster_name,
        cast(centroids.cluster_rank as integer) as cluster_rank,
        coalesce(cluster_sizes.customers, 0) as customers,
        coalesce(cluster_sizes.customers, 0)
        / sum(coalesce(cluster_sizes.customers, 0)) over () as share,  -- noqa: RF04
        centroids.centroid_recency_days,
        centroids.centroid_frequency,
        centroids.centroid_monetary,
        centroids.centroid_avg_order_value,
        centroids.centroid_engagement_score
    from centroids
    left join cluster_sizes
        on centroids.cluster_name = cluster_sizes.cluster_name
)

select * from cluster_profiles
