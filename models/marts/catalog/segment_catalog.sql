{#- Every segment: family, name, label, description, the rule in words and the vars it uses. -#}
with

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

segment_catalog as (
    {{ segment_catalog_rows('segment_map') }}
)

select * from segment_catalog
