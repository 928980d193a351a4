{#-
    The 1-based score of a value from the share of customers strictly worse than it:
    1 + the number of cut-offs (var rfm_score_cutoffs) at or below that share.
    Equal values share "strictly worse", so ties always get one score; a large tied block
    takes the band where its worst-placed member falls, and the bands it spans stay empty.
-#}
{% macro score_from_share(share_strictly_worse) -%}
    (1
    {%- for cutoff in var('rfm_score_cutoffs') %}
        + case when {{ share_strictly_worse }} >= {{ cutoff }} then 1 else 0 end
    {%- endfor %})
{%- endmacro %}

{#- Share of the window's rows strictly worse than this row, ordering worst first. -#}
{% macro share_strictly_worse(order_by) -%}
    (rank() over (order by {{ order_by }}) - 1) / count(*) over ()
{%- endmacro %}
