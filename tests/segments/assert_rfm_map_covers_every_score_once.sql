-- The seed rfm_segment_map is a complete, unambiguous map onto the eleven named segments:
-- 1. every one of the 125 (R, F, M) score combinations lands in exactly one map row;
-- 2. every map row is reachable by some combination (no row out of range or between steps);
-- 3. the map names exactly the eleven segments of the issue, each at least once.
-- Each branch fails with the offending combination, row or name.
{%- set expected_segments = [
    'champions', 'loyal_customers', 'potential_loyalists', 'new_customers', 'promising',
    'need_attention', 'about_to_sleep', 'at_risk', 'cant_lose_them', 'hibernating', 'lost',
] %}
with

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

scores as (
    select cast(score_values.score as integer) as score
    from range(1, 6) as score_values (score)
),

expected_names as (
    select expected_values.rfm_segment
    from (
        values
        {%- for name in expected_segments %}
            ('{{ name }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as expected_values (rfm_segment)
),

combinations as (
    select
        recency_scores.score as r_score,
        frequency_scores.score as f_score,
        monetary_scores.score as m_score
    from scores as recency_scores
    cross join scores as frequency_scores
    cross join scores as monetary_scores
),

matched_rows as (
    select
        combinations.r_score,
        combinations.f_score,
        combinations.m_score,
        segment_map.r_score as map_r_score,
        segment_map.fm_score_min,
        segment_map.rfm_segment
    from combinations
    inner join segment_map
        on combinations.r_score = segment_map.r_score
            and (combinations.f_score + combinations.m_score) / 2.0
            between segment_map.fm_score_min and segment_map.fm_score_max
),

combination_matches as (
    select
        combinations.r_score,
        combinations.f_score,
        combinations.m_score,
        count(matched_rows.rfm_segment) as segments
    from combinations
    left join matched_rows
        on combinations.r_score = matched_rows.r_score
            and combinations.f_score = matched_rows.f_score
            and combinations.m_score = matched_rows.m_score
    group by combinations.r_score, combinations.f_score, combinations.m_score
),

unreachable_rows as (
    select segment_map.*
    from segment_map
    left join matched_rows
        on segment_map.r_score = matched_rows.map_r_score
            and segment_map.fm_score_min = matched_rows.fm_score_min
    where matched_rows.map_r_score is null
),

mapped_names as (
    select distinct rfm_segment from segment_map
),

name_mismatches as (
    select
        coalesce(expected_names.rfm_segment, mapped_names.rfm_segment) as rfm_segment,
        expected_names.rfm_segment is not null as is_expected,
        mapped_names.rfm_segment is not null as is_mapped
    from expected_names
    full outer join mapped_names
        on expected_names.rfm_segment = mapped_names.rfm_segment
    where expected_names.rfm_segment is null or mapped_names.rfm_segment is null
),

failures as (
    select
        'combination not in exactly one row' as problem,
        r_score,
        f_score,
        m_score,
        cast(segments as string) as detail
    from combination_matches
    where segments != 1
    union all
    select
        'map row no combination reaches' as problem,
        r_score,
        null as f_score,
        null as m_score,
        rfm_segment || ' (' || fm_score_min || ' to ' || fm_score_max || ')' as detail
    from unreachable_rows
    union all
    select
        case
            when is_expected then 'named segment missing from the map' else 'unknown segment name'
        end
            as problem,
        null as r_score,
        null as f_score,
        null as m_score,
        rfm_segment as detail
    from name_mismatches
)

select * from failures
