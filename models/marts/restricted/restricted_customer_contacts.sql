{#-
    Restricted use: how to reach each customer with a CRM account, for activation exports
    (which hash the email and phone into match keys): the email, phone and marketing consent
    of the latest CRM record of the customer's cluster. Never published.
-#}
with

customer_profiles as (
    select * from {{ ref('restricted_customer_profiles') }}
),

customer_contacts as (
    select
        customer_key,
        primary_customer_id,
        email,
        phone,
        is_marketing_opted_in,
        profile_updated_at
    from customer_profiles
)

select * from customer_contacts
