{{
    config(
        materialized=row_replacing_materialization(),
        incremental_strategy=replace_rows_strategy(),
        unique_key='raw_row_id',
        on_schema_change='fail',
        pre_hook="{{ delete_stale_deliveries() }}",
    )
}}
{#-
    Incremental (macro delivery_scope_ctes), by order: a run checks the lines of new
    deliveries and every line of their orders, and the lines whose order's outcome (erased,
    missing, quarantined) no longer matches their verdict (an order that arrived, was
    erased or changed since).
-#}
{%- set extra_rows_sql -%}
    select
        checked_rows.raw_row_id,
        checked_rows.order_id
    from {{ this }} as checked_rows
    left join order_outcomes
        on checked_rows.order_id = order_outcomes.order_id
    where
        coalesce(order_outcomes.is_erased, false)
        != coalesce(checked_rows.rejection_reason = 'erased', false)
        or (
            coalesce(checked_rows.rejection_reason, '') not in ('erased', 'missing_key')
            and (
                (order_outcomes.order_id is null)
                != coalesce(checked_rows.rejection_reason = 'orphan_order_item', false)
                or coalesce(not order_outcomes.is_accepted, false)
                != coalesce(checked_rows.rejection_reason = 'order_quarantined', false)
            )
        )
{%- endset %}
with

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

{{ delivery_scope_ctes(
    source('shop', 'order_items'),
    {'order_id': clean_identifier('source_rows.order_id')},
    [],
    extra_rows_sql=extra_rows_sql,
) }}

source_order_items as (
    select * from {{ source('shop', 'order_items') }}
    {{ in_delivery_scope() }}
),

normalised as (
    select
        _raw_row_id as raw_row_id,
        _loaded_at as loaded_at,
        _delivery_id as delivery_id,
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
        delivery_id,
        order_id,
        line_number,
        {{- redact_erased(['product_id', 'category', 'quantity', 'unit_price']) }}
        rejection_reason,
        is_duplicate
    from ranked
)

select * from redacted
