{#-
    Connected components by iterative min-label propagation with pointer jumping.

    Runs while the model executes: each step writes a new label table with plain SQL
    (every node takes the smallest label among itself and its neighbours, then the label
    of that label), and the loop stops as soon as a step changes nothing, so it costs as
    many steps as the graph needs, however long its chains. If max_iterations steps pass
    without converging, the build fails with an error instead of returning components that
    stopped early. Returns the relation holding (node_id, component_label); the model drops
    it afterwards (post-hook drop_component_labels).

    edges must hold both directions of every edge and a self loop per node.

    Portable: the step queries are ANSI SQL (group by, joins, least) and the table work goes
    through dbt's adapter-dispatched operations (get_create_table_as_sql, drop_relation,
    rename_relation); an adapter that needs something else overrides
    <adapter>__connected_components (adapter.dispatch, search namespace segments_warehouse).
-#}
{% macro connected_components(nodes_relation, edges_relation, max_iterations) %}
    {{ return(adapter.dispatch('connected_components', 'segments_warehouse')(
        nodes_relation, edges_relation, max_iterations
    )) }}
{% endmacro %}

{% macro component_labels_relation(suffix='__labels') %}
    {{ return(api.Relation.create(
        database=this.database, schema=this.schema, identifier=this.identifier ~ suffix, type='table'
    )) }}
{% endmacro %}

{% macro default__connected_components(nodes_relation, edges_relation, max_iterations) %}
    {%- set labels = component_labels_relation('__labels') -%}
    {%- set next_labels = component_labels_relation('__next_labels') -%}
    {%- if execute -%}
        {%- do adapter.drop_relation(labels) -%}
        {%- do adapter.drop_relation(next_labels) -%}
        {%- do run_query(get_create_table_as_sql(
            false, labels, 'select node_id, node_id as component_label from ' ~ nodes_relation
        )) -%}
        {%- set state = namespace(converged=false, steps=0) -%}
        {%- for step in range(max_iterations) if not state.converged -%}
            {%- do run_query(get_create_table_as_sql(false, next_labels,
                'with neighbour_minimum as (
                    select edges.from_node_id as node_id, min(labels.component_label) as component_label
                    from ' ~ edges_relation ~ ' as edges
                    inner join ' ~ labels ~ ' as labels on edges.to_node_id = labels.node_id
                    group by edges.from_node_id
                )
                select neighbour_minimum.node_id,
                    least(neighbour_minimum.component_label, jumped.component_label) as component_label
                from neighbour_minimum
                inner join neighbour_minimum as jumped
                    on neighbour_minimum.component_label = jumped.node_id'
            )) -%}
            {%- set changed = run_query(
                'select count(*) from ' ~ next_labels ~ ' as next_labels inner join ' ~ labels
                ~ ' as labels on next_labels.node_id = labels.node_id
                where next_labels.component_label != labels.component_label'
            ).columns[0].values()[0] -%}
            {%- do adapter.drop_relation(labels) -%}
            {%- do adapter.rename_relation(next_labels, labels) -%}
            {%- set state.steps = step + 1 -%}
            {%- if changed == 0 -%}
                {%- set state.converged = true -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not state.converged -%}
            {%- do adapter.drop_relation(labels) -%}
            {{ exceptions.raise_compiler_error(
                'identity resolution did not converge within identity_max_iterations = '
                ~ max_iterations ~ ' steps: raise the var'
            ) }}
        {%- endif -%}
        {{ log('connected components converged in ' ~ state.steps ~ ' steps', info=false) }}
    {%- endif -%}
    {{ return(labels) }}
{% endmacro %}

{#- Post-hook of the components model: the label table is scratch space of the loop. -#}
{% macro drop_component_labels() %}
    drop table if exists {{ component_labels_relation('__labels') }}
{% endmacro %}
