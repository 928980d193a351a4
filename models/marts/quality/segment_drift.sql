{#-
    Segment-size drift of each as-of date against the previous as-of date and against a
    trailing baseline, for the families whose shares sum to 1 (rfm and lifecycle).

    psi: population stability index, sum over segments of (a - e) * ln(a / e), with a the
    share now, e the share at the previous date, both floored at drift_share_floor;
    baseline_psi: the same against the average share over the drift_baseline_dates
    as-of dates before (a slow drift shows there before it shows month to month).
    chi_square: sum of (observed - expected)^2 / expected over segments, expected = the
    previous share times today's customers; cohens_w = sqrt(chi_square / customers), an
    effect size that does not grow with the number of customers (a p-value would).
    z_score: (customers - mean) / standard deviation of the segment's customers over the
    earlier as-of dates, once drift_min_history_dates of them exist.
-#}
with

segment_sizes as (
    select * from {{ ref('segment_sizes') }}
),

family_sizes as (
    select
        as_of_date,
        segment_family,
        segment_name,
        customers,
        share,
        dense_rank() over (partition by segment_family order by as_of_date) as date_number
    from segment_sizes
    where segment_family in ('rfm', 'lifecycle')
),

family_totals as (
    select
        as_of_date,
        segment_family,
        sum(customers) as family_customers
    from family_sizes
    group by as_of_date, segment_family
),

compared as (
    select
        current_sizes.as_of_date,
        current_sizes.segment_family,
        current_sizes.segment_name,
        current_sizes.customers,
        current_sizes.share,
        previous_sizes.as_of_date as previous_as_of_date,
        previous_sizes.share as previous_share,
        family_totals.family_customers,
        (
            select avg(baseline_sizes.share)
            from family_sizes as baseline_sizes
            where
                baseline_sizes.segment_family = current_sizes.segment_family
                and baseline_sizes.segment_name = current_sizes.segment_name
                and baseline_sizes.date_number between current_sizes.date_number
                - {{ var('drift_baseline_dates') }} and current_sizes.date_number - 1
        ) as baseline_share,
        (
            select count(*)
            from family_sizes as history_sizes
            where
                history_sizes.segment_family = current_sizes.segment_family
                and history_sizes.segment_name = current_sizes.segment_name
                and history_sizes.date_number < current_sizes.date_number
        ) as history_dates,
        (
            select avg(history_sizes.customers)
            from family_sizes as history_sizes
            where
                history_sizes.segment_family = current_sizes.segment_family
                and history_sizes.segment_name = current_sizes.segment_name
                and history_sizes.date_number < current_sizes.date_number
        ) as history_mean_customers,
        (
            select stddev_samp(history_sizes.customers)
            from family_sizes as history_sizes
            where
                history_sizes.segment_family = current_sizes.segment_family
                and history_sizes.segment_name = current_sizes.segment_name
                and history_sizes.date_number < current_sizes.date_number
        ) as history_stddev_customers
    from family_sizes as current_sizes
    inner join family_totals
        on current_sizes.as_of_date = family_totals.as_of_date
            and current_sizes.segment_family = family_totals.segment_family
    left join family_sizes as previous_sizes
        on current_sizes.segment_family = previous_sizes.segment_family
            and current_sizes.segment_name = previous_sizes.segment_name
            and current_sizes.date_number - 1 = previous_sizes.date_number
),

segment_terms as (
    select
        *,
        (share - previous_share) * 100 as share_change_points,
        (share - baseline_share) * 100 as baseline_change_points,
        (
            greatest(share, {{ var('drift_share_floor') }})
            - greatest(previous_share, {{ var('drift_share_floor') }})
        )
        * ln(
            greatest(share, {{ var('drift_share_floor') }})
            / greatest(previous_share, {{ var('drift_share_floor') }})
        ) as psi_term,
        (
            greatest(share, {{ var('drift_share_floor') }})
            - greatest(baseline_share, {{ var('drift_share_floor') }})
        )
        * ln(
            greatest(share, {{ var('drift_share_floor') }})
            / greatest(baseline_share, {{ var('drift_share_floor') }})
        ) as baseline_psi_term,
        power(
            customers - greatest(previous_share, {{ var('drift_share_floor') }}) * family_customers,
            2
        ) / (greatest(previous_share, {{ var('drift_share_floor') }}) * family_customers)
            as chi_square_term,
        case
            when history_dates >= {{ var('drift_min_history_dates') }}
                then (customers - history_mean_customers)
                    / nullif(history_stddev_customers, 0)
        end as z_score
    from compared
),

family_statistics as (
    select
        as_of_date,
        segment_family,
        sum(psi_term) as psi,
        sum(baseline_psi_term) as baseline_psi,
        sum(chi_square_term) as chi_square,
        sqrt(sum(chi_square_term) / max(family_customers)) as cohens_w
    from segment_terms
    where previous_as_of_date is not null
    group by as_of_date, segment_family
),

segment_drift as (
    select
        segment_terms.as_of_date,
        segment_terms.segment_family,
        segment_terms.segment_name,
        segment_terms.previous_as_of_date,
        segment_terms.customers,
        segment_terms.share,
        segment_terms.previous_share,
        segment_terms.baseline_share,
        segment_terms.share_change_points,
        segment_terms.baseline_change_points,
        segment_terms.z_score,
        family_statistics.psi,
        family_statistics.baseline_psi,
        family_statistics.chi_square,
        family_statistics.cohens_w,
        case
            when
                greatest(family_statistics.psi, family_statistics.baseline_psi)
                > {{ var('drift_psi_fail') }}
                then 'fail'
            when
                greatest(family_statistics.psi, family_statistics.baseline_psi)
                > {{ var('drift_psi_warn') }}
                or abs(segment_terms.share_change_points)
                > {{ var('drift_share_change_warn_points') }}
                then 'warn'
            else 'ok'
        end as drift_status
    from segment_terms
    left join family_statistics
        on segment_terms.as_of_date = family_statistics.as_of_date
            and segment_terms.segment_family = family_statistics.segment_family
)

select * from segment_drift
