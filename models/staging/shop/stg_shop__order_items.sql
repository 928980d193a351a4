with

checked_order_items as (
    select * from {{ ref('base_shop__order_items') }}
),

accepted_order_items as (
    select
        order_id,
        line_number,
        product_id,
        category,
        quantity,
        unit_price,
        quantity * unit_price as line_total
    from checked_order_items
    where rejection_reason is null and not is_duplicate
)

select * from accepted_order_items
