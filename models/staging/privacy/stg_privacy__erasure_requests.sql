{#- One row per accepted erasure request; what it names is kept only as identifier keys. -#}
with

checked_erasure_requests as (
    select * from {{ ref('base_privacy__erasure_requests') }}
),

accepted as (
    select
        request_id,
        customer_id_key,
        email_key,
        requested_at
    from checked_erasure_requests
    where rejection_reason is null and not is_duplicate
)

select * from accepted
