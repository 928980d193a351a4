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
    source('shop', 'orders'),
    {'order_id': clean_identifier('source_rows.order_id')},
    [['customer_id', 'customer_id'], ['email', 'email']],
) }}

source_orders as (
    select * from {{ source('shop', 'orders') }}
    {{ in_delivery_scope() }}
),

normalised as (
    select
        _raw_row_id as raw_row_id,
        _loaded_at as loaded_at,
        _delivery_id as delivery_id,
        {{ clean_identifier('order_id') }} as order_id,
        {{ clean_identifier('customer_id') }} as customer_id,
        {{ normalize_email('email') }} as email,
        ordered_at,
        {{ normalize_enum('status') }} as order_status,
        order_total,
        {{ normalize_enum('channel') }} as channel,
        {{ is_future_timestamp('ordered_at') }} as is_in_future
    from source_orders
),

validated as (
    select
        normalised.*,
        case
            when
                {{ is_erased_identifier("'customer_id'", 'normalised.customer_id') }}
                or {{ is_erased_identifier("'email'", 'normalised.email') }}
                then 'erased'
            when normalised.order_id is null then 'missing_key'
            when normalised.customer_id is null and normalised.email is null
                then 'missing_identifier'
            when normalised.email is not null
                and not {{ is_valid_email('normalised.email') }} then 'malformed_email'
            when normalised.ordered_at is null then 'missing_timestamp'
            when normalised.is_in_future then 'future_timestamp'
            when normalised.order_status is null
                or {{ in_var_list('normalised.order_status', 'order_statuses', negate=true) }}
                then 'unknown_status'
            when {{ in_var_list('normalised.channel', 'order_channels', negate=true) }}
                then 'unknown_channel'
            when normalised.order_total is null then 'missing_amount'
            when normalised.order_total < 0 then 'negative_amount'
        end as rejection_reason
    from normalised
),

ranked as (
    select
        {{ star_except(['is_in_future']) }},
        {{ is_superseded(['order_id'], 'raw_row_id desc') }} as is_duplicate
    from validated
),

redacted as (
    select
        raw_row_id,
        loaded_at,
        delivery_id,
        order_id,
        {{- redact_erased([
            'customer_id', 'email', 'ordered_at', 'order_status', 'order_total', 'channel',
        ]) }}
        rejection_reason,
        is_duplicate
    from ranked
)

select * from redacted
