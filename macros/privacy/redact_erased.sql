{#-
    The columns of a base (checked) model with their content removed on erased rows: an
    erased row keeps only what reconciliation needs (raw_row_id, loaded_at, the row's
    non-personal key, rejection_reason), so no erased name, email, phone or id survives
    in any table. Used in the last CTE of every base model; expects rejection_reason.
-#}
{% macro redact_erased(columns) -%}
    {%- for column in columns %}
        case when rejection_reason = 'erased' then null else {{ column }} end as {{ column }},
    {%- endfor %}
{%- endmacro %}

{#-
    True when the normalised identifier value_column of type identifier_type (a quoted
    literal, e.g. "'email'") is erased: its identifier_key is among the keys of that type
    in the relation erased_alias (stg_privacy__erased_identifiers, which holds keys, never
    values). A semi-join on the one key column (a hash join), so a model that checks two
    identifiers of a row ORs two of these instead of joining on an OR, which no engine
    can hash and costs rows x erased identifiers. Null when value_column is null.
-#}
{% macro is_erased_identifier(identifier_type, value_column, erased_alias='erased_identifiers') -%}
    {{ identifier_key(identifier_type, value_column) }} in (
        select {{ erased_alias }}.identifier_key
        from {{ erased_alias }}
        where {{ erased_alias }}.identifier_type = {{ identifier_type }}
    )
{%- endmacro %}
