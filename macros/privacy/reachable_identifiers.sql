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

{% macro reachable_identifiers_relation(suffix) %}
    {{ return(api.Relation.create(
        database=this.database, schema=this.schema, identifier=this.identifier ~ suffix, type='table'
    )) }}
{% endmacro %}

{#- Spark: breadth-first, one table per step (the step's reached set, deduplicated), until
    a step adds nothing; the model then selects the last table (post-hook
    drop_reachable_identifiers drops it). -#}
{% macro spark__reachable_identifiers(seeds_sql, links_relation, max_iterations) %}
    {%- set reached = reachable_identifiers_relation('__reached') -%}
    {%- set next_reached = reachable_identifiers_relation('__next_reached') -%}
    {%- if execute -%}
        {%- do adapter.drop_relation(reached) -%}
        {%- do adapter.drop_relation(next_reached) -%}
        {%- do run_query(get_create_table_as_sql(false, reached,
            'select distinct identifier_type, identifier_key from (' ~ seeds_sql ~ ') as seeds'
        )) -%}
        {%- set state = namespace(converged=false, size=none) -%}
        {%- for step in range(max_iterations) if not state.converged -%}
            {%- do run_query(get_create_table_as_sql(false, next_reached,
                'select identifier_type, identifier_key from ' ~ reached ~ ' union '
                ~ 'select directed_links.to_type, directed_links.to_key from ' ~ reached ~ ' as reached '
                ~ 'inner join (' ~ directed_erasure_links(links_relation) ~ ') as directed_links '
                ~ 'on reached.identifier_type = directed_links.from_type '
                ~ 'and reached.identifier_key = directed_links.from_key'
            )) -%}
            {%- set sizes = run_query(
                'select (select count(*) from ' ~ reached ~ '), (select count(*) from ' ~ next_reached ~ ')'
            ).rows[0] -%}
            {%- do adapter.drop_relation(reached) -%}
            {%- do adapter.rename_relation(next_reached, reached) -%}
            {%- if sizes[0] == sizes[1] -%}
                {%- set state.converged = true -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not state.converged -%}
            {%- do adapter.drop_relation(reached) -%}
            {{ exceptions.raise_compiler_error(
                'the erasure closure did not converge within identity_max_iterations = '
                ~ max_iterations ~ ' steps: raise the var'
            ) }}
        {%- endif -%}
    {%- endif -%}
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
    drop table if exists {{ reachable_identifiers_relation('__reached') }}
{% endmacro %}
