{{ config(materialized='table') }}
{#-
    One row per walkable link of the erasure closure (stg_privacy__erased_identifiers): a
    customer_id and an email that one raw record carries together (any CRM version, any
    order), held only as identifier_key. A link is walkable unless one of its identifiers is
    a placeholder (matching the seed identity_blocklist) or an email held by more accounts
    than identity_max_accounts_per_email (a family or office address): strangers who share
    one are not erased together, exactly as identity never merges them.
-#}
with

source_customers as (
    select * from {{ source('crm', 'customers') }}
),

source_orders as (
    select * from {{ source('shop', 'orders') }}
),

blocklist as (
    {{ normalised_blocklist(ref('identity_blocklist')) }}
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
)

select * from walkable_links
