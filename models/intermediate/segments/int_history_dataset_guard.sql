{#-
    Refuses to append to a history that holds another data set. The segment history
    (customer_segments, segment_memberships, rfm_cutoffs) runs after this model, so when it
    fails the history is left exactly as it was.

    The history's customers who had bought by its latest as-of date are compared with the
    current data: a customer matches when the current data has the same customer_key with
    the same qualifying spend (completed orders with a positive total placed by the end of
    that date, as in customer_rfm.monetary). A grown or updated delivery of the same data
    set (later orders appended, a few statuses changed) keeps almost every customer's spend
    up to an earlier date; another data set keeps none (new customer_keys), and another
    draw of the generator with the same ids keeps keys but not spend. Below
    history_min_customer_overlap the build fails naming the remedy. On --full-refresh the
    history is rebuilt from scratch, so nothing is compared.
-#}
{%- set history = existing_history_relation('customer_segments') %}
-- depends_on: {{ ref('int_as_of_date') }}
with

orders as (
    select * from {{ ref('int_orders_attributed') }}
),

history as (
    {% if history is not none -%}
        select
            as_of_date,
            customer_key,
            monetary
        from {{ history }}
    {%- else -%}
        select
            cast(null as date) as as_of_date,
            cast(null as string) as customer_key,
            cast(null as decimal(18, 2)) as monetary
        where false
    {%- endif %}
),

latest_history_dates as (
    select max(as_of_date) as as_of_date from history
),

history_buyers as (
    select
        history.customer_key,
        history.monetary
    from history
    inner join latest_history_dates
        on history.as_of_date = latest_history_dates.as_of_date
    where history.monetary > 0
),

current_spend as (
    select
        orders.customer_key,
        sum(orders.order_total) as monetary
    from orders
    cross join latest_history_dates
    where
        orders.customer_key is not null
        and orders.order_status = 'completed'
        and orders.order_total > 0
        and orders.ordered_at < {{ as_of_end('latest_history_dates') }}
    group by orders.customer_key
),

customer_overlaps as (
    select
        latest_history_dates.as_of_date as history_as_of_date,
        count(history_buyers.customer_key) as history_customers,
        count(current_spend.customer_key) as matching_customers
    from latest_history_dates
    left join history_buyers
        on true
    left join current_spend
        on history_buyers.customer_key = current_spend.customer_key
            and history_buyers.monetary = current_spend.monetary
    group by latest_history_dates.as_of_date
),

final as (
    select
        history_as_of_date,
        history_customers,
        matching_customers,
        cast(matching_customers as double) / nullif(history_customers, 0) as customer_overlap,
        cast(case
            when
                history_customers > 0
                and matching_customers
                < {{ var('history_min_customer_overlap') }} * history_customers
                then {{ fail_query(
                    "'the segment history holds another data set: only ' || matching_customers"
                    ~ " || ' of the ' || history_customers || ' customers of its latest as-of date '"
                    ~ " || history_as_of_date || ' match the loaded data (var history_min_customer_overlap "
                    ~ var('history_min_customer_overlap') ~ "); build a fresh warehouse (a new"
                    ~ " SEGMENTS_DUCKDB_PATH) or run dbt build --full-refresh to reset the history'"
                ) }}
        end as string) as refusal
    from customer_overlaps
)

select * from final
