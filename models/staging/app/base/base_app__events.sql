with

source_app_events as (
    select * from {{ source('app', 'app_events') }}
),

erased_identifiers as (
    select * from {{ ref('stg_privacy__erased_identifiers') }}
),

erased_customer_ids as (
    select identifier_value as customer_id
    from erased_identifiers
    where identifier_type = 'customer_id'
),

normalised as (
    select
        _raw_row_id as raw_row_id,
        _loaded_at as loaded_at,
        {{ clean_text('event_id') }} as event_id,
        {{ clean_text('device_id') }} as device_id,
        {{ clean_text('user_id') }} as customer_id,
        {{ clean_text('session_id') }} as session_id,
        {{ normalize_enum('event_name') }} as event_name,
        occurred_at,
        {{ normalize_enum('platform') }} as platform,
        {{ is_future_timestamp('occurred_at') }} as is_in_future
    from source_app_events
),

validated as (
    select
        normalised.*,
        case
            when erased_customer_ids.customer_id is not null then 'erased'
            when normalised.event_id is null then 'missing_key'
            when normalised.device_id is null and normalised.customer_id is null
                then 'missing_identifier'
            when normalised.occurred_at is null then 'missing_timestamp'
            when normalised.is_in_future then 'future_timestamp'
            when normalised.event_name is null
                or normalised.event_name not in {{ sql_value_list('app_event_names') }}
                then 'unknown_event_type'
        end as rejection_reason
    from normalised
    left join erased_customer_ids
        on normalised.customer_id = erased_customer_ids.customer_id
),

ranked as (
    select
        * exclude (is_in_future),
        {{ is_superseded(['event_id'], 'raw_row_id') }} as is_duplicate
    from validated
)

select * from ranked
