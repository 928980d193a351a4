{#-
    Every raw row that staging rejected, with the reason. The raw row is kept as JSON for
    inspection and replay, except for erased rows, whose content must not survive, and
    the identifiers a quarantined erasure request names (staged_tables redacted_columns).
-#}
{%- set tables = staged_tables() %}

with

{% for table in tables -%}
    raw_{{ table.table }} as (
        select {{ select_star_redacted(
            source(table.source, table.table),
            table.get('redacted_columns', []),
        ) }}
        from {{ source(table.source, table.table) }}
    ),

    checked_{{ table.table }} as (
        select * from {{ ref(table.base) }}
    ),

{% endfor -%}

{% for table in tables -%}
    quarantined_{{ table.table }} as (
        select
            '{{ table.table }}' as source_table,
            checked_{{ table.table }}.raw_row_id,
            checked_{{ table.table }}.rejection_reason,
            checked_{{ table.table }}.loaded_at,
            case
                when checked_{{ table.table }}.rejection_reason != 'erased'
                    then {{ row_to_json('raw_' ~ table.table) }}
            end as raw_record
        from checked_{{ table.table }}
        inner join raw_{{ table.table }}
            on checked_{{ table.table }}.raw_row_id = raw_{{ table.table }}._raw_row_id
        where checked_{{ table.table }}.rejection_reason is not null
    ),

{% endfor -%}

quarantined_rows as (
    {% for table in tables -%}
        select * from quarantined_{{ table.table }}
        {% if not loop.last %}union all
        {% endif %}
    {%- endfor %}
)

select * from quarantined_rows
