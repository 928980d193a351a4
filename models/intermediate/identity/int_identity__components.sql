{#-
    Connected components of the identity graph over CRM accounts, emails and phones.

    Nodes are the linkable (not excluded) customer_id, email and phone identifiers; edges
    join a customer_id to an email or phone it appeared with in one record. Cookies and
    devices are not nodes: they attach to a component afterwards and can never bridge two
    accounts.

    Method: min-label propagation with pointer jumping, unrolled over
    identity_max_iterations steps. Each step gives every node the smallest label among
    itself and its neighbours, then replaces that label by the label's own label. Labels
    only decrease and always name a node of the same component, so the fixed point labels
    every node with the smallest node id of its component. The last step is compared with
    the one before: if any component_label still changed, the build fails with an error instead of
    returning components that stopped early.
-#}
{%- set iterations = var('identity_max_iterations') | int %}

with

sightings as (
    select * from {{ ref('int_identity__sightings') }}
),

account_links as (
    select * from {{ ref('int_identity__account_links') }}
),

excluded_identifiers as (
    select * from {{ ref('int_identity__excluded_identifiers') }}
),

linkable_identifiers as (
    select distinct
        sightings.identifier_type,
        sightings.identifier_value
    from sightings
    left join excluded_identifiers
        on sightings.identifier_type = excluded_identifiers.identifier_type
            and sightings.identifier_value = excluded_identifiers.identifier_value
    where
        sightings.identifier_type in ('customer_id', 'email', 'phone')
        and excluded_identifiers.identifier_value is null
),

nodes as (
    select
        identifier_type,
        identifier_value,
        dense_rank() over (order by identifier_type, identifier_value) as node_id
    from linkable_identifiers
),

directed_edges as (
    select
        customer_nodes.node_id as from_node_id,
        linked_nodes.node_id as to_node_id
    from account_links
    inner join nodes as customer_nodes
        on customer_nodes.identifier_type = 'customer_id'
            and account_links.customer_id = customer_nodes.identifier_value
    inner join nodes as linked_nodes
        on account_links.linked_type = linked_nodes.identifier_type
            and account_links.linked_value = linked_nodes.identifier_value
    where account_links.linked_type in ('email', 'phone')
),

edges as (
    select
        from_node_id,
        to_node_id
    from directed_edges
    union
    select
        to_node_id as from_node_id,
        from_node_id as to_node_id
    from directed_edges
    union
    select
        node_id as from_node_id,
        node_id as to_node_id
    from nodes
),

labels_0 as (
    select
        node_id,
        node_id as component_label
    from nodes
),

{% for step in range(1, iterations + 1) %}
    neighbour_minimum_{{ step }} as (
        select
            edges.from_node_id as node_id,
            min(labels_{{ step - 1 }}.component_label) as component_label
        from edges
        inner join labels_{{ step - 1 }}
            on edges.to_node_id = labels_{{ step - 1 }}.node_id
        group by edges.from_node_id
    ),

    labels_{{ step }} as (
        select
            neighbour_minimum_{{ step }}.node_id,
            least(neighbour_minimum_{{ step }}.component_label, jumped.component_label)
                as component_label
        from neighbour_minimum_{{ step }}
        inner join neighbour_minimum_{{ step }} as jumped
            on neighbour_minimum_{{ step }}.component_label = jumped.node_id
    ),

{% endfor %}

unconverged_nodes as (
    select count(*) as changed_labels
    from labels_{{ iterations }}
    inner join labels_{{ iterations - 1 }}
        on labels_{{ iterations }}.node_id = labels_{{ iterations - 1 }}.node_id
    where labels_{{ iterations }}.component_label != labels_{{ iterations - 1 }}.component_label
),

components as (
    select
        nodes.identifier_type,
        nodes.identifier_value,
        nodes.node_id,
        labels_{{ iterations }}.component_label as component_id
    from nodes
    inner join labels_{{ iterations }}
        on nodes.node_id = labels_{{ iterations }}.node_id
    cross join unconverged_nodes
    where {{ assert_true_or_raise(
        'unconverged_nodes.changed_labels > 0',
        'identity resolution did not converge within identity_max_iterations = '
        ~ iterations ~ ' steps: raise the var'
    ) }}
)

select * from components
