{#-
    The vars the predictive Python models read, as one JSON object (config predictive_vars of
    int_predictive__fits and int_predictive__scores): the names of
    segments.predictive.pipeline.VAR_NAMES, which python_tests/test_predictive.py compares
    with this list. A dbt Python model sees only its config, not var().
-#}
{% macro predictive_vars() -%}
    {%- set names = [
        'predictive_horizon_days',
        'predictive_min_fit_customers',
        'engagement_weights',
        'engagement_half_life_days',
        'clv_fit_sample_customers',
        'churn_high_threshold',
        'churn_medium_threshold',
        'churn_holdout_share',
        'churn_max_training_customers',
        'cluster_k_min',
        'cluster_k_max',
        'min_segment_share',
        'cluster_fit_sample_customers',
        'cluster_silhouette_sample_customers',
        'cluster_initialisations',
        'predictive_seed',
    ] -%}
    {%- set values = {} -%}
    {%- for name in names -%}
        {%- do values.update({name: var(name)}) -%}
    {%- endfor -%}
    {{ return(tojson(values)) }}
{%- endmacro %}
