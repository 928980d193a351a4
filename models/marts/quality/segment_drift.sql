{#-
    Segment-size drift of each as-of date against the previous as-of date and against a
    trailing baseline.

    Families: the partition families (var drift_partition_families: rfm, lifecycle, clv_band, churn_risk, cluster) put
    every customer in exactly one segment, so their shares form one distribution; the
    overlapping families (var drift_overlapping_families: behavioural) do not, so each of
    their segments is its own two-bin distribution (in the segment, not in it).

    Every segment named at any date of its family is compared at every date: a segment
    missing at a date counts as 0 customers (a new segment moves from 0, a vanished one to 0).

    psi: population stability index, sum over bins of (a - e) * ln(a / e), a the share now,
    e the share at the previous date, both floored at drift_share_floor. For a partition
    family the bins are its segments (one family PSI, repeated on each of its rows); for an
    overlapping segment the bins are in and out (the segment's own PSI).
    segment_psi: the two-bin in/out PSI of the segment, in every family.
    baseline_psi: the same as psi against the average share over the drift_baseline_dates
    as-of dates before (a slow drift shows there before it shows month to month).
    chi_square: sum over the same bins of (observed - expected)^2 / expected, expected = the
    previous share times today's customers; cohens_w = sqrt(chi_square / customers), an
    effect size that does not grow with the number of customers (a p-value would).
    z_score: (customers - mean) / standard deviation of the segment's customers over the
    earlier as-of dates, once drift_min_history_dates of them exist; the standard deviation
    is floored at sqrt(mean) (the Poisson standard deviation of a count), so a segment whose
    history is constant still gets a z-score.
    reference_psi: the same as psi against a fixed reference, the family's reference as-of
    date: its first date in the history, or, after an acknowledged shift (seed
    drift_acknowledgements, per family or 'all'), the first date on or after the latest
    acknowledged date on or before this one. A slow collapse that never moves much from one
    month to the next keeps moving away from the reference, so it fails above
    drift_reference_psi_fail. An acknowledgement also starts a new epoch: the previous date,
    the trailing baseline and the z-score history never reach back before it, so the
    acknowledged shift itself stops failing.

    Families in var drift_warn_only_families (cluster) are measured the same way but warn
    where others fail: their segments are re-discovered on every date (k-means picks k and the
    names anew), so a changed k moves every share without any change in the customers.
-#}
{%- set partition_families = var('drift_partition_families') %}
{%- set overlapping_families = var('drift_overlapping_families') %}
with

segment_sizes as (
    select * from {{ ref('segment_sizes') }}
),

drift_acknowledgements as (
    select * from {{ ref('drift_acknowledgements') }}
),

-- a date on which a predictive family scored nobody (every customer not_scored: its model
-- was not fitted, too little data) is no date of that family here: the gate compares the
-- dates its model was fitted on, so a model fitted for the first time does not fail it
unscored_family_dates as (
    select
        segment_family,
        as_of_date
    from segment_sizes
    group by segment_family, as_of_date
    having
        max(case when segment_name = 'not_scored' then 1 else 0 end) = 1
        and sum(case when segment_name != 'not_scored' then customers else 0 end) = 0
),

compared_sizes as (
    select segment_sizes.*
    from segment_sizes
    left join unscored_family_dates
        on
            segment_sizes.segment_family = unscored_family_dates.segment_family
            and segment_sizes.as_of_date = unscored_family_dates.as_of_date
    where
        unscored_family_dates.as_of_date is null
        and {{ in_values(
            'segment_sizes.segment_family',
            partition_families + overlapping_families,
        ) }}
),

date_populations as (
    -- share = customers / all customers of the date, so customers / share is that total
    select
        as_of_date,
        coalesce(round(max(customers / nullif(share, 0))), 0) as population_customers
    from compared_sizes
    group by as_of_date
),

family_dates as (
    select distinct
        segment_family,
        as_of_date
    from compared_sizes
),

family_first_dates as (
    select
        segment_family,
        min(as_of_date) as first_as_of_date
    from family_dates
    group by segment_family
),

family_epochs as (
    -- each date's epoch starts at the latest acknowledgement on or before it, else at the
    -- family's first date
    select
        family_dates.segment_family,
        family_dates.as_of_date,
        coalesce(
            max(drift_acknowledgements.as_of_date), family_first_dates.first_as_of_date
        ) as epoch_started_on
    from family_dates
    inner join family_first_dates
        on family_dates.segment_family = family_first_dates.segment_family
    left join drift_acknowledgements
        on (
            family_dates.segment_family = drift_acknowledgements.family
            or drift_acknowledgements.family = 'all'
        )
        and family_dates.as_of_date >= drift_acknowledgements.as_of_date
        and family_first_dates.first_as_of_date < drift_acknowledgements.as_of_date
    group by
        family_dates.segment_family,
        family_dates.as_of_date,
        family_first_dates.first_as_of_date
),

family_references as (
    -- the reference of an epoch is its first as-of date
    select
        segment_family,
        as_of_date,
        epoch_started_on,
        min(as_of_date) over (partition by segment_family, epoch_started_on) as reference_as_of_date
    from family_epochs
),

family_segments as (
    select distinct
        segment_family,
        segment_name
    from compared_sizes
),

segment_grid as (
    select
        family_dates.as_of_date,
        family_dates.segment_family,
        family_segments.segment_name,
        date_populations.population_customers,
        family_references.epoch_started_on,
        family_references.reference_as_of_date,
        coalesce(compared_sizes.customers, 0) as customers,
        coalesce(compared_sizes.share, 0) as share  -- noqa: RF04
    from family_dates
    inner join family_segments
        on family_dates.segment_family = family_segments.segment_family
    inner join date_populations
        on family_dates.as_of_date = date_populations.as_of_date
    inner join family_references
        on family_dates.segment_family = family_references.segment_family
            and family_dates.as_of_date = family_references.as_of_date
    left join compared_sizes
        on family_dates.as_of_date = compared_sizes.as_of_date
            and family_segments.segment_family = compared_sizes.segment_family
            and family_segments.segment_name = compared_sizes.segment_name
),

segment_histories as (
    select
        *,
        lag(as_of_date) over segment_dates as previous_as_of_date,
        lag(share) over segment_dates as previous_share,
        avg(share) over baseline_dates as baseline_share,
        first_value(share) over segment_dates as reference_share,
        count(*) over earlier_dates as history_dates,
        avg(customers) over earlier_dates as history_mean_customers,
        stddev_samp(customers) over earlier_dates as history_stddev_customers
    from segment_grid
    window
        segment_dates as (
            partition by segment_family, segment_name, epoch_started_on order by as_of_date
        ),
        baseline_dates as (
            partition by segment_family, segment_name, epoch_started_on order by as_of_date
            rows between {{ var('drift_baseline_dates') }} preceding and 1 preceding
        ),
        earlier_dates as (
            partition by segment_family, segment_name, epoch_started_on order by as_of_date
            rows between unbounded preceding and 1 preceding
        )
),

segment_terms as (
    select
        *,
        {{ in_values('segment_family', partition_families) }} as is_partition_family,
        (share - previous_share) * 100 as share_change_points,
        (share - baseline_share) * 100 as baseline_change_points,
        (share - reference_share) * 100 as reference_change_points,
        -- greatest() skips nulls: no terms at a family's first date, which has no previous one
        case when previous_as_of_date is not null then {{ psi_bin('share', 'previous_share') }} end
            as psi_term,
        case
            when previous_as_of_date is not null
                then
                    {{ psi_bin('share', 'previous_share') }}
                    + {{ psi_bin('1 - share', '1 - previous_share') }}
        end as segment_psi,
        case when previous_as_of_date is not null then {{ psi_bin('share', 'baseline_share') }} end
            as baseline_psi_term,
        case
            when previous_as_of_date is not null
                then
                    {{ psi_bin('share', 'baseline_share') }}
                    + {{ psi_bin('1 - share', '1 - baseline_share') }}
        end as segment_baseline_psi,
        case
            when as_of_date > reference_as_of_date
                then {{ psi_bin('share', 'reference_share') }}
        end as reference_psi_term,
        case
            when as_of_date > reference_as_of_date
                then
                    {{ psi_bin('share', 'reference_share') }}
                    + {{ psi_bin('1 - share', '1 - reference_share') }}
        end as segment_reference_psi,
        case
            when previous_as_of_date is not null
                then {{ chi_square_bin('customers', 'previous_share', 'population_customers') }}
        end as chi_square_term,
        case
            when previous_as_of_date is not null
                then
                    {{ chi_square_bin('customers', 'previous_share', 'population_customers') }}
                    + {{ chi_square_bin(
                        'population_customers - customers',
                        '1 - previous_share',
                        'population_customers',
                    ) }}
        end as segment_chi_square,
        case
            when history_dates >= {{ var('drift_min_history_dates') }}
                then (customers - history_mean_customers)
                    / nullif(
                        greatest(history_stddev_customers, sqrt(history_mean_customers)), 0
                    )
        end as z_score
    from segment_histories
),

family_statistics as (
    select
        as_of_date,
        segment_family,
        sum(psi_term) as family_psi,
        sum(baseline_psi_term) as family_baseline_psi,
        sum(reference_psi_term) as family_reference_psi,
        sum(chi_square_term) as family_chi_square,
        max(psi_term) as largest_psi_term,
        max(baseline_psi_term) as largest_baseline_psi_term,
        max(reference_psi_term) as largest_reference_psi_term
    from segment_terms
    where is_partition_family and previous_as_of_date is not null
    group by as_of_date, segment_family
),

segment_statistics as (
    select
        segment_terms.*,
        family_statistics.largest_psi_term,
        family_statistics.largest_baseline_psi_term,
        family_statistics.largest_reference_psi_term,
        case
            when segment_terms.is_partition_family then family_statistics.family_psi
            else segment_terms.segment_psi
        end as psi,
        case
            when segment_terms.is_partition_family then family_statistics.family_baseline_psi
            else segment_terms.segment_baseline_psi
        end as baseline_psi,
        case
            when segment_terms.is_partition_family then family_statistics.family_reference_psi
            else segment_terms.segment_reference_psi
        end as reference_psi,
        case
            when segment_terms.is_partition_family then family_statistics.family_chi_square
            else segment_terms.segment_chi_square
        end as chi_square
    from segment_terms
    left join family_statistics
        on segment_terms.as_of_date = family_statistics.as_of_date
            and segment_terms.segment_family = family_statistics.segment_family
),

segment_statuses as (
    select
        *,
        case
            when
                (
                    greatest(psi, baseline_psi) > {{ var('drift_psi_fail') }}
                    or reference_psi > {{ var('drift_reference_psi_fail') }}
                )
                and {{ in_var_list('segment_family', 'drift_warn_only_families', negate=true) }}
                then 'fail'
            when
                greatest(psi, baseline_psi) > {{ var('drift_psi_fail') }}
                or reference_psi > {{ var('drift_reference_psi_fail') }}
                then 'warn'
            when
                greatest(psi, baseline_psi) > {{ var('drift_psi_warn') }}
                or greatest(abs(share_change_points), abs(baseline_change_points))
                > {{ var('drift_share_change_warn_points') }}
                then 'warn'
            else 'ok'
        end as drift_status,
        -- the segment itself moved: its share, its own in/out PSI, or it is the largest
        -- contributor to a partition family's PSI above the warning threshold
        coalesce(
            greatest(
                abs(share_change_points), abs(baseline_change_points)
            ) > {{ var('drift_share_change_warn_points') }}
            or greatest(segment_psi, segment_baseline_psi) > {{ var('drift_psi_warn') }}
            or (
                psi > {{ var('drift_psi_warn') }} and psi_term = largest_psi_term
            )
            or (
                baseline_psi > {{ var('drift_psi_warn') }}
                and baseline_psi_term = largest_baseline_psi_term
            )
            -- against the reference only when that gate alone fails: a stable history
            -- drifts a few points from its first date, which names nothing, and a failure
            -- the previous date or the baseline already explains names what moved there
            or (
                reference_psi > {{ var('drift_reference_psi_fail') }}
                and not coalesce(greatest(psi, baseline_psi) > {{ var('drift_psi_fail') }}, false)
                and (
                    abs(reference_change_points) > {{ var('drift_share_change_warn_points') }}
                    or segment_reference_psi > {{ var('drift_psi_warn') }}
                    or reference_psi_term = largest_reference_psi_term
                )
            ),
            false
        ) as is_moved
    from segment_statistics
),

segment_drift as (
    select
        as_of_date,
        segment_family,
        segment_name,
        previous_as_of_date,
        customers,
        share,
        previous_share,
        baseline_share,
        reference_as_of_date,
        reference_share,
        share_change_points,
        baseline_change_points,
        reference_change_points,
        z_score,
        psi_term,
        segment_psi,
        segment_baseline_psi,
        psi,
        baseline_psi,
        reference_psi,
        chi_square,
        sqrt(chi_square / nullif(population_customers, 0)) as cohens_w,
        drift_status,
        is_moved
    from segment_statuses
)

select * from segment_drift
