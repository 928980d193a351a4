{#-
    A stable surrogate key from an identifier type and value: md5 of "salt" + "type:value".

    The salt comes from the environment variable SEGMENTS_CUSTOMER_KEY_SALT (default: empty).
    Without a salt, a key made from an email is the md5 of a guessable string, so anyone with
    a list of candidate emails can reverse the keys that BI tools read: set a secret salt in
    production and keep it fixed (changing it changes every customer_key). The salt appears
    in the compiled SQL under target/, which should be treated like the warehouse itself.
-#}
{% macro identifier_key(type_column, value_column) -%}
    {%- set salt = env_var('SEGMENTS_CUSTOMER_KEY_SALT', '') -%}
    md5('{{ salt | replace("'", "''") }}' || {{ type_column }} || ':' || {{ value_column }})
{%- endmacro %}
