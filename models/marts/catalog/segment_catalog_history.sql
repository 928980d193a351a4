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
    The catalog as it was when each as-of date was built: the vars in force for that build
    (a rebuild of a date, e.g. segments backfill with other --vars, replaces its rows).
    Like every history table, it waits for the history guard (another data set stops it).
#}
-- depends_on: {{ ref('int_history_dataset_guard') }}
with

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

cluster_profiles as (
    select * from {{ ref('cluster_profiles') }}
),

-- the clusters discovered at the date being built
current_profiles as (
    select cluster_profiles.*
    from cluster_profiles
    inner join as_of_dates
        on cluster_profiles.as_of_date = as_of_dates.as_of_date
),

catalog_entries as (
    {{ segment_catalog_rows('segment_map') }}
    union all
    {{ predictive_catalog_rows('current_profiles') }}
),

catalog_history as (
    select
        as_of_dates.as_of_date,
        catalog_entries.*,
        cast(current_timestamp as timestamp) as recorded_at
    from catalog_entries
    cross join as_of_dates
)

select * from catalog_history
