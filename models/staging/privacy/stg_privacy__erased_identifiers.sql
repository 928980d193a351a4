{#-
    Every identifier whose data must be removed before anything leaves staging.
    A request names a customer_id, an email or both. The erasure closes over the CRM:
    an erased account's emails (in any of its versions) are erased, and an account any
    of whose versions carries an erased email is erased with it. Phones are not used as
    erasure keys: a phone is often shared or a placeholder, and the erased account's own
    records (which carry its phone) are removed through its customer_id.
-#}
with

erasure_requests as (
    select * from {{ ref('stg_privacy__erasure_requests') }}
),

source_customers as (
    select * from {{ source('crm', 'customers') }}
),

customer_versions as (
    select
        {{ clean_text('customer_id') }} as customer_id,
        {{ normalize_email('email') }} as email
    from source_customers
),

requested_customer_ids as (
    select customer_id from erasure_requests
    where customer_id is not null
),

requested_emails as (
    select email from erasure_requests
    where email is not null
),

erased_customer_ids as (
    select customer_id from requested_customer_ids
    union
    select customer_versions.customer_id
    from customer_versions
    inner join requested_emails
        on customer_versions.email = requested_emails.email
    where customer_versions.customer_id is not null
),

erased_emails as (
    select email from requested_emails
    union
    select customer_versions.email
    from customer_versions
    inner join erased_customer_ids
        on customer_versions.customer_id = erased_customer_ids.customer_id
    where customer_versions.email is not null
),

erased_identifiers as (
    select
        'customer_id' as identifier_type,
        customer_id as identifier_value
    from erased_customer_ids
    union
    select
        'email' as identifier_type,
        email as identifier_value
    from erased_emails
)

select * from erased_identifiers
