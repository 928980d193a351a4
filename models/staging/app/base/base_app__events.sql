{{
    config(
        materialized=row_replacing_materialization(),
        incremental_strategy=replace_rows_strategy(),
        unique_key='raw_row_id',
        on_schema_change='fail',
        pre_hook="{{ delete_stale_deliveries() }}",
    )
}}
with

erased_identifiers as (
    select * from {{ ref('stg_privacy__erased_identifiers') }}
),

{{ delivery_scope_ctes(
    source('app', 'app_events'),
    {'event_id': clean_identifier('source_rows.event_id')},
    [['customer_id', 'customer_id']],
) }}

source_app_events as (
    select * from {{ source('app', 'app_events') }}
    {{ in_delivery_scope() }}
),

normalised as (
    select
        _raw_row_id as raw_row_id,
        _loaded_at as loaded_at,
        _delivery_id as delivery_id,
        {{ clean_identifier('event_id') }} as event_id,
        {{ clean_identifier('device_id') }} as device_id,
        {{ clean_identifier('user_id') }} as customer_id,
        {{ clean_identifier('session_id') }} as session_id,
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
            when {{ is_erased_identifier("'customer_id'", 'normalised.customer_id') }} then 'erased'
            when normalised.event_id is null then 'missing_key'
            when normalised.device_id is null and normalised.customer_id is null
                then 'missing_identifier'
            when normalised.occurred_at is null then 'missing_timestamp'
            when normalised.is_in_future then 'future_timestamp'
            when normalised.event_name is null
                or {{ in_var_list('normalised.event_name', 'app_event_names', negate=true) }}
                then 'unknown_event_type'
        end as rejection_reason
    from normalised
),

ranked as (
    select
        {{ star_except(['is_in_future']) }},
        {{ is_superseded(['event_id'], 'raw_row_id') }} as is_duplicate
    from validated
),

redacted as (
    select
        raw_row_id,
        loaded_at,
        delivery_id,
        event_id,
        {{- redact_erased([
            'device_id', 'customer_id', 'session_id', 'event_name', 'occurred_at', 'platform',
        ]) }}
        rejection_reason,
        is_duplicate
    from ranked
)

select * from redacted
