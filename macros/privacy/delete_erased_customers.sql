{#-
    Post-hook for incremental marts that keep history per customer_key (customer_segments,
    segment_memberships, customer_key_merges): deletes the rows, of every as-of date, of
    customers erased since those dates were built: a row goes when any of key_columns holds
    an erased customer_key. The model must declare the dependency with
    `-- depends_on: {{ ref('int_identity__erased_customer_keys') }}`.
-#}
{% macro delete_erased_customers(key_columns=['customer_key']) %}
    {{ return(adapter.dispatch('delete_erased_customers', 'segments_warehouse')(key_columns)) }}
{% endmacro %}

{#- True for a row holding an erased key in one of key_columns (of relation_alias, if given). -#}
{% macro holds_erased_customer(key_columns, relation_alias=none) -%}
    {%- for column in key_columns %}
    {{ relation_alias ~ '.' if relation_alias }}{{ column }} in (
        select erased_customer_keys.customer_key
        from {{ ref('int_identity__erased_customer_keys') }} as erased_customer_keys
    ){{ ' or' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro default__delete_erased_customers(key_columns) %}
    delete from {{ this }}
    where {{ holds_erased_customer(key_columns) }}
{% endmacro %}

{#-
    Spark's Parquet tables have no delete: when the model holds erased customers, the rows
    to keep are written to a scratch table and overwrite the whole table (static mode, so a
    partition left empty is emptied too). Run while the hook renders; the hook is a no-op.
-#}
{% macro spark__delete_erased_customers(key_columns) %}
    {%- if execute -%}
        {%- set held = run_query(
            'select count(*) from ' ~ this ~ ' as held where ' ~ holds_erased_customer(key_columns, 'held')
        ).columns[0].values()[0] -%}
        {%- if held > 0 -%}
            {%- set kept = api.Relation.create(
                database=this.database, schema=this.schema, identifier=this.identifier ~ '__kept', type='table'
            ) -%}
            {%- do adapter.drop_relation(kept) -%}
            {%- do run_query(get_create_table_as_sql(false, kept,
                'select * from ' ~ this ~ ' as held where not coalesce('
                ~ holds_erased_customer(key_columns, 'held') ~ ', false)'
            )) -%}
            {%- do run_query('set spark.sql.sources.partitionOverwriteMode = STATIC') -%}
            {%- do run_query('insert overwrite table ' ~ this ~ ' select * from ' ~ kept) -%}
            {%- do adapter.drop_relation(kept) -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{% endmacro %}
