{#- A stable surrogate key from an identifier type and value (md5 of "type:value"). -#}
{% macro identifier_key(type_column, value_column) -%}
    md5({{ type_column }} || ':' || {{ value_column }})
{%- endmacro %}
