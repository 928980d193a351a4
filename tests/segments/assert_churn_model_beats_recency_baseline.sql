{{ config(severity='warn') }}
-- Warns when, on any as-of date of model_metrics, the churn model's held-out ROC-AUC does not
-- beat the recency-only baseline's (the model then adds nothing to recency).
with

model_metrics as (
    select * from {{ ref('model_metrics') }}
),

churn_aucs as (
    select
        as_of_date,
        max(value) filter (where statistic_name = 'auc') as model_auc,
        max(value) filter (where statistic_name = 'baseline_auc') as baseline_auc
    from model_metrics
    where model_name = 'churn' and statistic_kind = 'metric'
    group by as_of_date
)

select * from churn_aucs
where model_auc <= baseline_auc
