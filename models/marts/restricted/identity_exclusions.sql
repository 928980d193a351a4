{#-
    The audit of over-merging guards: every identifier kept out of linking. Holds raw
    emails and phones: restricted use.
-#}
with

excluded_identifiers as (
    select * from {{ ref('int_identity__excluded_identifiers') }}
),

account_links as (
    select * from {{ ref('int_identity__account_links') }}
),

identifier_keys as (
    select * from {{ ref('int_identity__identifier_keys') }}
),

bridging_devices as (
    select
        account_links.linked_type as identifier_type,
        account_links.linked_value as identifier_value,
        'bridges_customers' as exclusion_rule,
        'logged in as ' || count(distinct identifier_keys.customer_key)
        || ' different customers' as evidence
    from account_links
    inner join identifier_keys
        on identifier_keys.identifier_type = 'customer_id'
            and account_links.customer_id = identifier_keys.identifier_value
    left join excluded_identifiers
        on account_links.linked_type = excluded_identifiers.identifier_type
            and account_links.linked_value = excluded_identifiers.identifier_value
    where
        account_links.linked_type in ('anonymous_id', 'device_id')
        and excluded_identifiers.identifier_value is null
    group by account_links.linked_type, account_links.linked_value
    having count(distinct identifier_keys.customer_key) > 1
),

identity_exclusions as (
    select * from excluded_identifiers
    union all
    select * from bridging_devices
)

select * from identity_exclusions
