{#-
    One row per customer known by the end of the as-of date: one of its named identifiers
    (CRM account, email or phone) or one of its attributed orders was seen before the end
    of that day. A web cookie or app device sighting alone does not make a customer known,
    so someone who browses anonymously before the as-of date and signs up after it has no
    row (and none of their anonymous browsing is reported) as of that date.
-#}
with

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

orders as (
    select * from {{ ref('int_orders_attributed') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

named_identifier_sightings as (
    select
        customer_key,
        min(first_seen_at) as first_identified_at
    from customer_identifiers
    where identifier_type in ('customer_id', 'email', 'phone')
    group by customer_key
),

attributed_order_sightings as (
    select
        customer_key,
        min(ordered_at) as first_identified_at
    from orders
    where customer_key is not null
    group by customer_key
),

all_sightings as (
    select * from named_identifier_sightings
    union all
    select * from attributed_order_sightings
),

first_identifications as (
    select
        customer_key,
        min(first_identified_at) as first_identified_at
    from all_sightings
    group by customer_key
),

known_customers as (
    select
        first_identifications.customer_key,
        first_identifications.first_identified_at
    from first_identifications
    cross join as_of_dates
    where first_identifications.first_identified_at < {{ as_of_end() }}
)

select * from known_customers
