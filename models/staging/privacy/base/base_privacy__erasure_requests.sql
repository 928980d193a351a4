{{
    config(
        materialized=row_replacing_materialization(),
        incremental_strategy=replace_rows_strategy(),
        unique_key='raw_row_id',
        on_schema_change='fail',
        pre_hook="{{ delete_stale_deliveries() }}",
    )
}}
{#-
    One row per raw erasure request row. The identifiers a request names are kept only as
    their identifier_key (salted md5 of "type:value", the same function as customer_key),
    never in clear: a request must not itself keep the data it asks to erase. A key is null
    when the request does not name that identifier, names a placeholder (a value matching
    the seed identity_blocklist names nobody) or, for the email, a malformed one.
-#}
with

blocklist as (
    {{ normalised_blocklist(ref('identity_blocklist')) }}
),

{{ delivery_scope_ctes(
    source('privacy', 'erasure_requests'),
    {'request_id': clean_identifier('source_rows.request_id')},
    [],
) }}

source_erasure_requests as (
    select * from {{ source('privacy', 'erasure_requests') }}
    {{ in_delivery_scope() }}
),

normalised as (
    select
        _raw_row_id as raw_row_id,
        _loaded_at as loaded_at,
        _delivery_id as delivery_id,
        {{ clean_identifier('request_id') }} as request_id,
        {{ clean_identifier('customer_id') }} as customer_id,
        {{ normalize_email('email') }} as email,
        requested_at
    from source_erasure_requests
),

placeholder_flags as (
    select
        normalised.raw_row_id,
        bool_or(
            {{ matches_blocklist("'customer_id'", 'normalised.customer_id') }}
        ) as is_placeholder_customer_id,
        bool_or({{ matches_blocklist("'email'", 'normalised.email') }}) as is_placeholder_email
    from normalised
    cross join blocklist
    group by normalised.raw_row_id
),

validated as (
    select
        normalised.*,
        coalesce(placeholder_flags.is_placeholder_customer_id, false)
            as is_placeholder_customer_id,
        coalesce(placeholder_flags.is_placeholder_email, false) as is_placeholder_email,
        case
            when normalised.request_id is null then 'missing_key'
            when normalised.customer_id is null and normalised.email is null
                then 'missing_identifier'
            when normalised.email is not null
                and not {{ is_valid_email('normalised.email') }} then 'malformed_email'
        end as rejection_reason
    from normalised
    left join placeholder_flags
        on normalised.raw_row_id = placeholder_flags.raw_row_id
),

keyed as (
    select
        raw_row_id,
        loaded_at,
        delivery_id,
        request_id,
        case
            when customer_id is not null and not is_placeholder_customer_id
                then {{ identifier_key("'customer_id'", 'customer_id') }}
        end as customer_id_key,
        case
            when email is not null and not is_placeholder_email
                and {{ is_valid_email('email') }}
                then {{ identifier_key("'email'", 'email') }}
        end as email_key,
        requested_at,
        rejection_reason
    from validated
),

ranked as (
    select
        *,
        {{ is_superseded(['request_id'], 'raw_row_id') }} as is_duplicate
    from keyed
)

select * from ranked
