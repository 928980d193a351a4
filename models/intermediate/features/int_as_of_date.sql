{#-
    The as-of date: the var as_of_date when given, else the date of the latest staged
    order or attributed event.
-#}
with

orders as (
    select * from {{ ref('int_orders_attributed') }}
),

web_events as (
    select * from {{ ref('int_web_events_attributed') }}
),

app_events as (
    select * from {{ ref('int_app_events_attributed') }}
),

email_events as (
    select * from {{ ref('int_email_events_attributed') }}
),

latest_activity as (
    select max(ordered_at) as latest_at from orders
    union all
    select max(occurred_at) as latest_at from web_events
    union all
    select max(occurred_at) as latest_at from app_events
    union all
    select max(occurred_at) as latest_at from email_events
),

as_of_dates as (
    {% if var('as_of_date') is not none -%}
        select cast('{{ var("as_of_date") }}' as date) as as_of_date
    {%- else -%}
        select cast(max(latest_at) as date) as as_of_date
        from latest_activity
    {%- endif %}
)

select * from as_of_dates
