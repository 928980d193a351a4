{#-
    Every identifier that belongs to a unified customer, with that customer's key.

    customer_key is the md5 of "type:value" of the component's earliest-seen account,
    email or phone (ties broken by type, then value). New identifiers joining a customer
    later never change it, and when two customers merge the key of the one seen first
    survives, without any state kept between runs.

    Cookies and devices attach to the customer of the account(s) they were logged in
    with, if those accounts all belong to one customer and the cookie or device is not
    excluded; they never join two customers.
-#}
with

components as (
    select * from {{ ref('int_identity__components') }}
),

sightings as (
    select * from {{ ref('int_identity__sightings') }}
),

account_links as (
    select * from {{ ref('int_identity__account_links') }}
),

excluded_identifiers as (
    select * from {{ ref('int_identity__excluded_identifiers') }}
),

identifier_first_seen as (
    select
        identifier_type,
        identifier_value,
        min(first_seen_at) as first_seen_at
    from sightings
    group by identifier_type, identifier_value
),

component_keys as (
    select
        components.component_id,
        {{ identifier_key('components.identifier_type', 'components.identifier_value') }}
            as customer_key
    from components
    inner join identifier_first_seen
        on components.identifier_type = identifier_first_seen.identifier_type
            and components.identifier_value = identifier_first_seen.identifier_value
    qualify row_number() over (
            partition by components.component_id
            order by
                identifier_first_seen.first_seen_at,
                components.identifier_type,
                components.identifier_value
        ) = 1
),

graph_identifiers as (
    select
        components.identifier_type,
        components.identifier_value,
        component_keys.customer_key
    from components
    inner join component_keys
        on components.component_id = component_keys.component_id
),

device_candidates as (
    select
        account_links.linked_type as identifier_type,
        account_links.linked_value as identifier_value,
        min(account_customers.customer_key) as customer_key,
        count(distinct account_customers.customer_key) as candidate_customers
    from account_links
    inner join graph_identifiers as account_customers
        on account_customers.identifier_type = 'customer_id'
            and account_links.customer_id = account_customers.identifier_value
    left join excluded_identifiers
        on account_links.linked_type = excluded_identifiers.identifier_type
            and account_links.linked_value = excluded_identifiers.identifier_value
    where
        account_links.linked_type in ('anonymous_id', 'device_id')
        and excluded_identifiers.identifier_value is null
    group by account_links.linked_type, account_links.linked_value
),

attached_devices as (
    select
        identifier_type,
        identifier_value,
        customer_key
    from device_candidates
    where candidate_customers = 1
),

identifier_keys as (
    select * from graph_identifiers
    union all
    select * from attached_devices
)

select * from identifier_keys
