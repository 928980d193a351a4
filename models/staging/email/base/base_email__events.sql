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
    source('email', 'email_events'),
    {'event_id': clean_identifier('source_rows.event_id')},
    [['email', 'email']],
) }}

source_email_events as (
    select * from {{ source('email', 'email_events') }}
    {{ in_delivery_scope() }}
),

normalised as (
    select
        _raw_row_id as raw_row_id,
        _loaded_at as loaded_at,
        _delivery_id as delivery_id,
        {{ clean_identifier('event_id') }} as event_id,
        {{ normalize_email('email') }} as email,
        {{ clean_identifier('campaign_id') }} as campaign_id,
        {{ normalize_enum('event_type') }} as event_type,
        occurred_at,
        {{ is_future_timestamp('occurred_at') }} as is_in_future
    from source_email_events
),

validated as (
    select
        normalised.*,
        case
            when {{ is_erased_identifier("'email'", 'normalised.email') }} then 'erased'
            when normalised.event_id is null then 'missing_key'
            when normalised.email is null then 'missing_identifier'
            when not {{ is_valid_email('normalised.email') }} then 'malformed_email'
            when normalised.occurred_at is null then 'missing_timestamp'
            when normalised.is_in_future then 'future_timestamp'
            when normalised.event_type is null
                or {{ in_var_list('normalised.event_type', 'email_event_types', negate=true) }}
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
        {{- redact_erased(['email', 'campaign_id', 'event_type', 'occurred_at']) }}
        rejection_reason,
        is_duplicate
    from ranked
)

select * from redacted
