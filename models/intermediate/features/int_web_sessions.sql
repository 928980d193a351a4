{#-
    One row per attributed web session (customer_key, session_id) as known by the end of
    the as-of date: start, end, duration, the last add-to-cart, and the customer's first
    purchase after it: a web or app purchase event (in any session, or in none: a web
    purchase without a session_id counts too) or a completed order in any channel (web,
    app, store). Sessions themselves are built from events with a session_id only. Only rows before the end of the as-of day are read,
    so a session or purchase continuing after it changes nothing.
-#}
with

web_events as (
    select * from {{ ref('int_web_events_attributed') }}
),

app_events as (
    select * from {{ ref('int_app_events_attributed') }}
),

orders as (
    select * from {{ ref('int_orders_attributed') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

attributed_events as (
    select web_events.*
    from web_events
    cross join as_of_dates
    where
        web_events.customer_key is not null
        and web_events.session_id is not null
        and web_events.occurred_at < {{ as_of_end() }}
),

sessions as (
    select
        customer_key,
        session_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as events,
        max(case when event_type = 'add_to_cart' then occurred_at end) as last_add_to_cart_at
    from attributed_events
    group by customer_key, session_id
),

web_purchases as (
    select
        web_events.customer_key,
        web_events.occurred_at as purchased_at
    from web_events
    cross join as_of_dates
    where
        web_events.customer_key is not null
        and web_events.event_type = 'purchase'
        and web_events.occurred_at < {{ as_of_end() }}
),

app_purchases as (
    select
        app_events.customer_key,
        app_events.occurred_at as purchased_at
    from app_events
    cross join as_of_dates
    where
        app_events.customer_key is not null
        and app_events.event_name = 'purchase'
        and app_events.occurred_at < {{ as_of_end() }}
),

completed_orders as (
    select
        orders.customer_key,
        orders.ordered_at as purchased_at
    from orders
    cross join as_of_dates
    where
        orders.customer_key is not null
        and orders.order_status = 'completed'
        and orders.ordered_at < {{ as_of_end() }}
),

purchases as (
    select * from web_purchases
    union all
    select * from app_purchases
    union all
    select * from completed_orders
),

cart_and_purchase_times as (
    {#- The first purchase strictly after each session's last add-to-cart, by one pass over a
        customer's add-to-carts and purchases in reverse time order: the running minimum of
        the purchase times seen so far. At equal times an add-to-cart comes first in that
        order, so a purchase at the same instant is not after it. (A join on
        last_add_to_cart_at < purchased_at would compare every session with every purchase of
        its customer.) -#}
    select
        customer_key,
        session_id,
        last_add_to_cart_at as happened_at,
        1 as is_cart,
        cast(null as timestamp) as purchased_at
    from sessions
    where last_add_to_cart_at is not null
    union all
    select
        customer_key,
        null as session_id,
        purchased_at as happened_at,
        0 as is_cart,
        purchased_at
    from purchases
),

running_minimums as (
    select
        customer_key,
        session_id,
        is_cart,
        min(purchased_at) over (
            partition by customer_key
            order by happened_at desc, is_cart desc
            rows between unbounded preceding and current row
        ) as next_purchase_at
    from cart_and_purchase_times
),

next_purchase_after_cart as (
    select
        customer_key,
        session_id,
        next_purchase_at
    from running_minimums
    where is_cart = 1
),

web_sessions as (
    select
        sessions.customer_key,
        sessions.session_id,
        sessions.started_at,
        sessions.ended_at,
        {{ seconds_between('sessions.started_at', 'sessions.ended_at') }} as duration_seconds,
        sessions.events,
        sessions.last_add_to_cart_at,
        next_purchase_after_cart.next_purchase_at
    from sessions
    left join next_purchase_after_cart
        on sessions.customer_key = next_purchase_after_cart.customer_key
            and sessions.session_id = next_purchase_after_cart.session_id
)

select * from web_sessions
