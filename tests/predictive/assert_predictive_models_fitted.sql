{{ config(severity='warn', store_failures=true) }}
-- Warns when a predictive model was not fitted at the as-of date being built: its data were
-- too small or too degenerate (fewer than predictive_min_fit_customers customers, no repeat
-- purchases, one churn class only, fewer distinct customers than clusters), so its family is
-- not_scored for every customer. One row per model, with the reason (model_metrics, status
-- row); read them in dbt_test__audit.assert_predictive_models_fitted.
with

model_metrics as (
    select * from {{ ref('model_metrics') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

unfitted_models as (
    select
        model_metrics.as_of_date,
        model_metrics.model_name,
        model_metrics.reason
    from model_metrics
    inner join as_of_dates
        on model_metrics.as_of_date = as_of_dates.as_of_date
    where
        model_metrics.statistic_kind = 'status'
        and model_metrics.statistic_name = 'not_fitted'
)

select * from unfitted_models
