{#- Every segment: family, name, label, description, the rule in words and the vars it uses. -#}
with

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

-- the predictive families (clv_band, churn_risk, cluster) are catalogued apart
predictive_segment_catalog as (
    select * from {{ ref('int_predictive__segment_catalog') }}
),

rule_segments as (
    {{ segment_catalog_rows('segment_map') }}
),

predictive_segments as (
    select
        segment_family,
        segment_name,
        segment_label,
        description,
        rule_in_words,
        vars_used
    from predictive_segment_catalog
),

segment_catalog as (
    select
        segment_family,
        segment_name,
        segment_label,
        description,
        rule_in_words,
        vars_used
    from rule_segments
    union all
    select * from predictive_segments
)

select * from segment_catalog
