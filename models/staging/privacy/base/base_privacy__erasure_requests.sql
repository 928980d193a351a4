with

source_erasure_requests as (
    select * from {{ source('privacy', 'erasure_requests') }}
),

normalised as (
    select
        _raw_row_id as raw_row_id,
        _loaded_at as loaded_at,
        {{ clean_text('request_id') }} as request_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ normalize_email('email') }} as email,
        requested_at
    from source_erasure_requests
),

validated as (
    select
        *,
        case
            when request_id is null then 'missing_key'
            when customer_id is null and email is null then 'missing_identifier'
            when email is not null and not {{ is_valid_email('email') }} then 'malformed_email'
        end as rejection_reason
    from normalised
),

ranked as (
    select
        *,
        {{ is_superseded(['request_id'], 'raw_row_id') }} as is_duplicate
    from validated
)

select * from ranked
