{#-
    Normalisation helpers shared by every staging model, so one identifier is cleaned
    the same way wherever it appears (identity resolution depends on it).
-#}

{#-
    Invisible characters removed from every text value wherever they stand: zero-width
    space, non-joiner and joiner (U+200B-U+200D), word joiner (U+2060), byte-order mark
    (U+FEFF), Mongolian vowel separator (U+180E) and soft hyphen (U+00AD).
-#}
{% macro invisible_characters_class() -%}
    [\x{00AD}\x{180E}\x{200B}-\x{200D}\x{2060}\x{FEFF}]
{%- endmacro %}

{#-
    Blank characters trimmed from both ends of every text value: every Unicode space
    separator (category Z: U+0020, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
    U+205F, U+3000) and the controls tab, LF, VT, FF, CR and NEL (U+0085).
-#}
{% macro blank_characters_class() -%}
    [\p{Z}\t\n\x{000B}\f\r\x{0085}]
{%- endmacro %}

{#-
    "Trimmed": invisible characters removed everywhere, then blanks removed at both ends.
    Dispatched: the regular-expression syntax is engine specific.
-#}
{% macro unicode_trim(column) -%}
    {{ return(adapter.dispatch('unicode_trim', 'segments_warehouse')(column)) }}
{%- endmacro %}

{#- Spark (Java regular expressions): the same classes, backslashes doubled for Spark's
    string literals, and \z for the very end (Java's $ also matches before a final line
    break). regexp_replace replaces every match. -#}
{% macro spark__unicode_trim(column) -%}
    {%- set invisible = invisible_characters_class() | replace('\\', '\\\\') -%}
    {%- set blank = blank_characters_class() | replace('\\', '\\\\') -%}
    regexp_replace(
        regexp_replace({{ column }}, '{{ invisible }}', ''),
        '^{{ blank }}+|{{ blank }}+\\z',
        ''
    )
{%- endmacro %}

{% macro default__unicode_trim(column) -%}
    regexp_replace(
        regexp_replace({{ column }}, '{{ invisible_characters_class() }}', '', 'g'),
        '^{{ blank_characters_class() }}+|{{ blank_characters_class() }}+$',
        '',
        'g'
    )
{%- endmacro %}

{#-
    Unicode compatibility normalisation of an identifier (NFKC where the engine has it).
    DuckDB has only nfc_normalize, so the compatibility characters met in typed
    identifiers are mapped explicitly after NFC: the fullwidth ASCII forms U+FF01-U+FF5E
    (a fullwidth @, letter or digit) to ASCII, and the Latin ligatures U+FB00-U+FB06.
    Dispatched: an engine with a real NFKC function overrides it.
-#}
{% macro nfkc_normalize(column) -%}
    {{ return(adapter.dispatch('nfkc_normalize', 'segments_warehouse')(column)) }}
{%- endmacro %}

{% macro default__nfkc_normalize(column) -%}
    {%- set fullwidth = namespace(source='', target='') -%}
    {%- for code_point in range(65281, 65375) -%}
        {%- set fullwidth.source = fullwidth.source ~ ('%c' % code_point) -%}
        {%- set fullwidth.target = fullwidth.target ~ ('%c' % (code_point - 65248)) -%}
    {%- endfor -%}
    {%- set ligatures = [
        ('\ufb00', 'ff'), ('\ufb01', 'fi'), ('\ufb02', 'fl'), ('\ufb03', 'ffi'),
        ('\ufb04', 'ffl'), ('\ufb05', 'st'), ('\ufb06', 'st'),
    ] -%}
    {%- set mapped = namespace(sql="translate(" ~ nfc_normalize(column) ~ ", "
        ~ sql_string(fullwidth.source) ~ ", " ~ sql_string(fullwidth.target) ~ ")") -%}
    {%- for ligature, letters in ligatures -%}
        {%- set mapped.sql = "replace(" ~ mapped.sql ~ ", '" ~ ligature ~ "', '" ~ letters ~ "')" -%}
    {%- endfor -%}
    {{ mapped.sql }}
{%- endmacro %}

{#- Unicode canonical composition (NFC). Dispatched: DuckDB has nfc_normalize; Spark has
    none, so it calls ICU4J (bundled with Spark) through reflect, which fails on a null. -#}
{% macro nfc_normalize(column) -%}
    {{ return(adapter.dispatch('nfc_normalize', 'segments_warehouse')(column)) }}
{%- endmacro %}

{% macro default__nfc_normalize(column) -%}
    nfc_normalize({{ column }})
{%- endmacro %}

{% macro spark__nfc_normalize(column) -%}
    case
        when {{ column }} is not null
            then reflect('com.ibm.icu.text.Normalizer', 'compose', {{ column }}, false)
    end
{%- endmacro %}

{#-
    A text value trimmed (unicode_trim), compatibility normalised first when compatibility
    (nfkc_normalize). Both are identities on a value of printable ASCII that neither starts
    nor ends with a blank (is_plain_ascii): every character they map or remove is outside
    ASCII, or an ASCII blank at an end. Such a value (nearly every value: ids, codes,
    enumerations) is returned as it is; only the others pay for the regular expressions,
    which cost about ten times more. The result is the same for every value.
-#}
{% macro normalised_text(column, compatibility=false) -%}
    {%- set normalised = nfkc_normalize(column) if compatibility else column -%}
    case when {{ is_plain_ascii(column) }} then {{ column }} else {{ unicode_trim(normalised) }} end
{%- endmacro %}

{#-
    True when a text value holds only ASCII characters and its first and last characters
    are above the space (U+0020): no character that unicode_trim or nfkc_normalize changes.
    False or null otherwise (the value then takes the full normalisation). Dispatched:
    string length functions are engine specific.
-#}
{% macro is_plain_ascii(column) -%}
    {{ return(adapter.dispatch('is_plain_ascii', 'segments_warehouse')(column)) }}
{%- endmacro %}

{% macro default__is_plain_ascii(column) -%}
    (
        octet_length({{ column }}) = char_length({{ column }})
        and ascii({{ column }}) > 32
        and ascii(substr({{ column }}, char_length({{ column }}), 1)) > 32
    )
{%- endmacro %}

{% macro duckdb__is_plain_ascii(column) -%}
    (
        strlen({{ column }}) = length({{ column }})
        and ascii({{ column }}) > 32
        and ascii(right({{ column }}, 1)) > 32
    )
{%- endmacro %}

{#- Trimmed text (see unicode_trim); an empty or blank string becomes null. -#}
{% macro clean_text(column) -%}
    nullif({{ normalised_text(column) }}, '')
{%- endmacro %}

{#-
    An identifier (customer_id, cookie, device, order, event or request id): compatibility
    normalised (nfkc_normalize), then trimmed; blank becomes null. Every model that compares
    identifiers (staging, erasure, the blocklist) goes through these macros.
-#}
{% macro clean_identifier(column) -%}
    nullif({{ normalised_text(column, compatibility=true) }}, '')
{%- endmacro %}

{#- Email: compatibility normalised, trimmed and lowercased; blank becomes null. -#}
{% macro normalize_email(column) -%}
    nullif(lower({{ normalised_text(column, compatibility=true) }}), '')
{%- endmacro %}

{#-
    Phone: compatibility normalised, letters mapped to their telephone keypad digit
    (ABC=2, DEF=3, GHI=4, JKL=5, MNO=6, PQRS=7, TUV=8, WXYZ=9: 1-800-FLOWERS is
    18003569377), then digits only; a value without digits becomes null. Whether the
    result can name one line is is_malformed_phone's job.
-#}
{% macro normalize_phone(column) -%}
    nullif(
        {{ remove_matches(
            "translate(upper(" ~ nfkc_normalize(column) ~ "), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '22233344455566677778889999')",
            '[^0-9]',
        ) }},
        ''
    )
{%- endmacro %}

{#- Every match of a regular expression (a pattern without backslashes) removed from a
    text. Dispatched: DuckDB replaces every match only with the 'g' option; Spark's fourth
    argument is a position, and it always replaces every match. -#}
{% macro remove_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('remove_matches', 'segments_warehouse')(expression, pattern)) }}
{%- endmacro %}

{% macro default__remove_matches(expression, pattern) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '', 'g')
{%- endmacro %}

{% macro spark__remove_matches(expression, pattern) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '')
{%- endmacro %}

{#-
    True when a normalised (digits only) phone has fewer than phone_min_digits or more than
    phone_max_digits digits: it cannot name one line, so its row is quarantined as
    malformed_phone and the value never links anyone.
-#}
{% macro is_malformed_phone(column) -%}
    (
        length({{ column }}) < {{ var('phone_min_digits') }}
        or length({{ column }}) > {{ var('phone_max_digits') }}
    )
{%- endmacro %}

{#- Enumeration value: trimmed and lowercased; blank becomes null. -#}
{% macro normalize_enum(column) -%}
    nullif(lower({{ normalised_text(column) }}), '')
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

{#- Spark: Java's find with anchors; the classes spell out RE2's \s ([\t\n\f\r ]). -#}
{% macro spark__is_valid_email(column) -%}
    ({{ column }} rlike '^[^@ \\t\\n\\f\\r]+@[^@ \\t\\n\\f\\r]+\\.[^@ \\t\\n\\f\\r.]+\\z')
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
        + {{ hours_interval(var('future_timestamp_tolerance_hours')) }}
{%- endmacro %}

{#- An interval of n hours (n: a SQL integer expression). Dispatched: the constructor is
    engine specific. -#}
{% macro hours_interval(hours) -%}
    {{ return(adapter.dispatch('hours_interval', 'segments_warehouse')(hours)) }}
{%- endmacro %}

{% macro default__hours_interval(hours) -%}
    to_hours({{ hours }})
{%- endmacro %}

{% macro spark__hours_interval(hours) -%}
    make_interval(0, 0, 0, 0, {{ hours }}, 0, 0)
{%- endmacro %}

{#- Every column of the current relation but the listed ones (select list). Dispatched:
    DuckDB writes * exclude (...), Spark * except (...). -#}
{% macro star_except(columns) -%}
    {{ return(adapter.dispatch('star_except', 'segments_warehouse')(columns)) }}
{%- endmacro %}

{% macro default__star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(columns) -%}
    * except ({{ columns | join(', ') }})
{%- endmacro %}

{#-
    One raw row as a JSON document, kept in quarantine so a rejected row can be inspected
    and replayed. Dispatched: DuckDB turns a whole row into a struct by table alias.
-#}
{% macro row_to_json(table_alias) -%}
    {{ return(adapter.dispatch('row_to_json', 'segments_warehouse')(table_alias)) }}
{%- endmacro %}

{#- Spark: the alias's columns as a struct; null fields are kept, as DuckDB keeps them. -#}
{% macro spark__row_to_json(table_alias) -%}
    to_json(struct({{ table_alias }}.*), map('ignoreNullFields', 'false'))
{%- endmacro %}

{% macro duckdb__row_to_json(table_alias) -%}
    to_json({{ table_alias }})
{%- endmacro %}

{#- expression [not] in a list of values; an empty list is false (true with negate) instead
    of `in ()`, which Spark rejects. -#}
{% macro in_values(expression, values, negate=false) -%}
    {%- if values | length == 0 -%}
        {{ 'true' if negate else 'false' }}
    {%- else -%}
        {{ expression }} {{ 'not ' if negate }}in (
            {%- for value in values -%}
                {{ sql_string(value) }}{{ ', ' if not loop.last }}
            {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}

{#- expression [not] in the values of a list var (in_values). -#}
{% macro in_var_list(expression, var_name, negate=false) -%}
    {{ in_values(expression, var(var_name), negate) }}
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
