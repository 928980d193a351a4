with

source_orders as (
    select * from {{ source('shop', 'orders') }}
),

erased_identifiers as (
    select * from {{ ref('stg_privacy__erased_identifiers') }}
),

normalised as (
    select
        _raw_row_id as raw_row_id,
        _loaded_at as loaded_at,
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ normalize_email('email') }} as email,
        ordered_at,
        {{ normalize_enum('status') }} as order_status,
        order_total,
        {{ normalize_enum('channel') }} as channel,
        {{ is_future_timestamp('ordered_at') }} as is_in_future
    from source_orders
),

erasure_matches as (
    select distinct normalised.raw_row_id
    from normalised
    inner join erased_identifiers
        on (
            erased_identifiers.identifier_type = 'customer_id'
            and normalised.customer_id = erased_identifiers.identifier_value
        )
        or (
            erased_identifiers.identifier_type = 'email'
            and normalised.email = erased_identifiers.identifier_value
        )
),

validated as (
    select
        normalised.*,
        case
            when erasure_matches.raw_row_id is not null then 'erased'
            when normalised.order_id is null then 'missing_key'
            when normalised.customer_id is null and normalised.email is null
                then 'missing_identifier'
            when normalised.email is not null
                and not {{ is_valid_email('normalised.email') }} then 'malformed_email'
            when normalised.ordered_at is null then 'missing_timestamp'
            when normalised.is_in_future then 'future_timestamp'
            when normalised.order_status is null
                or normalised.order_status not in {{ sql_value_list('order_statuses') }}
                then 'unknown_status'
            when normalised.channel not in {{ sql_value_list('order_channels') }}
                then 'unknown_channel'
            when normalised.order_total is null then 'missing_amount'
            when normalised.order_total < 0 then 'negative_amount'
        end as rejection_reason
    from normalised
    left join erasure_matches
        on normalised.raw_row_id = erasure_matches.raw_row_id
),

ranked as (
    select
        * exclude (is_in_future),
        {{ is_superseded(['order_id'], 'raw_row_id desc') }} as is_duplicate
    from validated
)

select * from ranked
