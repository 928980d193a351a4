{#- Every segment: family, name, description, the rule in words and the vars it uses. -#}
{%- set lifecycle_vars = [
    'lifecycle_new_days', 'lifecycle_active_days', 'lifecycle_dormant_days', 'lifecycle_lapsed_days',
] %}
{%- set lifecycle_stages = [
    ('prospect', 'No qualifying order by the as-of date.'),
    ('new', 'First qualifying order less than lifecycle_new_days days ago.'),
    ('active', 'Not new; last qualifying order less than lifecycle_active_days days ago.'),
    ('dormant', 'Last qualifying order less than lifecycle_dormant_days days ago.'),
    ('lapsed', 'Last qualifying order less than lifecycle_lapsed_days days ago.'),
    ('churned', 'Last qualifying order lifecycle_lapsed_days or more days ago.'),
] %}
with

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

-- the predictive families (clv_band, churn_risk, cluster) are catalogued apart
predictive_segment_catalog as (
    select * from {{ ref('int_predictive__segment_catalog') }}
),

rfm_segment_descriptions as (
    select
        descriptions.segment_name,
        descriptions.description
    from (
        values
        {%- for name, description in rfm_segment_descriptions().items() %}
            ({{ sql_string(name) }}, {{ sql_string(description) }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as descriptions (segment_name, description)
),

rfm_rules as (
    select
        rfm_segment as segment_name,
        string_agg(
            'R = ' || r_score || ' and (F + M) / 2 from ' || fm_score_min || ' to ' || fm_score_max,
            '; ' order by r_score desc, fm_score_min asc
        ) as rule_in_words
    from segment_map
    group by rfm_segment
),

rfm_segments as (
    select
        'rfm' as segment_family,
        rfm_rules.segment_name,
        rfm_segment_descriptions.description,
        rfm_rules.rule_in_words,
        {{ sql_string(describe_vars(['rfm_score_cutoffs'])) }} as vars_used
    from rfm_rules
    left join rfm_segment_descriptions
        on rfm_rules.segment_name = rfm_segment_descriptions.segment_name
    union all
    select
        'rfm' as segment_family,
        'Prospects' as segment_name,
        'Customers without a qualifying order: not scored.' as description,
        'Frequency is 0 as of the date.' as rule_in_words,
        '' as vars_used
),

other_segments as (
    {% for segment in behavioural_segments() %}
        select
            'behavioural' as segment_family,
            '{{ segment.name }}' as segment_name,
            'Behavioural rule segment (flag {{ segment.flag }} in customer_segments).'
                as description,
            {{ sql_string(segment.rule) }} as rule_in_words,
            {{ sql_string(describe_vars(segment.vars)) }} as vars_used
        union all
    {% endfor %}
    {% for stage, rule in lifecycle_stages %}
        select
            'lifecycle' as segment_family,
            '{{ stage }}' as segment_name,
            'Lifecycle stage (customer_recency.lifecycle_stage).' as description,
            {{ sql_string(rule) }} as rule_in_words,
            {{ sql_string(describe_vars(lifecycle_vars)) }} as vars_used
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

segment_catalog as (
    select * from rfm_segments
    union all
    select * from other_segments
    union all
    select * from predictive_segment_catalog
)

select * from segment_catalog
