with

source_order_items as (
    select * from {{ source('shop', 'order_items') }}
),

checked_orders as (
    select * from {{ ref('base_shop__orders') }}
),

order_outcomes as (
    select
        order_id,
        bool_or(rejection_reason is null) as is_accepted,
        bool_or(rejection_reason = 'erased') as is_erased
    from checked_orders
    where order_id is not null
    group by order_id
),

normalised as (
    select
        _raw_row_id as raw_row_id,
        _loaded_at as loaded_at,
        {{ clean_identifier('order_id') }} as order_id,
        line_number,
        {{ clean_identifier('product_id') }} as product_id,
        {{ normalize_enum('category') }} as category,
        quantity,
        unit_price
    from source_order_items
),

validated as (
    select
        normalised.*,
        case
            when order_outcomes.is_erased then 'erased'
            when normalised.order_id is null or normalised.line_number is null
                then 'missing_key'
            when order_outcomes.order_id is null then 'orphan_order_item'
            when not order_outcomes.is_accepted then 'order_quarantined'
            when normalised.quantity is null or normalised.quantity <= 0
                then 'invalid_quantity'
            when normalised.unit_price is null then 'missing_amount'
            when normalised.unit_price < 0 then 'negative_amount'
        end as rejection_reason
    from normalised
    left join order_outcomes
        on normalised.order_id = order_outcomes.order_id
),

ranked as (
    select
        *,
        {{ is_superseded(['order_id', 'line_number'], 'raw_row_id desc') }} as is_duplicate
    from validated
),

redacted as (
    select
        raw_row_id,
        loaded_at,
        order_id,
        line_number,
        {{- redact_erased(['product_id', 'category', 'quantity', 'unit_price']) }}
        rejection_reason,
        is_duplicate
    from ranked
)

select * from redacted
