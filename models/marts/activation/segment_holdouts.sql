{#- The holdout (control) groups: marketable segment members never exported. -#}
with

segment_audiences as (
    select * from {{ ref('int_activation__segment_audiences') }}
),

segment_holdouts as (
    select
        as_of_date,
        segment_family,
        segment_name,
        customer_key,
        is_segment_exported,
        eligible_customers,
        holdout_share
    from segment_audiences
    where is_holdout
)

select * from segment_holdouts
