{#-
    A stable surrogate key from an identifier type and value: md5 of secret + "type:value".

    The secret is the warehouse's own: a random 256-bit value that segments load writes into
    restricted.customer_key_secret when it creates the warehouse (Python's secrets module),
    and that no dbt command replaces, so keys stay the same across builds and full refreshes
    of the models, while two warehouses never share keys. The compiled SQL reads it from the
    table at run time: the secret never appears under target/ or in dbt's logs. Without it,
    a key made from an email would be the md5 of a guessable string, and anyone with a CRM
    export could reverse the keys that BI tools read.

    A non-empty environment variable SEGMENTS_CUSTOMER_KEY_SALT overrides the table (to share
    keys between warehouses, or to pin them in unit tests); it then appears in the compiled
    SQL under target/, which must be treated like the warehouse. An empty variable counts as
    unset, so a blank line in an environment file never makes keys reversible. Changing the
    secret changes every customer_key (rebuild the history with --full-refresh).
-#}
{% macro identifier_key(type_column, value_column) -%}
    md5({{ customer_key_secret() }} || {{ type_column }} || ':' || {{ value_column }})
{%- endmacro %}


{#- The secret as a SQL expression: the override as a literal, else the table's one row. -#}
{% macro customer_key_secret() -%}
    {%- set salt = env_var('SEGMENTS_CUSTOMER_KEY_SALT', '') -%}
    {%- if salt -%}
        '{{ salt | replace("'", "''") }}'
    {%- else -%}
        (select secret from {{ customer_key_secret_relation() }})
    {%- endif -%}
{%- endmacro %}


{#- Where segments load keeps the warehouse's secret (never a dbt model: no build replaces it). -#}
{% macro customer_key_secret_relation() -%}
    restricted.customer_key_secret
{%- endmacro %}


{#-
    on-run-start: a build or run of a warehouse without its secret (loaded by an older
    segments load) fails at once with the remedy, instead of in the first model that makes
    a key. Nothing is checked when SEGMENTS_CUSTOMER_KEY_SALT overrides the secret.
-#}
{% macro customer_key_secret_check() %}
    {%- if execute and flags.WHICH in ('build', 'run') and not env_var('SEGMENTS_CUSTOMER_KEY_SALT', '') -%}
        {{ adapter.dispatch('customer_key_secret_check', 'segments_warehouse')() }}
    {%- endif -%}
{% endmacro %}

{% macro duckdb__customer_key_secret_check() %}
    select error(
        'the warehouse has no customer key secret (restricted.customer_key_secret): '
        || 'run segments load to create it (every customer_key changes: dbt build --full-refresh)'
    )
    where not exists (
        select 1
        from information_schema.tables
        where table_schema = 'restricted' and table_name = 'customer_key_secret'
    )
{% endmacro %}

{#- Spark has no error() and no information_schema: the check is made while the hook
    renders, through the adapter's catalogue. -#}
{% macro spark__customer_key_secret_check() %}
    {%- set relation = adapter.get_relation(
        database=none, schema='restricted', identifier='customer_key_secret'
    ) -%}
    {%- if relation is none -%}
        {{ exceptions.raise_compiler_error(
            'the warehouse has no customer key secret (restricted.customer_key_secret): '
            ~ 'run segments load to create it (every customer_key changes: dbt build --full-refresh)'
        ) }}
    {%- endif -%}
    select 1
{% endmacro %}
