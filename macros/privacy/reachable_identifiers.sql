{#-
    The erasure closure: every identifier (identifier_type, identifier_key) reachable from
    the seeds (seeds_sql: a select of identifier_type, identifier_key) over the links of
    links_relation (customer_id_key, email_key; walked both ways), as a select statement.
    The seeds are included. Fails the build if max_iterations steps pass without reaching
    the fixed point. Dispatched: DuckDB walks with a recursive CTE (union: the walk stops
    when a step adds nothing); Spark's recursive CTEs allow only union all, which never
    stops on a cycle, so Spark iterates over tables while the model renders.
-#}
{% macro reachable_identifiers(seeds_sql, links_relation, max_iterations) %}
    {{ return(adapter.dispatch('reachable_identifiers', 'segments_warehouse')(
        seeds_sql, links_relation, max_iterations
    )) }}
{% endmacro %}

{#- The links of links_relation in both directions: from_type, from_key, to_type, to_key. -#}
{% macro directed_erasure_links(links_relation) -%}
    select
        'customer_id' as from_type,
        customer_id_key as from_key,
        'email' as to_type,
        email_key as to_key
    from {{ links_relation }}
    union all
    select
        'email' as from_type,
        email_key as from_key,
        'customer_id' as to_type,
        customer_id_key as to_key
    from {{ links_relation }}
{%- endmacro %}

{% macro default__reachable_identifiers(seeds_sql, links_relation, max_iterations) %}
with recursive

requested_identifiers as (
    {{ seeds_sql }}
),

directed_links as (
    {{ directed_erasure_links(links_relation) }}
),

erasure_closure (identifier_type, identifier_key) as (
    select
        identifier_type,
        identifier_key
    from requested_identifiers
    union
    select
        directed_links.to_type as identifier_type,
        directed_links.to_key as identifier_key
    from erasure_closure
    inner join directed_links
        on erasure_closure.identifier_type = directed_links.from_type
            and erasure_closure.identifier_key = directed_links.from_key
),

erased_identifiers as (
    select
        identifier_type,
        identifier_key
    from erasure_closure
)

select * from erased_identifiers
{% endmacro %}

{#- Spark: breadth-first, one table per step (the step's reached set, deduplicated), until
    a step adds nothing (macro iterate_to_fixed_point); the model then selects the last
    table, <this>__reached (post-hook drop_reachable_identifiers drops it). -#}
{% macro spark__reachable_identifiers(seeds_sql, links_relation, max_iterations) %}
    {%- set reached = iterate_to_fixed_point(
        'reached',
        'select distinct identifier_type, identifier_key from (' ~ seeds_sql ~ ') as seeds',
        'select identifier_type, identifier_key from {current} union '
        ~ 'select directed_links.to_type, directed_links.to_key from {current} as reached '
        ~ 'inner join (' ~ directed_erasure_links(links_relation) ~ ') as directed_links '
        ~ 'on reached.identifier_type = directed_links.from_type '
        ~ 'and reached.identifier_key = directed_links.from_key',
        'select (select count(*) from {next}) - (select count(*) from {current})',
        max_iterations,
        'the erasure closure did not converge within identity_max_iterations = '
        ~ max_iterations ~ ' steps: raise the var',
    ) -%}
    select identifier_type, identifier_key from {{ reached }}
{% endmacro %}

{#- Post-hook of the closure model: Spark's scratch table (nothing on DuckDB). -#}
{% macro drop_reachable_identifiers() %}
    {{ return(adapter.dispatch('drop_reachable_identifiers', 'segments_warehouse')()) }}
{% endmacro %}

{% macro default__drop_reachable_identifiers() %}
    select 1
{% endmacro %}

{% macro spark__drop_reachable_identifiers() %}
    {{ drop_iteration_table('reached') }}
{% endmacro %}
