{#-
    An expression that fails the query with message (a SQL string expression) when it is
    evaluated: the build stops at that model and dbt skips everything downstream.
    Dispatched: DuckDB has error(), other engines raise their own way.
-#}
{% macro fail_query(message) -%}
    {{ return(adapter.dispatch('fail_query', 'segments_warehouse')(message)) }}
{%- endmacro %}

{% macro default__fail_query(message) -%}
    {{ exceptions.raise_compiler_error("fail_query is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro spark__fail_query(message) -%}
    raise_error({{ message }})
{%- endmacro %}

{% macro duckdb__fail_query(message) -%}
    error({{ message }})
{%- endmacro %}

{#-
    The relation of a model as it exists in the warehouse now, without ref(): for reading
    an incremental history before the run that may append to it (a ref would be a cycle).
    None when it does not exist yet, at parse time, or on --full-refresh (which resets it).
-#}
{% macro existing_history_relation(model_name) -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = graph.nodes['model.' ~ project_name ~ '.' ~ model_name] -%}
    {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}
