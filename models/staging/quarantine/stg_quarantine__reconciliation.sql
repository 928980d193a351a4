{#-
    Nothing is lost: for every raw table, raw rows = staged rows + quarantined rows +
    removed duplicates (delivered twice, or superseded CRM versions).
-#}
{%- set tables = staged_tables() %}

with

{% for table in tables -%}
    raw_{{ table.table }} as (
        select * from {{ source(table.source, table.table) }}
    ),

    checked_{{ table.table }} as (
        select * from {{ ref(table.base) }}
    ),

    staged_{{ table.table }} as (
        select * from {{ ref(table.staged) }}
    ),

{% endfor -%}

quarantined_rows as (
    select * from {{ ref('stg_quarantine__rows') }}
),

{% for table in tables -%}
    counts_{{ table.table }} as (
        select
            '{{ table.table }}' as source_table,
            (select count(*) from raw_{{ table.table }}) as raw_rows,
            (select count(*) from staged_{{ table.table }}) as staged_rows,
            (
                select count(*) from quarantined_rows
                where source_table = '{{ table.table }}'
            ) as quarantined_rows,
            (
                select count(*) from checked_{{ table.table }}
                where is_duplicate
            ) as duplicate_rows
    ),

{% endfor -%}

reconciliation as (
    {% for table in tables -%}
        select * from counts_{{ table.table }}
        {% if not loop.last %}union all
        {% endif %}
    {%- endfor %}
)

select * from reconciliation
