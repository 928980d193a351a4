{#-
    Where and when every identifier was seen: one row per identifier per source system.
    Event tables are aggregated once here, so later identity models never rescan them.
    A CRM account is seen from its created_at; an email or phone from the time it appears
    on the account: created_at if the account's earliest version carries it, otherwise the
    updated_at of the first version that does (an email that replaced another is new).
    Each sighting below is one identifier column of one import CTE, with the columns whose
    earliest and latest values say when it was first and last seen.
-#}
{%- set sightings = [
    {'source_system': 'crm', 'from': 'customer_versions', 'identifier_type': 'customer_id',
     'column': 'customer_id', 'first_seen': 'created_at', 'last_seen': 'updated_at'},
    {'source_system': 'crm', 'from': 'crm_version_times', 'identifier_type': 'email',
     'column': 'email', 'first_seen': 'values_seen_at', 'last_seen': 'updated_at'},
    {'source_system': 'crm', 'from': 'crm_version_times', 'identifier_type': 'phone',
     'column': 'phone', 'first_seen': 'values_seen_at', 'last_seen': 'updated_at'},
    {'source_system': 'shop', 'from': 'orders', 'identifier_type': 'customer_id',
     'column': 'customer_id', 'first_seen': 'ordered_at', 'last_seen': 'ordered_at'},
    {'source_system': 'shop', 'from': 'orders', 'identifier_type': 'email',
     'column': 'email', 'first_seen': 'ordered_at', 'last_seen': 'ordered_at'},
    {'source_system': 'web', 'from': 'web_events', 'identifier_type': 'anonymous_id',
     'column': 'anonymous_id', 'first_seen': 'occurred_at', 'last_seen': 'occurred_at'},
    {'source_system': 'web', 'from': 'web_events', 'identifier_type': 'customer_id',
     'column': 'customer_id', 'first_seen': 'occurred_at', 'last_seen': 'occurred_at'},
    {'source_system': 'app', 'from': 'app_events', 'identifier_type': 'device_id',
     'column': 'device_id', 'first_seen': 'occurred_at', 'last_seen': 'occurred_at'},
    {'source_system': 'app', 'from': 'app_events', 'identifier_type': 'customer_id',
     'column': 'customer_id', 'first_seen': 'occurred_at', 'last_seen': 'occurred_at'},
    {'source_system': 'email', 'from': 'email_events', 'identifier_type': 'email',
     'column': 'email', 'first_seen': 'occurred_at', 'last_seen': 'occurred_at'},
] %}
with

customer_versions as (
    select * from {{ ref('stg_crm__customer_versions') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

web_events as (
    select * from {{ ref('stg_web__events') }}
),

app_events as (
    select * from {{ ref('stg_app__events') }}
),

email_events as (
    select * from {{ ref('stg_email__events') }}
),

crm_version_times as (
    select
        customer_id,
        email,
        phone,
        created_at,
        updated_at,
        case
            when
                row_number() over (
                    partition by customer_id
                    order by updated_at, customer_version_id
                ) = 1
                then coalesce(created_at, updated_at)
            else updated_at
        end as values_seen_at
    from customer_versions
),

all_sightings as (
    {%- for sighting in sightings %}
        select
            '{{ sighting.source_system }}' as source_system,
            '{{ sighting.identifier_type }}' as identifier_type,
            {{ sighting.column }} as identifier_value,
            min({{ sighting.first_seen }}) as first_seen_at,
            max({{ sighting.last_seen }}) as last_seen_at
        from {{ sighting['from'] }}
        where {{ sighting.column }} is not null
        group by {{ sighting.column }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select * from all_sightings
