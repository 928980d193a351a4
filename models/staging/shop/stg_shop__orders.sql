{#-
    One row per order. When an order_id is delivered more than once, the last delivery
    in file order wins (a later delivery carries the later status, e.g. a return).
-#}
with

checked_orders as (
    select * from {{ ref('base_shop__orders') }}
),

accepted_orders as (
    select
        order_id,
        customer_id,
        email,
        ordered_at,
        order_status,
        order_total,
        channel
    from checked_orders
    where rejection_reason is null and not is_duplicate
)

select * from accepted_orders
