{#-
    Orders with the unified customer who placed them: by the order's customer_id when it
    has one, else by its checkout email (a guest order). An order whose only identifier is
    excluded (a placeholder email) has a null customer_key: nobody can be named.
-#}
with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

identifier_keys as (
    select * from {{ ref('int_identity__identifier_keys') }}
),

attributed_orders as (
    select
        orders.order_id,
        coalesce(account_keys.customer_key, email_keys.customer_key) as customer_key,
        orders.ordered_at,
        orders.order_status,
        orders.order_total,
        orders.channel
    from orders
    left join identifier_keys as account_keys
        on account_keys.identifier_type = 'customer_id'
            and orders.customer_id = account_keys.identifier_value
    left join identifier_keys as email_keys
        on email_keys.identifier_type = 'email'
            and orders.email = email_keys.identifier_value
)

select * from attributed_orders
