{#-
    Hashes for activation (docs/activation.md). Dispatched: hash functions and the reading
    of hexadecimal digits as a number are engine specific.
-#}

{#- The lowercase hexadecimal SHA-256 of a text (null stays null): the match-key form ad
    platforms expect. -#}
{% macro sha256_hex(expression) -%}
    {{ return(adapter.dispatch('sha256_hex', 'segments_warehouse')(expression)) }}
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
    lower(sha256(cast({{ expression }} as string)))
{%- endmacro %}

{#- A number in [0, 1) from the first 13 hexadecimal digits (52 bits) of the SHA-256 of a
    text: uniform, deterministic, the same in every engine and in Python
    (int(sha256(text).hexdigest()[:13], 16) / 2 ** 52). -#}
{% macro unit_interval_hash(expression) -%}
    {{ return(adapter.dispatch('unit_interval_hash', 'segments_warehouse')(expression)) }}
{%- endmacro %}

{% macro default__unit_interval_hash(expression) -%}
    (cast(cast(('0x' || left(sha256(cast({{ expression }} as string)), 13)) as ubigint) as double)
        / 4503599627370496.0)
{%- endmacro %}

{#-
    A staged phone (digits only) in E.164 form, or null when its country is unknown. A
    number written internationally carries its country code: '00' then the code (the
    international prefix, dropped) or the code itself (a leading '+' is gone in staging).
    A number starting with a single 0 is national (a trunk prefix): without a country
    calling code it cannot be made E.164, so it has no phone match key. The result has
    phone_min_digits to phone_max_digits digits after the '+'.
-#}
{% macro e164_phone(phone) -%}
    case
        when {{ phone }} like '00%'
            and length({{ phone }}) - 2 between {{ var('phone_min_digits') }} and {{ var('phone_max_digits') }}
            and {{ phone }} not like '000%'
            then '+' || substr({{ phone }}, 3)
        when {{ phone }} not like '0%'
            and length({{ phone }}) between {{ var('phone_min_digits') }} and {{ var('phone_max_digits') }}
            then '+' || {{ phone }}
    end
{%- endmacro %}

{% macro spark__sha256_hex(expression) -%}
    sha2(cast({{ expression }} as string), 256)
{%- endmacro %}

{#- Spark: conv reads the hexadecimal digits (52 bits fit a bigint exactly). -#}
{% macro spark__unit_interval_hash(expression) -%}
    (cast(cast(conv(left(sha2(cast({{ expression }} as string), 256), 13), 16, 10) as bigint) as double)
        / 4503599627370496.0)
{%- endmacro %}
