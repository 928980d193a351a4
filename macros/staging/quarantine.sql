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
{% macro select_star_redacted(relation, columns) -%}
    {{ return(adapter.dispatch('select_star_redacted', 'segments_warehouse')(relation, columns)) }}
{%- endmacro %}

{% macro default__select_star_redacted(relation, columns) -%}
    *{% if columns %} replace (
        {%- for column in columns %}
        cast(null as string) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    ){% endif %}
{%- endmacro %}

{#- Spark has no star replace: the relation's columns are listed (read from the catalogue
    when the model runs). -#}
{% macro spark__select_star_redacted(relation, columns) -%}
    {%- if not columns or not execute -%}
        *
    {%- else -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- if column.name in columns -%}
                cast(null as string) as {{ column.name }}
            {%- else -%}
                {{ column.name }}
            {%- endif -%}
            {{ ', ' if not loop.last }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
