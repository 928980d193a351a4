{#-
    The incremental strategy of the models that replace some of their rows each run (the
    rows of the raw rows a new delivery touches, keyed by raw_row_id): delete the rows
    whose unique_key the run produces, then insert the run's rows. Dispatched, so another
    engine picks its own strategy without a change to the models.
-#}
{% macro replace_rows_strategy() -%}
    {{ return(adapter.dispatch('replace_rows_strategy', 'segments_warehouse')()) }}
{%- endmacro %}

{% macro default__replace_rows_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__replace_rows_strategy() -%}
    {{ return('merge') }}
{%- endmacro %}

{#-
    The materialization of those models. Spark's Parquet tables (no Delta Lake here) have
    no row-level delete or merge, so on Spark they are rebuilt whole each run ('table': the
    same rows as a first incremental build). With var spark_file_format delta, iceberg or
    hudi (Databricks), they are incremental there too: replace_rows_strategy is then merge
    on the same unique_key, and the delete hooks run as they do on DuckDB.
-#}
{% macro row_replacing_materialization() -%}
    {{ return(adapter.dispatch('row_replacing_materialization', 'segments_warehouse')()) }}
{%- endmacro %}

{% macro default__row_replacing_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__row_replacing_materialization() -%}
    {{ return('incremental' if var('spark_file_format', 'parquet') in ('delta', 'iceberg', 'hudi') else 'table') }}
{%- endmacro %}

{#-
    History tables (one slice per as-of date, unique_key as_of_date): each run replaces its
    date's slice. DuckDB deletes the date's rows and inserts the run's (delete+insert); Spark
    partitions the table by as_of_date and overwrites the run's partition (insert_overwrite,
    dynamic partition overwrite): the same rows either way.
-#}
{% macro history_strategy() -%}
    {{ return(adapter.dispatch('history_strategy', 'segments_warehouse')()) }}
{%- endmacro %}

{% macro default__history_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__history_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{% macro history_partition_by() -%}
    {{ return(adapter.dispatch('history_partition_by', 'segments_warehouse')()) }}
{%- endmacro %}

{% macro default__history_partition_by() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__history_partition_by() -%}
    {{ return(['as_of_date']) }}
{%- endmacro %}

{#-
    Incremental base models (the checked rows of one raw table, one row per raw row):
    each run checks only the raw rows its verdicts may change, and replaces their rows
    (unique_key raw_row_id, strategy replace_rows_strategy):
    - every raw row of a delivery not checked yet (a delivery is its delivery_id and load
      time, so a plain reload of the same files is new too);
    - every row already here that shares a key (keys: name -> the normalised expression of
      the raw columns; the same names are columns of this model) with such a row, or with a
      row newly erased: which delivery of a key wins is decided among all of them;
    - every row already here, not yet erased, whose identifiers are erased now (erasure:
      a list of [identifier type, column of this model]; a request in a delivery reaches the
      rows of earlier deliveries in the same run).
    A full build (or --full-refresh) checks every raw row. delivery_scope_ctes renders the
    CTEs (after the model's erased_identifiers CTE, which the erasure checks read);
    in_delivery_scope filters the source CTE with them; delete_stale_deliveries is the
    pre-hook that drops the rows of deliveries no longer loaded (a plain segments load
    replaced them), which the run then checks again from the raw tables.
-#}
{% macro delivery_scope_ctes(source_relation, keys, erasure=[], extra_rows_sql=none) -%}
    {%- if is_incremental() %}
    checked_deliveries as (
        select distinct
            delivery_id,
            loaded_at
        from {{ this }}
    ),

    new_raw_rows as (
        select
            source_rows._raw_row_id as raw_row_id,
            {%- for name, expression in keys.items() %}
            {{ expression }} as {{ name }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ source_relation }} as source_rows
        anti join checked_deliveries
            on source_rows._delivery_id = checked_deliveries.delivery_id
                and source_rows._loaded_at = checked_deliveries.loaded_at
    ),

    newly_erased_rows as (
        select
            checked_rows.raw_row_id,
            {%- for name in keys %}
            checked_rows.{{ name }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ this }} as checked_rows
        where
            checked_rows.rejection_reason is distinct from 'erased'
            {%- if erasure %}
            and (
                {%- for identifier_type, column in erasure %}
                {{ is_erased_identifier("'" ~ identifier_type ~ "'", 'checked_rows.' ~ column) }}
                {{- ' or' if not loop.last }}
                {%- endfor %}
            )
            {%- else %}
            and false
            {%- endif %}
        {%- if extra_rows_sql %}
        union
        {{ extra_rows_sql }}
        {%- endif %}
    ),

    scope_keys as (
        select
            {%- for name in keys %}
            {{ name }}{{ ',' if not loop.last }}
            {%- endfor %}
        from new_raw_rows
        union
        select
            {%- for name in keys %}
            {{ name }}{{ ',' if not loop.last }}
            {%- endfor %}
        from newly_erased_rows
    ),

    rows_in_scope as (
        select raw_row_id from new_raw_rows
        union
        select raw_row_id from newly_erased_rows
        union
        select checked_rows.raw_row_id
        from {{ this }} as checked_rows
        semi join scope_keys
            on
            {%- for name in keys %}
            checked_rows.{{ name }} = scope_keys.{{ name }}{{ ' and' if not loop.last }}
            {%- endfor %}
    ),
    {%- endif %}
{%- endmacro %}

{% macro in_delivery_scope() -%}
    {%- if is_incremental() -%}
        where _raw_row_id in (select rows_in_scope.raw_row_id from rows_in_scope)
    {%- endif -%}
{%- endmacro %}

{% macro delete_stale_deliveries() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where not exists (
            select 1
            from {{ source('deliveries', 'deliveries') }} as deliveries
            where deliveries.delivery_id = {{ this }}.delivery_id
                and deliveries.loaded_at = {{ this }}.loaded_at
        )
    {%- endif -%}
{%- endmacro %}
