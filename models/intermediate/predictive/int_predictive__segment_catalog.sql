{#-
    The catalog rows of the three predictive families, unioned into segment_catalog: the
    fixed bands and risk levels (macro predictive_segments) and every cluster name in the
    cluster_profiles history, described from its latest profile (macro
    predictive_catalog_rows).
-#}
with

cluster_profiles as (
    select * from {{ ref('cluster_profiles') }}
),

latest_profiles as (
    select *
    from cluster_profiles
    qualify row_number() over (partition by cluster_name order by as_of_date desc) = 1
),

predictive_segment_catalog as (
    {{ predictive_catalog_rows('latest_profiles') }}
)

select * from predictive_segment_catalog
