{#-
    Connected components by iterative min-label propagation with pointer jumping.

    Runs while the model executes (macro iterate_to_fixed_point): each step writes a new
    label table with plain SQL (every node takes the smallest label among itself and its
    neighbours, then the label of that label), and the loop stops as soon as a step changes
    nothing, so it costs as many steps as the graph needs, however long its chains. If
    max_iterations steps pass without converging, the build fails with an error instead of
    returning components that stopped early. Returns the relation holding (node_id,
    component_label), <this>__labels; the model drops it afterwards (post-hook
    drop_iteration_table('labels')).

    edges must hold both directions of every edge and a self loop per node.

    Portable: the step queries are ANSI SQL (group by, joins, least) and the table work goes
    through dbt's adapter-dispatched operations; an adapter that needs something else overrides
    <adapter>__connected_components (adapter.dispatch, search namespace segments_warehouse).
-#}
{% macro connected_components(nodes_relation, edges_relation, max_iterations) %}
    {{ return(adapter.dispatch('connected_components', 'segments_warehouse')(
        nodes_relation, edges_relation, max_iterations
    )) }}
{% endmacro %}

{% macro default__connected_components(nodes_relation, edges_relation, max_iterations) %}
    {{ return(iterate_to_fixed_point(
        'labels',
        'select node_id, node_id as component_label from ' ~ nodes_relation,
        'with neighbour_minimum as (
            select edges.from_node_id as node_id, min(labels.component_label) as component_label
            from ' ~ edges_relation ~ ' as edges
            inner join {current} as labels on edges.to_node_id = labels.node_id
            group by edges.from_node_id
        )
        select neighbour_minimum.node_id,
            least(neighbour_minimum.component_label, jumped.component_label) as component_label
        from neighbour_minimum
        inner join neighbour_minimum as jumped
            on neighbour_minimum.component_label = jumped.node_id',
        'select count(*) from {next} as next_labels inner join {current} as labels
            on next_labels.node_id = labels.node_id
        where next_labels.component_label != labels.component_label',
        max_iterations,
        'identity resolution did not converge within identity_max_iterations = '
        ~ max_iterations ~ ' steps: raise the var',
    )) }}
{% endmacro %}
