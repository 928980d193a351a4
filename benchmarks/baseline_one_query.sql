-- The one-query lower bound: recency, frequency, monetary, tie-safe R/F/M scores and the
-- eleven named segments, straight from the raw orders, in one DuckDB query.
--
-- Inputs (set up by benchmarks/baseline_one_query.py):
--   raw.orders, raw.erasure_requests  the tables `segments load` wrote;
--   segment_map                       the seed seeds/rfm_segment_map.csv;
--   identity_map                      (identifier_type, identifier_value, customer_key):
--                                     the project's identities, or a naive one (every
--                                     customer_id and email is its own customer);
--   getvariable('as_of_date')         the as-of date.
--
-- Staging rules kept because they change RFM: an order row counts only when nothing
-- rejects it (erased identifier, no order_id, no customer_id and no email, malformed email,
-- no or future timestamp, unknown status or channel, null or negative total); of the
-- accepted deliveries of one order_id, the last one (file order) wins. Erasure here is
-- direct (an identifier named in a request), not the project's closure over linked records.
with

erased_identifiers as (
    select distinct
        'customer_id' as identifier_type,
        nullif(trim(customer_id), '') as identifier_value
    from raw.erasure_requests
    where nullif(trim(customer_id), '') is not null
    union
    select distinct
        'email' as identifier_type,
        nullif(lower(trim(email)), '') as identifier_value
    from raw.erasure_requests
    where regexp_full_match(nullif(lower(trim(email)), ''), '[^@\s]+@[^@\s]+\.[^@\s.]+')
),

normalised_orders as (
    select
        _raw_row_id as raw_row_id,
        nullif(trim(order_id), '') as order_id,
        nullif(trim(customer_id), '') as customer_id,
        nullif(lower(trim(email)), '') as email,
        ordered_at,
        nullif(lower(trim(status)), '') as order_status,
        nullif(lower(trim(channel)), '') as channel,
        order_total,
        ordered_at > _loaded_at + to_hours(24) as is_in_future
    from raw.orders
),

accepted_orders as (
    select normalised_orders.*
    from normalised_orders
    -- two hash anti-joins instead of one join on "customer_id = x or email = y"
    anti join erased_identifiers as erased_accounts
        on erased_accounts.identifier_type = 'customer_id'
            and normalised_orders.customer_id = erased_accounts.identifier_value
    anti join erased_identifiers as erased_emails
        on erased_emails.identifier_type = 'email'
            and normalised_orders.email = erased_emails.identifier_value
    where
        normalised_orders.order_id is not null
        and (normalised_orders.customer_id is not null or normalised_orders.email is not null)
        and (
            normalised_orders.email is null
            or regexp_full_match(normalised_orders.email, '[^@\s]+@[^@\s]+\.[^@\s.]+')
        )
        and normalised_orders.ordered_at is not null
        and not normalised_orders.is_in_future
        and normalised_orders.order_status in ('completed', 'cancelled', 'returned')
        and (normalised_orders.channel is null or normalised_orders.channel in ('web', 'app', 'store'))
        and normalised_orders.order_total >= 0
    qualify row_number() over (
        partition by normalised_orders.order_id order by normalised_orders.raw_row_id desc
    ) = 1
),

qualifying_orders as (
    select
        coalesce(account_keys.customer_key, email_keys.customer_key) as customer_key,
        accepted_orders.ordered_at,
        accepted_orders.order_total
    from accepted_orders
    left join identity_map as account_keys
        on account_keys.identifier_type = 'customer_id'
            and accepted_orders.customer_id = account_keys.identifier_value
    left join identity_map as email_keys
        on email_keys.identifier_type = 'email'
            and accepted_orders.email = email_keys.identifier_value
    where
        accepted_orders.order_status = 'completed'
        and accepted_orders.order_total > 0
        and accepted_orders.ordered_at < getvariable('as_of_date') + interval 1 day
),

measures as (
    select
        customer_key,
        date_diff('day', max(cast(ordered_at as date)), getvariable('as_of_date')) as recency_days,
        count(*) as frequency,
        sum(order_total) as monetary
    from qualifying_orders
    where customer_key is not null
    group by customer_key
),

-- position of a tied block = (strictly worse + tied / 2) / scored; score = 1 + cut-offs at or
-- below it, compared in integers: 2 * worse + tied >= 2 * scored * cut-off
positions as (
    select
        customer_key,
        recency_days,
        frequency,
        monetary,
        count(*) over () as scored,
        rank() over (order by recency_days desc) - 1 as recency_worse,
        count(*) over (partition by recency_days) as recency_tied,
        rank() over (order by frequency) - 1 as frequency_worse,
        count(*) over (partition by frequency) as frequency_tied,
        rank() over (order by monetary) - 1 as monetary_worse,
        count(*) over (partition by monetary) as monetary_tied
    from measures
),

scores as (
    select
        customer_key,
        recency_days,
        frequency,
        monetary,
        (1
            + cast(2 * recency_worse + recency_tied >= 2 * scored * 0.2 as integer)
            + cast(2 * recency_worse + recency_tied >= 2 * scored * 0.4 as integer)
            + cast(2 * recency_worse + recency_tied >= 2 * scored * 0.6 as integer)
            + cast(2 * recency_worse + recency_tied >= 2 * scored * 0.8 as integer)
        ) as r_score,
        (1
            + cast(2 * frequency_worse + frequency_tied >= 2 * scored * 0.2 as integer)
            + cast(2 * frequency_worse + frequency_tied >= 2 * scored * 0.4 as integer)
            + cast(2 * frequency_worse + frequency_tied >= 2 * scored * 0.6 as integer)
            + cast(2 * frequency_worse + frequency_tied >= 2 * scored * 0.8 as integer)
        ) as f_score,
        (1
            + cast(2 * monetary_worse + monetary_tied >= 2 * scored * 0.2 as integer)
            + cast(2 * monetary_worse + monetary_tied >= 2 * scored * 0.4 as integer)
            + cast(2 * monetary_worse + monetary_tied >= 2 * scored * 0.6 as integer)
            + cast(2 * monetary_worse + monetary_tied >= 2 * scored * 0.8 as integer)
        ) as m_score
    from positions
)

select
    scores.customer_key,
    scores.recency_days,
    scores.frequency,
    scores.monetary,
    scores.r_score,
    scores.f_score,
    scores.m_score,
    segment_map.rfm_segment
from scores
inner join segment_map
    on scores.r_score = segment_map.r_score
        and (scores.f_score + scores.m_score) / 2.0
        between segment_map.fm_score_min and segment_map.fm_score_max
order by scores.customer_key
