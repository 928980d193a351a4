{#-
    Normalisation helpers shared by every staging model, so one identifier is cleaned
    the same way wherever it appears (identity resolution depends on it).
-#}

{#- Trimmed text; an empty or blank string becomes null. -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- Email: trimmed and lowercased; blank becomes null. -#}
{% macro normalize_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{#- Phone: digits only; a value without digits becomes null. -#}
{% macro normalize_phone(column) -%}
    nullif(regexp_replace({{ column }}, '[^0-9]', '', 'g'), '')
{%- endmacro %}

{#- Enumeration value: trimmed and lowercased; blank becomes null. -#}
{% macro normalize_enum(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{#-
    True when a normalised email has the shape local@domain.tld with no blanks and one @.
    Dispatched so another engine can supply its own regular-expression function.
-#}
{% macro is_valid_email(column) -%}
    {{ return(adapter.dispatch('is_valid_email', 'segments_warehouse')(column)) }}
{%- endmacro %}

{% macro default__is_valid_email(column) -%}
    regexp_like({{ column }}, '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$')
{%- endmacro %}

{% macro duckdb__is_valid_email(column) -%}
    regexp_full_match({{ column }}, '[^@\s]+@[^@\s]+\.[^@\s.]+')
{%- endmacro %}

{#-
    True when a timestamp lies after its row's load time plus the tolerance var
    future_timestamp_tolerance_hours: such a row cannot be true yet and is quarantined.
-#}
{% macro is_future_timestamp(timestamp_column, loaded_at_column='_loaded_at') -%}
    {{ timestamp_column }} > {{ loaded_at_column }}
        + to_hours({{ var('future_timestamp_tolerance_hours') }})
{%- endmacro %}

{#-
    One raw row as a JSON document, kept in quarantine so a rejected row can be inspected
    and replayed. Dispatched: DuckDB turns a whole row into a struct by table alias.
-#}
{% macro row_to_json(table_alias) -%}
    {{ return(adapter.dispatch('row_to_json', 'segments_warehouse')(table_alias)) }}
{%- endmacro %}

{% macro duckdb__row_to_json(table_alias) -%}
    to_json({{ table_alias }})
{%- endmacro %}

{#- A list var rendered as a SQL value list: ('a', 'b'). -#}
{% macro sql_value_list(var_name) -%}
    ({%- for value in var(var_name) -%}
        '{{ value | replace("'", "''") }}'{{ ', ' if not loop.last }}
    {%- endfor -%})
{%- endmacro %}

{#-
    True for an accepted row that another accepted row with the same key supersedes:
    the first row in order_by wins (e.g. 'raw_row_id' keeps the first delivery,
    'raw_row_id desc' the last). Rejected rows are never duplicates: they are quarantined.
-#}
{% macro is_superseded(key_columns, order_by) -%}
    rejection_reason is null
    and row_number() over (
        partition by rejection_reason is null, {{ key_columns | join(', ') }}
        order by {{ order_by }}
    ) > 1
{%- endmacro %}
