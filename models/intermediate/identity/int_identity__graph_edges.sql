{#-
    The edges of the identity graph, both directions plus a self loop per node: an
    account joined to an email or phone it appeared with in one record.
-#}
with

account_links as (
    select * from {{ ref('int_identity__account_links') }}
),

nodes as (
    select * from {{ ref('int_identity__graph_nodes') }}
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
)

select * from edges
