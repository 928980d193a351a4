{{ config(materialized='table', post_hook="{{ drop_reachable_identifiers() }}") }}
{#-
    Every identifier whose data must be removed before anything leaves staging.

    Seeds: the customer_id and the well-formed email of every raw request row, accepted
    or quarantined (a request with a malformed email or no request_id is kept in
    quarantine for audit, but what it names is still erased). A placeholder (a value
    matching the seed identity_blocklist) names nobody and is never erased.

    Identifiers are held only as identifier_key (salted md5 of "type:value", macro
    identifier_key): the requests, and this list, must not keep in clear what they erase.
    Staging models compare the key of each row's normalised identifier with these keys.

    Closure: customer_ids and emails are linked when one raw record carries both (the
    walkable links of stg_privacy__erasure_links, which leave out placeholders and shared
    emails). The erased set is every identifier reachable from a seed over these links,
    computed to a fixed point (macro reachable_identifiers: a recursive CTE on DuckDB,
    an iteration of tables on Spark, bounded by identity_max_iterations). Phones, cookies and devices are not erasure keys: a phone is often
    shared, and the erased customer's own records are removed through its customer_id.
-#}
{%- set requested_identifiers -%}
    select
        'customer_id' as identifier_type,
        customer_id_key as identifier_key
    from {{ ref('base_privacy__erasure_requests') }}
    where customer_id_key is not null
    union
    select
        'email' as identifier_type,
        email_key as identifier_key
    from {{ ref('base_privacy__erasure_requests') }}
    where email_key is not null
{%- endset %}

{{ reachable_identifiers(
    requested_identifiers,
    ref('stg_privacy__erasure_links'),
    var('identity_max_iterations') | int,
) }}
