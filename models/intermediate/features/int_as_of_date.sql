{#-
    The as-of date: the var as_of_date when given, else the date of the latest staged
    order or event. Read from the staged tables: attribution (int_*_attributed) keeps every
    staged row, so its latest timestamp is the same, and reading it would repeat the joins
    to the identity keys over every event for a maximum.
-#}
with

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
