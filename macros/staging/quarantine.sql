{#-
    The staging tables, each with its raw source and checked (base) model. Quarantine and
    reconciliation iterate over this one list, so a new raw table is added in one place.
    redacted_columns: raw columns left out (null) of a quarantined row's raw_record even
    when the row is not erased (an erasure request names what it erases).
-#}
{% macro staged_tables() -%}
    {{ return([
        {'table': 'customers', 'source': 'crm', 'base': 'base_crm__customers', 'staged': 'stg_crm__customers'},
        {'table': 'orders', 'source': 'shop', 'base': 'base_shop__orders', 'staged': 'stg_shop__orders'},
        {'table': 'order_items', 'source': 'shop', 'base': 'base_shop__order_items', 'staged': 'stg_shop__order_items'},
        {'table': 'web_events', 'source': 'web', 'base': 'base_web__events', 'staged': 'stg_web__events'},
        {'table': 'app_events', 'source': 'app', 'base': 'base_app__events', 'staged': 'stg_app__events'},
        {'table': 'email_events', 'source': 'email', 'base': 'base_email__events', 'staged': 'stg_email__events'},
        {'table': 'erasure_requests', 'source': 'privacy', 'base': 'base_privacy__erasure_requests', 'staged': 'stg_privacy__erasure_requests', 'redacted_columns': ['customer_id', 'email']},
    ]) }}
{%- endmacro %}

{#-
    Every column of a relation, with the listed columns replaced by null: the select list
    of a raw row whose named columns must not be kept. Dispatched (star-replace syntax).
-#}
{% macro select_star_redacted(columns) -%}
    {{ return(adapter.dispatch('select_star_redacted', 'customer_segments')(columns)) }}
{%- endmacro %}

{% macro default__select_star_redacted(columns) -%}
    *{% if columns %} replace (
        {%- for column in columns %}
        cast(null as varchar) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    ){% endif %}
{%- endmacro %}
