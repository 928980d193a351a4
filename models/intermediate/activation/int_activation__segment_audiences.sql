{{
    config(
        materialized='incremental',
        incremental_strategy=history_strategy(),
        partition_by=history_partition_by(),
        unique_key='as_of_date',
        on_schema_change='fail',
        post_hook="{{ delete_erased_customers() }}",
    )
}}
-- depends_on: {{ ref('int_identity__erased_customer_keys') }}
{#
    History: each build replaces its as-of date. Every marketable member of every segment,
    with its holdout draw: what segments export writes and what segment_lift measures.
#}
with

segment_memberships as (
    select * from {{ ref('segment_memberships') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

contacts as (
    select * from {{ ref('int_activation__customer_contacts') }}
),

email_events as (
    select * from {{ ref('stg_email__events') }}
),

attributed_email_events as (
    select * from {{ ref('int_email_events_attributed') }}
),

-- every family, the predictive ones included; not_scored (a predictive family without a
-- score: no order, or no model fitted at the date) is not an audience a campaign can target
current_memberships as (
    select segment_memberships.*
    from segment_memberships
    inner join as_of_dates
        on segment_memberships.as_of_date = as_of_dates.as_of_date
    where segment_memberships.segment_name != 'not_scored'
),

unsubscribed_customers as (
    select distinct attributed_email_events.customer_key
    from attributed_email_events
    cross join as_of_dates
    where
        attributed_email_events.event_type = 'unsubscribe'
        and attributed_email_events.customer_key is not null
        and attributed_email_events.occurred_at < {{ as_of_end() }}
),

unsubscribed_emails as (
    select distinct email_events.email
    from email_events
    cross join as_of_dates
    where
        email_events.event_type = 'unsubscribe'
        and email_events.occurred_at < {{ as_of_end() }}
),

email_outcomes as (
    select
        email_events.email,
        max(email_events.occurred_at) filter (
            where email_events.event_type = 'bounce'
        ) as last_bounced_at,
        max(email_events.occurred_at) filter (
            where email_events.event_type in ('delivered', 'open', 'click')
        ) as last_reached_at
    from email_events
    cross join as_of_dates
    where email_events.occurred_at < {{ as_of_end() }}
    group by email_events.email
),

hard_bounced_emails as (
    select email
    from email_outcomes
    where
        last_bounced_at is not null
        and (last_reached_at is null or last_reached_at < last_bounced_at)
),

-- not exists, not `not in`: Spark runs a null-aware `not in` as a nested-loop join (every
-- contact against every suppressed email), where `not exists` is a hash anti-join on both engines
suppressed_emails as (
    select hard_bounced_emails.email from hard_bounced_emails
    union
    select unsubscribed_emails.email from unsubscribed_emails
),

marketable_customers as (
    select
        contacts.customer_key,
        contacts.anchor_customer_id
    from contacts
    where
        contacts.is_marketing_opted_in
        and (contacts.email is not null or contacts.phone_e164 is not null)
        and not exists (
            select 1
            from unsubscribed_customers
            where unsubscribed_customers.customer_key = contacts.customer_key
        )
        and not exists (
            select 1
            from suppressed_emails
            where suppressed_emails.email = contacts.email
        )
),

holdout_draws as (
    select
        current_memberships.as_of_date,
        current_memberships.segment_family,
        current_memberships.segment_name,
        current_memberships.customer_key,
        {{ unit_interval_hash(
            "'" ~ (var('activation_holdout_salt') | replace("'", "''")) ~ "' || ':' || current_memberships.segment_family"
            ~ " || ':' || current_memberships.segment_name || ':' || marketable_customers.anchor_customer_id"
        ) }} as holdout_draw
    from current_memberships
    inner join marketable_customers
        on current_memberships.customer_key = marketable_customers.customer_key
),

holdout_assignments as (
    select
        *,
        holdout_draw < {{ var('activation_holdout_share') }} as is_holdout
    from holdout_draws
),

segment_audience_sizes as (
    select
        segment_family,
        segment_name,
        count(*) as eligible_customers,
        count(*) filter (where not is_holdout) as audience_customers
    from holdout_assignments
    group by segment_family, segment_name
),

segment_audiences as (
    select
        holdout_assignments.as_of_date,
        holdout_assignments.segment_family,
        holdout_assignments.segment_name,
        holdout_assignments.customer_key,
        holdout_assignments.is_holdout,
        segment_audience_sizes.audience_customers >= {{ var('activation_min_audience_size') }}
            as is_segment_exported,
        segment_audience_sizes.audience_customers >= {{ var('activation_min_audience_size') }}
        and not holdout_assignments.is_holdout as is_exported,
        segment_audience_sizes.eligible_customers,
        segment_audience_sizes.audience_customers,
        cast({{ var('activation_holdout_share') }} as double) as holdout_share,
        cast({{ var('activation_min_audience_size') }} as integer) as min_audience_size
    from holdout_assignments
    inner join segment_audience_sizes
        on holdout_assignments.segment_family = segment_audience_sizes.segment_family
            and holdout_assignments.segment_name = segment_audience_sizes.segment_name
)

select * from segment_audiences
