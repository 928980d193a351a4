{#-
    Every accepted version of every CRM account, for identity resolution: an email or
    phone an account held in an earlier version still identifies the same person.
-#}
with

checked_customers as (
    select * from {{ ref('base_crm__customers') }}
),

accepted_versions as (
    select
        customer_id,
        raw_row_id as customer_version_id,
        email,
        phone,
        created_at,
        updated_at,
        not is_duplicate as is_latest_version
    from checked_customers
    where rejection_reason is null
)

select * from accepted_versions
