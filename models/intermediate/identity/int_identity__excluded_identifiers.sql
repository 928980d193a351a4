{#-
    Identifiers kept out of linking, with the rule that excluded each one. When several
    rules apply, the first in this order is reported: blocklist (macro matches_blocklist:
    exact, LIKE and repeated-digit rows, ignoring case), then sharing limits.
-#}
with

sightings as (
    select * from {{ ref('int_identity__sightings') }}
),

account_links as (
    select * from {{ ref('int_identity__account_links') }}
),

blocklist as (
    {{ normalised_blocklist(ref('identity_blocklist')) }}
),

distinct_identifiers as (
    select distinct
        identifier_type,
        identifier_value
    from sightings
),

blocklisted as (
    select
        distinct_identifiers.identifier_type,
        distinct_identifiers.identifier_value,
        'blocklist' as exclusion_rule,
        min(
            blocklist.reason
            || ' ('
            || blocklist.match_type
            || ' '
            || coalesce(blocklist.value_pattern, '')
            || ')'
        )
            as evidence,
        1 as rule_priority
    from distinct_identifiers
    inner join blocklist
        on {{ matches_blocklist(
            'distinct_identifiers.identifier_type',
            'distinct_identifiers.identifier_value',
        ) }}
    group by distinct_identifiers.identifier_type, distinct_identifiers.identifier_value
),

accounts_per_identifier as (
    select
        linked_type as identifier_type,
        linked_value as identifier_value,
        count(distinct customer_id) as distinct_accounts
    from account_links
    group by linked_type, linked_value
),

over_shared as (
    select
        identifier_type,
        identifier_value,
        'shared_' || identifier_type as exclusion_rule,
        'seen with ' || distinct_accounts || ' customer accounts' as evidence,
        2 as rule_priority
    from accounts_per_identifier
    where
        (
            identifier_type = 'anonymous_id'
            and distinct_accounts > {{ var('identity_max_customers_per_cookie') }}
        )
        or (
            identifier_type = 'device_id'
            and distinct_accounts > {{ var('identity_max_customers_per_device') }}
        )
        or (
            identifier_type = 'email'
            and distinct_accounts > {{ var('identity_max_accounts_per_email') }}
        )
        or (
            identifier_type = 'phone'
            and distinct_accounts > {{ var('identity_max_accounts_per_phone') }}
        )
),

all_exclusions as (
    select * from blocklisted
    union all
    select * from over_shared
),

first_rule_per_identifier as (
    select
        identifier_type,
        identifier_value,
        exclusion_rule,
        evidence
    from all_exclusions
    qualify row_number() over (
            partition by identifier_type, identifier_value
            order by rule_priority, exclusion_rule
        ) = 1
)

select * from first_rule_per_identifier
