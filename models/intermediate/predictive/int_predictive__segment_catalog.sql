{#-
    The catalog rows of the three predictive families, unioned into segment_catalog (kept
    here, apart from the rule-based catalog). Cluster names are discovered: every name in the
    customer_predictions history is listed, its rule in words from its latest profile.
-#}
{%- set clv_vars = ['clv_high_share', 'clv_medium_share', 'predictive_horizon_days'] %}
{%- set churn_vars = [
    'churn_high_threshold', 'churn_medium_threshold', 'predictive_horizon_days',
] %}
{%- set cluster_vars = ['cluster_k_min', 'cluster_k_max', 'min_segment_share'] %}
{%- set fixed_segments = [
    ('clv_band', 'high', 'Predicted CLV over the horizon in the top clv_high_share of buyers (BG/NBD expected purchases times Gamma-Gamma expected order value).', clv_vars),
    ('clv_band', 'medium', 'Predicted CLV in the next clv_medium_share of buyers below the high band.', clv_vars),
    ('clv_band', 'low', 'Predicted CLV below the medium band.', clv_vars),
    ('clv_band', 'not_scored', 'No qualifying order by the as-of date: no CLV is predicted.', []),
    ('churn_risk', 'high', 'Probability of no qualifying order in the next predictive_horizon_days days at or above churn_high_threshold.', churn_vars),
    ('churn_risk', 'medium', 'Churn probability at or above churn_medium_threshold and below churn_high_threshold.', churn_vars),
    ('churn_risk', 'low', 'Churn probability below churn_medium_threshold.', churn_vars),
    ('churn_risk', 'not_scored', 'No qualifying order by the as-of date: no churn risk is scored.', []),
    ('cluster', 'not_scored', 'No qualifying order by the as-of date: not clustered.', []),
] %}
with

cluster_profiles as (
    select * from {{ ref('cluster_profiles') }}
),

fixed_segments as (
    select
        fixed.segment_family,
        fixed.segment_name,
        fixed.description,
        fixed.rule_in_words,
        fixed.vars_used
    from (
        values
        {%- for family, name, rule, rule_vars in fixed_segments %}
            (
                '{{ family }}',
                '{{ name }}',
                'Predictive segment (customer_predictions.{{ family }}).',
                {{ sql_string(rule) }},
                {{ sql_string(describe_vars(rule_vars)) }}
            ){{ ',' if not loop.last }}
        {%- endfor %}
    ) as fixed (segment_family, segment_name, description, rule_in_words, vars_used)
),

latest_profiles as (
    select *
    from cluster_profiles
    qualify row_number() over (partition by cluster_name order by as_of_date desc) = 1
),

cluster_segments as (
    select
        'cluster' as segment_family,
        cluster_name as segment_name,
        'Discovered k-means cluster (customer_predictions.cluster_name), named from its centroid.'
            as description,
        'Nearest centroid of the k-means fit of the as-of date; latest centroid ('
        || cast(as_of_date as varchar) || '): recency '
        || cast(round(centroid_recency_days) as varchar) || ' days, frequency '
        || cast(round(centroid_frequency, 1) as varchar) || ', monetary '
        || cast(round(centroid_monetary, 2) as varchar) || ', average order value '
        || cast(round(centroid_avg_order_value, 2) as varchar) || ', engagement score '
        || cast(round(centroid_engagement_score, 1) as varchar) || '.' as rule_in_words,
        {{ sql_string(describe_vars(cluster_vars)) }} as vars_used
    from latest_profiles
),

predictive_segment_catalog as (
    select * from fixed_segments
    union all
    select * from cluster_segments
)

select * from predictive_segment_catalog
