{{ config(materialized='table') }}
{#-
    Every identifier whose data must be removed before anything leaves staging.

    Seeds: the customer_id and the well-formed email of every raw request row, accepted
    or quarantined (a request with a malformed email or no request_id is kept in
    quarantine for audit, but what it names is still erased). A placeholder (a value
    matching the seed identity_blocklist) names nobody and is never erased.

    Identifiers are held only as identifier_key (salted md5 of "type:value", macro
    identifier_key): the requests, and this list, must not keep in clear what they erase.
    Staging models compare the key of each row's normalised identifier with these keys.

    Closure: customer_ids and emails are linked when one raw record carries both (any CRM
    version, any order). The erased set is every identifier reachable from a seed over
    these links, computed to a fixed point by a recursive CTE (it ends because the set
    of identifiers is finite). The walk never passes through a placeholder, nor through
    an email held by more accounts than identity_max_accounts_per_email (a family or
    office address): strangers who share one are not erased, exactly as identity never
    merges them. Phones, cookies and devices are not erasure keys: a phone is often
    shared, and the erased customer's own records are removed through its customer_id.
-#}
with recursive

erasure_requests as (
    select * from {{ ref('base_privacy__erasure_requests') }}
),

source_customers as (
    select * from {{ source('crm', 'customers') }}
),

source_orders as (
    select * from {{ source('shop', 'orders') }}
),

blocklist as (
    select * from {{ ref('identity_blocklist') }}
),

requested_identifiers as (
    select
        'customer_id' as identifier_type,
        customer_id_key as identifier_key
    from erasure_requests
    where customer_id_key is not null
    union
    select
        'email' as identifier_type,
        email_key as identifier_key
    from erasure_requests
    where email_key is not null
),

record_links as (
    select
        {{ clean_identifier('customer_id') }} as customer_id,
        {{ normalize_email('email') }} as email
    from source_customers
    union
    select
        {{ clean_identifier('customer_id') }} as customer_id,
        {{ normalize_email('email') }} as email
    from source_orders
),

customer_email_links as (
    select
        customer_id,
        email
    from record_links
    where customer_id is not null and email is not null
),

linked_identifiers as (
    select
        'customer_id' as identifier_type,
        customer_id as identifier_value
    from customer_email_links
    union
    select
        'email' as identifier_type,
        email as identifier_value
    from customer_email_links
),

placeholder_identifiers as (
    select distinct
        linked_identifiers.identifier_type,
        linked_identifiers.identifier_value
    from linked_identifiers
    inner join blocklist
        on {{ matches_blocklist(
            'linked_identifiers.identifier_type',
            'linked_identifiers.identifier_value',
        ) }}
),

shared_emails as (
    select
        'email' as identifier_type,
        email as identifier_value
    from customer_email_links
    group by email
    having count(distinct customer_id) > {{ var('identity_max_accounts_per_email') }}
),

unwalkable_identifiers as (
    select * from placeholder_identifiers
    union
    select * from shared_emails
),

walkable_links as (
    select
        {{ identifier_key("'customer_id'", 'customer_email_links.customer_id') }}
            as customer_id_key,
        {{ identifier_key("'email'", 'customer_email_links.email') }} as email_key
    from customer_email_links
    left join unwalkable_identifiers as unwalkable_customers
        on unwalkable_customers.identifier_type = 'customer_id'
            and customer_email_links.customer_id = unwalkable_customers.identifier_value
    left join unwalkable_identifiers as unwalkable_emails
        on unwalkable_emails.identifier_type = 'email'
            and customer_email_links.email = unwalkable_emails.identifier_value
    where
        unwalkable_customers.identifier_value is null
        and unwalkable_emails.identifier_value is null
),

directed_links as (
    select
        'customer_id' as from_type,
        customer_id_key as from_key,
        'email' as to_type,
        email_key as to_key
    from walkable_links
    union all
    select
        'email' as from_type,
        email_key as from_key,
        'customer_id' as to_type,
        customer_id_key as to_key
    from walkable_links
),

erasure_closure (identifier_type, identifier_key) as (
    select
        identifier_type,
        identifier_key
    from requested_identifiers
    union
    select
        directed_links.to_type as identifier_type,
        directed_links.to_key as identifier_key
    from erasure_closure
    inner join directed_links
        on erasure_closure.identifier_type = directed_links.from_type
            and erasure_closure.identifier_key = directed_links.from_key
),

erased_identifiers as (
    select
        identifier_type,
        identifier_key
    from erasure_closure
)

select * from erased_identifiers
