{#-
    R, F and M scores from percentile cut-offs (tie policy in docs/segments.md).

    A customer's position is the middle of their tied block, as a share of the scored
    customers: (customers strictly worse + customers tied / 2) / scored customers, where
    "customers tied" counts the customer too. score = 1 + the number of cut-offs (var
    rfm_score_cutoffs) at or below that position. Equal values share one position, so they
    always get one score; without ties this is exact quantiles; one customer, or customers
    all tied, sit at 0.5 and get the middle score. The comparison is done in integers and
    exact decimals (2 * worse + tied >= 2 * customers * cut-off), so no float rounding moves
    a customer across a cut-off.
-#}

{#- The cut-offs, validated: exactly four strictly ascending numbers in (0, 1). -#}
{% macro rfm_score_cutoffs() -%}
    {%- set cutoffs = var('rfm_score_cutoffs') -%}
    {%- set problem = namespace(message=none) -%}
    {%- if cutoffs is string or cutoffs is mapping or cutoffs is not iterable -%}
        {%- set problem.message = 'it is not a list' -%}
    {%- elif cutoffs | length != 4 -%}
        {%- set problem.message = 'it has ' ~ (cutoffs | length) ~ ' values, not 4 (five scores need four cut-offs)' -%}
    {%- else -%}
        {%- for cutoff in cutoffs -%}
            {%- if problem.message is none -%}
                {%- if cutoff is not number or cutoff is sameas true or cutoff is sameas false -%}
                    {%- set problem.message = 'value ' ~ cutoff ~ ' is not a number' -%}
                {%- elif cutoff <= 0 or cutoff >= 1 -%}
                    {%- set problem.message = 'value ' ~ cutoff ~ ' is not strictly between 0 and 1' -%}
                {%- elif not loop.first and cutoff <= cutoffs[loop.index0 - 1] -%}
                    {%- set problem.message = 'values are not strictly ascending (' ~ cutoffs[loop.index0 - 1] ~ ' then ' ~ cutoff ~ ')' -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if problem.message is not none -%}
        {{ exceptions.raise_compiler_error(
            'var rfm_score_cutoffs = ' ~ cutoffs ~ ' is invalid: ' ~ problem.message
            ~ '. It needs exactly 4 strictly ascending shares in (0, 1), e.g. [0.2, 0.4, 0.6, 0.8].'
        ) }}
    {%- endif -%}
    {{ return(cutoffs) }}
{%- endmacro %}

{#- Customers of the same as-of date strictly worse than this row on a measure. -#}
{% macro customers_strictly_worse(column, higher_is_better=true) -%}
    (rank() over (
        partition by as_of_date
        order by {{ column }} {{ 'asc' if higher_is_better else 'desc' }}
    ) - 1)
{%- endmacro %}

{#- Customers of the same as-of date with the same value on a measure (the row included). -#}
{% macro customers_tied(column) -%}
    count(*) over (partition by as_of_date, {{ column }})
{%- endmacro %}

{#- The 1-based score of a tied block from its middle position (see the header). -#}
{% macro score_from_position(customers_worse, customers_tied, customers) -%}
    (1
    {%- for cutoff in rfm_score_cutoffs() %}
        + case
            when 2 * {{ customers_worse }} + {{ customers_tied }}
                >= 2 * {{ customers }} * {{ cutoff }}
                then 1
            else 0
        end
    {%- endfor %})
{%- endmacro %}
