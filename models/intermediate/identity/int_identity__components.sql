{#-
    Connected components of the identity graph over CRM accounts, emails and phones.

    Nodes (int_identity__graph_nodes) are the linkable customer_id, email and phone
    identifiers; edges (int_identity__graph_edges) join an account to an email or phone it
    appeared with in one record. Cookies and devices are not nodes: they attach to a
    component afterwards and can never bridge two accounts.

    Method (macro connected_components): min-label propagation with pointer jumping,
    iterated until no label changes. Labels only decrease and always name a node of the
    same component, so the fixed point labels every node with the smallest node id of its
    component. If identity_max_iterations steps pass without converging the build fails
    with an error instead of returning components that stopped early.
-#}
{{ config(post_hook="{{ drop_iteration_table('labels') }}") }}
{%- set component_labels = connected_components(
    ref('int_identity__graph_nodes'),
    ref('int_identity__graph_edges'),
    var('identity_max_iterations') | int,
) %}

with

nodes as (
    select * from {{ ref('int_identity__graph_nodes') }}
),

labels as (
    select * from {{ component_labels }}
),

components as (
    select
        nodes.identifier_type,
        nodes.identifier_value,
        nodes.node_id,
        labels.component_label as component_id
    from nodes
    inner join labels
        on nodes.node_id = labels.node_id
)

select * from components
