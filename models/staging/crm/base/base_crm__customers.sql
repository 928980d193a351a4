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
    source('crm', 'customers'),
    {'customer_id': clean_identifier('source_rows.customer_id')},
    [['customer_id', 'customer_id'], ['email', 'email']],
) }}

source_customers as (
    select * from {{ source('crm', 'customers') }}
    {{ in_delivery_scope() }}
),

normalised as (
    select
        _raw_row_id as raw_row_id,
        _loaded_at as loaded_at,
        _delivery_id as delivery_id,
        {{ clean_identifier('customer_id') }} as customer_id,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone,
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        birth_date,
        {{ normalize_enum('gender') }} as gender,
        {{ clean_text('city') }} as city,
        {{ clean_text('country') }} as country,
        {{ normalize_enum('loyalty_tier') }} as loyalty_tier,
        marketing_opt_in as is_marketing_opted_in,
        created_at,
        coalesce(updated_at, created_at) as updated_at,
        {{ is_future_timestamp('coalesce(updated_at, created_at)') }} as is_in_future
    from source_customers
),

validated as (
    select
        normalised.*,
        case
            when
                {{ is_erased_identifier("'customer_id'", 'normalised.customer_id') }}
                or {{ is_erased_identifier("'email'", 'normalised.email') }}
                then 'erased'
            when normalised.customer_id is null then 'missing_key'
            when normalised.email is not null
                and not {{ is_valid_email('normalised.email') }} then 'malformed_email'
            when normalised.phone is not null
                and {{ is_malformed_phone('normalised.phone') }} then 'malformed_phone'
            when normalised.updated_at is null then 'missing_timestamp'
            when normalised.is_in_future then 'future_timestamp'
        end as rejection_reason
    from normalised
),

flagged as (
    select
        {{ star_except(['is_in_future']) }},
        {{ is_superseded(['customer_id'], 'updated_at desc nulls last, raw_row_id desc') }}
            as is_duplicate
    from validated
),

redacted as (
    select
        raw_row_id,
        loaded_at,
        delivery_id,
        {{- redact_erased([
            'customer_id', 'email', 'phone', 'first_name', 'last_name', 'birth_date',
            'gender', 'city', 'country', 'loyalty_tier', 'is_marketing_opted_in',
            'created_at', 'updated_at',
        ]) }}
        rejection_reason,
        is_duplicate
    from flagged
)

select * from redacted
