-- For every family and pair of consecutive as-of dates in segment_transitions, the customers
-- leaving each segment add up to its size on the earlier date and the customers arriving in
-- it to its size on the later date (segment_sizes); '(none)' is not a segment. Fails with the
-- family, the date, the side, the segment and both counts.
with

segment_transitions as (
    select * from {{ ref('segment_transitions') }}
),

segment_sizes as (
    select * from {{ ref('segment_sizes') }}
),

family_sizes as (
    select
        segment_family,
        as_of_date,
        segment_name,
        customers
    from segment_sizes
    where {{ in_var_list('segment_family', 'transition_families') }} and customers > 0
),

transition_totals as (
    select
        segment_family,
        from_as_of_date as as_of_date,
        'from' as side,
        from_segment as segment_name,
        sum(customers) as customers
    from segment_transitions
    where from_segment != '(none)'
    group by segment_family, from_as_of_date, from_segment
    union all
    select
        segment_family,
        to_as_of_date as as_of_date,
        'to' as side,
        to_segment as segment_name,
        sum(customers) as customers
    from segment_transitions
    where to_segment != '(none)'
    group by segment_family, to_as_of_date, to_segment
),

compared_dates as (
    select distinct
        segment_family,
        from_as_of_date as as_of_date,
        'from' as side
    from segment_transitions
    union all
    select distinct
        segment_family,
        to_as_of_date as as_of_date,
        'to' as side
    from segment_transitions
),

expected_totals as (
    select
        compared_dates.segment_family,
        compared_dates.as_of_date,
        compared_dates.side,
        family_sizes.segment_name,
        family_sizes.customers
    from compared_dates
    inner join family_sizes
        on compared_dates.as_of_date = family_sizes.as_of_date
            and compared_dates.segment_family = family_sizes.segment_family
),

failures as (
    select
        coalesce(expected_totals.segment_family, transition_totals.segment_family)
            as segment_family,
        coalesce(expected_totals.as_of_date, transition_totals.as_of_date) as as_of_date,
        coalesce(expected_totals.side, transition_totals.side) as side,
        coalesce(expected_totals.segment_name, transition_totals.segment_name) as segment_name,
        coalesce(expected_totals.customers, 0) as segment_size,
        coalesce(transition_totals.customers, 0) as transition_total
    from expected_totals
    full outer join transition_totals
        on expected_totals.segment_family = transition_totals.segment_family
            and expected_totals.as_of_date = transition_totals.as_of_date
            and expected_totals.side = transition_totals.side
            and expected_totals.segment_name = transition_totals.segment_name
    where coalesce(expected_totals.customers, 0) != coalesce(transition_totals.customers, 0)
)

select * from failures
