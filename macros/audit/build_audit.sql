{#-
    The build audit: what the warehouse says about the dbt build that made it. segments check
    and segments publish read it (schema audit), never target/run_results.json.

    on-run-start (audit_build_started): a build, run, seed or snapshot invocation inserts its
    row into audit.dbt_builds with status 'started' before any model runs, committed at
    once, so a build killed part-way leaves the latest row 'started' and nothing passes.
    Read-only commands (test, compile, docs generate, show, ls) do nothing. The hooks return
    their SQL, which dbt runs outside a transaction: each statement commits on its own (so the
    macros must not query while compiling, which would open a transaction dbt rolls back).

    on-run-end (audit_build_finished): a run, seed or snapshot ends 'partial' (it changed
    the warehouse, only a build vouches for it); a build invocation records its outcome: every
    node's status (audit.dbt_node_results), the relations marked config.meta.publish
    (audit.publish_relations), and status 'passed' only when every result passed (success,
    pass or warn) and the build was complete: no --select, --exclude, --selector,
    --resource-type, --exclude-resource-type, --empty or --sample, and every model, seed,
    snapshot and data test of the project has a result. The one selection that can pass is
    segments backfill's --selector as_of_rebuild, and only when the build just before it
    passed on the same raw data (nothing outside the selector depends on the as-of date).
    Anything else is 'failed' or 'partial'. The row keeps the raw data identity read at the start, so a later
    segments load (which rewrites raw.load_manifest) no longer matches it.
-#}

{% macro audit_build_started() %}
    {%- if execute and flags.WHICH in ('build', 'run', 'seed', 'snapshot') -%}
        {{ adapter.dispatch('audit_build_started', 'segments_warehouse')() }}
    {%- endif -%}
{% endmacro %}

{% macro default__audit_build_started() %}
    {{ audit_create_tables_sql() }}
    insert into audit.dbt_builds (build_number, invocation_id, command, started_at, status, raw_identity)
    select
        coalesce(max(build_number), 0) + 1,
        '{{ invocation_id }}',
        '{{ flags.WHICH }}',
        current_timestamp,
        'started',
        null,
    from audit.dbt_builds;
    {#- a separate statement: without raw data it fails the hook, after the row invalidated any pass #}
    update audit.dbt_builds
    set raw_identity = ({{ raw_data_identity_sql() }})
    where invocation_id = '{{ invocation_id }}';
{% endmacro %}


{% macro audit_create_tables_sql() %}
    create schema if not exists audit;
    create table if not exists audit.dbt_builds (
        build_number integer,
        invocation_id varchar,
        command varchar,
        started_at timestamp with time zone,
        finished_at timestamp with time zone,
        status varchar,
        raw_identity varchar,
        reason varchar,
    );
    create table if not exists audit.dbt_node_results (
        invocation_id varchar,
        unique_id varchar,
        resource_type varchar,
        status varchar,
    );
    create table if not exists audit.publish_relations (
        invocation_id varchar,
        unique_id varchar,
        schema_name varchar,
        table_name varchar,
    );
{% endmacro %}


{% macro audit_build_finished(results) %}
    {%- if execute and flags.WHICH in ('run', 'seed', 'snapshot') -%}
        {{ adapter.dispatch('audit_build_recorded', 'segments_warehouse')({
            'status': 'partial', 'reason': 'dbt ' ~ flags.WHICH ~ ' is not a build', 'node_rows': [], 'publish_rows': [],
        }) }}
    {%- elif execute and flags.WHICH == 'build' -%}
        {{ adapter.dispatch('audit_build_recorded', 'segments_warehouse')(audit_build_outcome(results)) }}
    {%- endif -%}
{% endmacro %}


{#-
    The outcome of a build invocation: status ('passed', 'failed', 'partial' or
    'as_of_rebuild'), reason, and the rows of audit.dbt_node_results and
    audit.publish_relations as SQL value tuples.
-#}
{% macro audit_build_outcome(results) %}
    {%- set passing_statuses = ('success', 'pass', 'warn') -%}
    {%- set executed = [] -%}
    {%- set failures = [] -%}
    {%- set node_rows = [] -%}
    {%- for result in results -%}
        {%- do executed.append(result.node.unique_id) -%}
        {#- exposures and saved queries have nothing to run: dbt reports them no-op -#}
        {%- if result.status not in passing_statuses and not (result.status == 'no-op'
            and result.node.resource_type in ('exposure', 'saved_query')) -%}
            {%- do failures.append(result.node.unique_id ~ ': ' ~ result.status) -%}
        {%- endif -%}
        {%- do node_rows.append(
            "('" ~ invocation_id ~ "', " ~ audit_literal(result.node.unique_id) ~ ", "
            ~ audit_literal(result.node.resource_type) ~ ", " ~ audit_literal(result.status) ~ ")"
        ) -%}
    {%- endfor -%}

    {%- set missing = [] -%}
    {%- set publish_rows = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- set materialized = node.config.materialized -%}
        {%- if node.resource_type in ('model', 'seed', 'snapshot', 'test')
            and materialized != 'ephemeral' and node.unique_id not in executed -%}
            {%- do missing.append(node.unique_id) -%}
        {%- endif -%}
        {%- if node.resource_type == 'model' and (node.config.meta or {}).get('publish') is true -%}
            {%- do publish_rows.append(
                "('" ~ invocation_id ~ "', " ~ audit_literal(node.unique_id) ~ ", "
                ~ audit_literal(node.schema) ~ ", " ~ audit_literal(node.alias or node.name) ~ ")"
            ) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set selection = [] -%}
    {%- for argument in ('select', 'exclude', 'selector', 'resource_types', 'exclude_resource_types') -%}
        {%- if invocation_args_dict.get(argument) -%}
            {%- do selection.append('--' ~ argument | replace('_', '-')) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for argument in ('empty', 'sample') -%}
        {%- if invocation_args_dict.get(argument) -%}
            {%- do selection.append('--' ~ argument) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- if failures -%}
        {%- set status = 'failed' -%}
        {%- set reason = failures | length ~ ' node(s) did not pass: ' ~ (failures[:5] | join('; ')) -%}
    {%- elif selection == ['--selector'] and invocation_args_dict.get('selector') == 'as_of_rebuild' -%}
        {#- an as-of date rebuild (segments backfill) that passed vouches for the warehouse only
            on top of a passed build of the same raw data: everything outside the selector
            does not depend on the as-of date, and that build built and tested it -#}
        {%- set status = 'as_of_rebuild' -%}
        {%- set reason = 'as-of date rebuild (--selector as_of_rebuild), ' ~ results | length ~ ' node(s) passed' -%}
    {%- elif selection or missing -%}
        {%- set status = 'partial' -%}
        {%- set reason = 'not a full build ('
            ~ ((selection | join(', ')) if selection else (missing | length ~ ' node(s) not run, e.g. ' ~ missing[0]))
            ~ ')' -%}
    {%- else -%}
        {%- set status = 'passed' -%}
        {%- set reason = results | length ~ ' node(s) passed' -%}
    {%- endif -%}

    {{ return({'status': status, 'reason': reason, 'node_rows': node_rows, 'publish_rows': publish_rows}) }}
{% endmacro %}


{#- Records the outcome: the status row is written last (each statement commits), so a
    build killed before it stays 'started'. -#}
{% macro default__audit_build_recorded(outcome) %}
    {%- set status = outcome.status -%}
    {%- set reason = outcome.reason -%}
    {%- set node_rows = outcome.node_rows -%}
    {%- set publish_rows = outcome.publish_rows -%}
    {{ audit_create_tables_sql() }}
    {%- if node_rows %}
    insert into audit.dbt_node_results values {{ node_rows | join(', ') }};
    {%- endif %}
    {%- if publish_rows %}
    insert into audit.publish_relations values {{ publish_rows | join(', ') }};
    {%- endif %}
    {%- if status == 'as_of_rebuild' %}
    {%- set vouched = "previous.status = 'passed' and previous.raw_identity is not distinct from dbt_builds.raw_identity" %}
    update audit.dbt_builds
    set
        finished_at = current_timestamp,
        status = case when {{ vouched }} then 'passed' else 'partial' end,
        reason = case
            when {{ vouched }}
                then {{ audit_literal(reason ~ ' on top of passed build ') }} || previous.invocation_id
            else {{ audit_literal(reason ~ ', but the build before it did not pass on this raw data') }}
        end
    from (
        {#- the build just before this one; one row of nulls when there is none #}
        select
            max_by(status, build_number) as status,
            max_by(invocation_id, build_number) as invocation_id,
            max_by(raw_identity, build_number) as raw_identity
        from audit.dbt_builds
        where build_number < (
            select build_number from audit.dbt_builds where invocation_id = '{{ invocation_id }}'
        )
    ) as previous
    where dbt_builds.invocation_id = '{{ invocation_id }}';
    {%- else %}
    update audit.dbt_builds
    set finished_at = current_timestamp, status = '{{ status }}', reason = {{ audit_literal(reason) }}
    where invocation_id = '{{ invocation_id }}';
    {%- endif %}
{% endmacro %}


{#-
    Spark (Parquet tables: no update, one statement per call): the hooks run their
    statements while they render and return a no-op. audit.dbt_builds is append-only there:
    a build's row 'started', then a second row with its outcome; its status is that of its
    latest row (finished_at not null).
-#}
{% macro spark__audit_build_started() %}
    {%- do run_query('create schema if not exists audit') -%}
    {%- do run_query(
        'create table if not exists audit.dbt_builds (build_number int, invocation_id string,'
        ~ ' command string, started_at timestamp, finished_at timestamp, status string,'
        ~ ' raw_identity string, reason string) using parquet'
    ) -%}
    {%- do run_query(
        'create table if not exists audit.dbt_node_results (invocation_id string, unique_id string,'
        ~ ' resource_type string, status string) using parquet'
    ) -%}
    {%- do run_query(
        'create table if not exists audit.publish_relations (invocation_id string, unique_id string,'
        ~ ' schema_name string, table_name string) using parquet'
    ) -%}
    {%- do run_query(
        "insert into audit.dbt_builds select coalesce(max(build_number), 0) + 1, '" ~ invocation_id
        ~ "', '" ~ flags.WHICH ~ "', current_timestamp(), cast(null as timestamp), 'started', ("
        ~ raw_data_identity_sql() ~ "), cast(null as string) from audit.dbt_builds"
    ) -%}
    select 1
{% endmacro %}

{% macro spark__audit_build_recorded(outcome) %}
    {%- if outcome.node_rows -%}
        {%- do run_query('insert into audit.dbt_node_results values ' ~ outcome.node_rows | join(', ')) -%}
    {%- endif -%}
    {%- if outcome.publish_rows -%}
        {%- do run_query('insert into audit.publish_relations values ' ~ outcome.publish_rows | join(', ')) -%}
    {%- endif -%}
    {%- set status = 'partial' if outcome.status == 'as_of_rebuild' else outcome.status -%}
    {%- do run_query(
        "insert into audit.dbt_builds select build_number, invocation_id, command, started_at,"
        ~ " current_timestamp(), " ~ audit_literal(status) ~ ", raw_identity, " ~ audit_literal(outcome.reason)
        ~ " from audit.dbt_builds where invocation_id = '" ~ invocation_id ~ "' and status = 'started'"
    ) -%}
    {%- if status == 'passed' -%}
        {%- do publish_passed_build() -%}
    {%- endif -%}
    select 1
{% endmacro %}


{% macro audit_literal(text) -%}
    {{ sql_string(text | string) }}
{%- endmacro %}


{#-
    The identity of the loaded raw data: a hash of raw.load_manifest, which segments load
    rewrites (row counts and load time of every table) in the transaction that replaces the
    raw tables. Every column of the manifest counts, so a column the loader adds later (a
    load id) counts too. segments.audit.RAW_IDENTITY_SQL computes the same value: keep them
    identical. Null when nothing was loaded.
-#}
{% macro raw_data_identity_sql() %}
    {{ return(adapter.dispatch('raw_data_identity_sql')()) }}
{% endmacro %}

{% macro default__raw_data_identity_sql() %}
    {{ exceptions.raise_compiler_error('raw_data_identity_sql is implemented for duckdb only') }}
{% endmacro %}

{% macro spark__raw_data_identity_sql() -%}
    select md5(array_join(array_sort(collect_list(to_json(struct(manifest.*)))), chr(10)))
    from raw.load_manifest as manifest
{%- endmacro %}

{% macro duckdb__raw_data_identity_sql() -%}
    select md5(string_agg(cast(manifest as string), chr(10) order by cast(manifest as string)))
    from raw.load_manifest as manifest
{%- endmacro %}


{#-
    Write-audit-publish on Spark (no transactions across tables): BI reads schema published,
    where every relation marked config.meta.publish is a view over a copy made by the last
    build that passed. The on-run-end hook of a passed build copies each published mart to
    published.<name>__build_<n>, and only when every copy exists replaces the views (each
    replacement is one metastore change, so a reader sees a whole table of one passed build,
    never a half-built one); copies older than the previous build are then dropped. A build
    that did not pass changes nothing in published.
-#}
{% macro publish_passed_build() %}
    {%- set build_number = run_query(
        "select max(build_number) from audit.dbt_builds where invocation_id = '" ~ invocation_id ~ "'"
    ).columns[0].values()[0] -%}
    {%- set relations = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and (node.config.meta or {}).get('publish') is true -%}
            {%- do relations.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do run_query('create schema if not exists published') -%}
    {%- for node in relations -%}
        {%- set name = node.alias or node.name -%}
        {%- do run_query('drop table if exists published.' ~ name ~ '__build_' ~ build_number) -%}
        {%- do run_query(
            'create table published.' ~ name ~ '__build_' ~ build_number ~ ' using parquet as select * from '
            ~ node.schema ~ '.' ~ name
        ) -%}
    {%- endfor -%}
    {%- for node in relations -%}
        {%- set name = node.alias or node.name -%}
        {%- do run_query(
            'create or replace view published.' ~ name ~ ' as select * from published.' ~ name ~ '__build_' ~ build_number
        ) -%}
    {%- endfor -%}
    {%- for row in run_query('show tables in published') -%}
        {%- set parts = row['tableName'].split('__build_') -%}
        {%- if parts | length == 2 and parts[1] | int < build_number - 1 -%}
            {%- do run_query('drop table if exists published.' ~ row['tableName']) -%}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}
