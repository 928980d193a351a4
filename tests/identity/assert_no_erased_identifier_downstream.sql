-- No identifier named by an erasure request (or reached by its closure) appears in any
-- identity model: sightings, customer_identifiers, identity_exclusions, or a customer's
-- CRM profile (restricted_customer_profiles: primary_customer_id, email). One row per leak,
-- naming the model it leaked into.
with

erased_identifiers as (
    select * from {{ ref('stg_privacy__erased_identifiers') }}
),

sightings as (
    select * from {{ ref('int_identity__sightings') }}
),

customer_identifiers as (
    select * from {{ ref('customer_identifiers') }}
),

identity_exclusions as (
    select * from {{ ref('identity_exclusions') }}
),

customer_profiles as (
    select * from {{ ref('restricted_customer_profiles') }}
),

identity_identifiers as (
    select
        'int_identity__sightings' as model_name,
        identifier_type,
        identifier_value
    from sightings
    union all
    select
        'customer_identifiers' as model_name,
        identifier_type,
        identifier_value
    from customer_identifiers
    union all
    select
        'identity_exclusions' as model_name,
        identifier_type,
        identifier_value
    from identity_exclusions
    union all
    select
        'restricted_customer_profiles' as model_name,
        'customer_id' as identifier_type,
        primary_customer_id as identifier_value
    from customer_profiles
    where primary_customer_id is not null
    union all
    select
        'restricted_customer_profiles' as model_name,
        'email' as identifier_type,
        email as identifier_value
    from customer_profiles
    where email is not null
),

-- is_erased_identifier is a semi-join on the identifier's key, as in staging (a key computed
-- inside a join condition made DuckDB compare every identifier with every erased one: 575 s
-- of the 250k build)
leaked_identifiers as (
    select identity_identifiers.*
    from identity_identifiers
    where {{ is_erased_identifier(
        'identity_identifiers.identifier_type', 'identity_identifiers.identifier_value'
    ) }}
)

select * from leaked_identifiers
