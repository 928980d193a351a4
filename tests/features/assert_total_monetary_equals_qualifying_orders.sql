{#-
    The monetary value summed over every customer in customer_rfm equals the total of the
    qualifying orders (completed, total above zero, placed by the end of the as-of date)
    that belong to a customer, computed here from the staged orders and their attribution
    without customer_rfm's logic. Fails with one row holding both totals when they differ,
    e.g. when a customer who owns an order is missing from the mart.
-#}
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

attributed_orders as (
    select * from {{ ref('int_orders_attributed') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

qualifying_order_totals as (
    select coalesce(sum(orders.order_total), 0) as total_order_value
    from orders
    inner join attributed_orders
        on orders.order_id = attributed_orders.order_id
    cross join as_of_dates
    where
        attributed_orders.customer_key is not null
        and orders.order_status = 'completed'
        and orders.order_total > 0
        and orders.ordered_at < as_of_dates.as_of_date + interval 1 day
),

mart_totals as (
    select coalesce(sum(customer_rfm.monetary), 0) as total_monetary
    from customer_rfm
    inner join as_of_dates
        on customer_rfm.as_of_date = as_of_dates.as_of_date
),

mismatches as (
    select
        qualifying_order_totals.total_order_value,
        mart_totals.total_monetary
    from qualifying_order_totals
    cross join mart_totals
    where qualifying_order_totals.total_order_value <> mart_totals.total_monetary
)

select * from mismatches
