{#-
    Post-hook for incremental marts that keep history per customer_key (customer_segments,
    segment_memberships): deletes the rows, of every as-of date, of customers erased since
    those dates were built. The model must declare the dependency with
    `-- depends_on: {{ ref('int_identity__erased_customer_keys') }}`.
-#}
{% macro delete_erased_customers() %}
    delete from {{ this }}
    where customer_key in (
        select erased_customer_keys.customer_key
        from {{ ref('int_identity__erased_customer_keys') }} as erased_customer_keys
    )
{% endmacro %}
