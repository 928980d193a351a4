{#-
    Iterate a table to its fixed point while the model renders, for the graph walks that a
    recursive CTE cannot do on every engine (connected_components, the Spark erasure
    closure).

    start_sql selects the first table. step_sql selects the next table from the current
    one, named by the token {current}. changed_sql returns one number, read after each step,
    from {current} and {next}: 0 means the step changed nothing and the loop stops. Each step
    writes a new table with dbt's adapter-dispatched operations (get_create_table_as_sql,
    drop_relation, rename_relation), so it runs on any adapter. If max_iterations steps pass
    without reaching the fixed point, the build fails with error_message instead of
    returning a table that stopped early (the caller's error_message says which var to raise).

    Returns the relation of the last table: <this>__<name>, scratch space the model drops
    afterwards with a post-hook (drop_iteration_table(name)).
-#}
{% macro iterate_to_fixed_point(name, start_sql, step_sql, changed_sql, max_iterations, error_message) %}
    {%- set current = iteration_table(name) -%}
    {%- set next = iteration_table('next_' ~ name) -%}
    {%- if execute -%}
        {%- do adapter.drop_relation(current) -%}
        {%- do adapter.drop_relation(next) -%}
        {%- do run_query(get_create_table_as_sql(false, current, start_sql)) -%}
        {%- set state = namespace(converged=false, steps=0) -%}
        {%- for step in range(max_iterations) if not state.converged -%}
            {%- do run_query(get_create_table_as_sql(false, next, step_sql | replace('{current}', current ~ ''))) -%}
            {%- set changed = run_query(
                changed_sql | replace('{current}', current ~ '') | replace('{next}', next ~ '')
            ).columns[0].values()[0] -%}
            {%- do adapter.drop_relation(current) -%}
            {%- do adapter.rename_relation(next, current) -%}
            {%- set state.steps = step + 1 -%}
            {%- if changed == 0 -%}
                {%- set state.converged = true -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not state.converged -%}
            {%- do adapter.drop_relation(current) -%}
            {{ exceptions.raise_compiler_error(error_message) }}
        {%- endif -%}
        {{ log(this.identifier ~ ': ' ~ name ~ ' reached its fixed point in ' ~ state.steps ~ ' steps', info=false) }}
    {%- endif -%}
    {{ return(current) }}
{% endmacro %}

{#- The scratch table <this>__<name> of an iteration. -#}
{% macro iteration_table(name) %}
    {{ return(api.Relation.create(
        database=this.database, schema=this.schema, identifier=this.identifier ~ '__' ~ name, type='table'
    )) }}
{% endmacro %}

{#- Post-hook of a model that iterated: drop its scratch table. -#}
{% macro drop_iteration_table(name) %}
    drop table if exists {{ iteration_table(name) }}
{% endmacro %}
