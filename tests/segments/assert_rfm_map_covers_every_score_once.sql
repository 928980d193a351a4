-- Every one of the 125 (R, F, M) score combinations lands in exactly one RFM segment.
with

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

scores as (
    select score_values.score
    from (values (1), (2), (3), (4), (5)) as score_values (score)
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

matches as (
    select
        combinations.r_score,
        combinations.f_score,
        combinations.m_score,
        count(segment_map.rfm_segment) as segments
    from combinations
    left join segment_map
        on combinations.r_score = segment_map.r_score
            and (combinations.f_score + combinations.m_score) / 2.0
            between segment_map.fm_score_min and segment_map.fm_score_max
    group by combinations.r_score, combinations.f_score, combinations.m_score
),

failures as (
    select * from matches
    where segments != 1
    union all
    select
        null as r_score,
        null as f_score,
        null as m_score,
        count(*) as segments
    from combinations
    having count(*) != 125
)

select * from failures
