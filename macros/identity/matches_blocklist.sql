{#-
    True when the identifier (type_column, value_column) matches the row of the seed
    identity_blocklist aliased blocklist_alias. Used by identity (an identifier that
    matches links nobody) and by erasure (the closure never walks through one), so both
    read the seed the same way. Every comparison ignores case ('NULL', 'Unknown'); the
    seed's rows come through normalised_blocklist, so its patterns are normalised like
    identifiers (nfkc_normalize, unicode_trim).

    match_type:
    - exact: the value equals value_pattern (a null value_pattern stands for '');
    - like: the value matches the SQL LIKE pattern value_pattern;
    - repeated_digit: the value, after dropping an optional country calling code of
      1 to country_code_max_digits digits, is one digit repeated at least value_pattern
      times ('+1 000 000 0000' is '10000000000': '1', then ten zeros). Written with
      substr and replace only, so it runs on any engine.
-#}
{% macro matches_blocklist(type_column, value_column, blocklist_alias='blocklist', country_code_max_digits=3) -%}
    {%- set pattern = blocklist_alias ~ '.value_pattern' -%}
    {%- set minimum_repeated_digits = 'cast(case when ' ~ blocklist_alias
        ~ ".match_type = 'repeated_digit' then " ~ pattern ~ ' end as integer)' -%}
    {{ blocklist_alias }}.identifier_type in ('any', {{ type_column }})
    and (
        (
            {{ blocklist_alias }}.match_type = 'exact'
            and lower({{ value_column }}) = lower(coalesce({{ pattern }}, ''))
        )
        or (
            {{ blocklist_alias }}.match_type = 'like'
            and lower({{ value_column }}) like lower({{ pattern }})
        )
        or (
            {{ blocklist_alias }}.match_type = 'repeated_digit'
            and (
                {%- for prefix_digits in range(country_code_max_digits + 1) %}
                (
                    length({{ value_column }}) - {{ prefix_digits }} >= {{ minimum_repeated_digits }}
                    and replace(
                        substr({{ value_column }}, {{ prefix_digits + 1 }}),
                        substr({{ value_column }}, {{ prefix_digits + 1 }}, 1),
                        ''
                    ) = ''
                ){{ ' or' if not loop.last }}
                {%- endfor %}
            )
        )
    )
{%- endmacro %}


{#-
    The rows of the seed identity_blocklist (blocklist_relation) with each value_pattern
    normalised like identifiers (nfkc_normalize, unicode_trim): the import CTE that
    matches_blocklist reads. Normalised once in a projection, not inside the comparison,
    because Spark computes NFC with reflect(), which it refuses inside an aggregate or a
    join condition.
-#}
{% macro normalised_blocklist(blocklist_relation) -%}
    select
        identifier_type,
        {{ unicode_trim(nfkc_normalize('value_pattern')) }} as value_pattern,
        match_type,
        reason
    from {{ blocklist_relation }}
{%- endmacro %}
