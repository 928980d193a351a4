with

checked_erasure_requests as (
    select * from {{ ref('base_privacy__erasure_requests') }}
),

accepted as (
    select
        request_id,
        customer_id,
        email,
        requested_at
    from checked_erasure_requests
    where rejection_reason is null and not is_duplicate
)

select * from accepted
